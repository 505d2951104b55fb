#include "appose/ndarray.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <utility>

namespace appose {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

// Indexed by the enum's value.
constexpr std::array<DTypeInfo, 14> dtype_table = {{
    {DType::int8, "int8", 1},
    {DType::int16, "int16", 2},
    {DType::int32, "int32", 4},
    {DType::int64, "int64", 8},
    {DType::uint8, "uint8", 1},
    {DType::uint16, "uint16", 2},
    {DType::uint32, "uint32", 4},
    {DType::uint64, "uint64", 8},
    {DType::float16, "float16", 2},
    {DType::float32, "float32", 4},
    {DType::float64, "float64", 8},
    {DType::complex64, "complex64", 8},
    {DType::complex128, "complex128", 16},
    {DType::bool_, "bool", 1},
}};

constexpr bool table_matches_enum() {
  for (std::size_t i = 0; i < dtype_table.size(); ++i) {
    if (static_cast<std::size_t>(dtype_table[i].dtype) != i) return false;
  }
  return true;
}
static_assert(table_matches_enum(), "dtype_table must follow the order of enum DType");

const DTypeInfo* find_info(DType dtype) noexcept {
  const auto i = static_cast<std::size_t>(dtype);
  return i < dtype_table.size() ? &dtype_table[i] : nullptr;
}

std::string describe(const Shape& shape) {
  return fmt::format("[{}]{}", fmt::join(shape.dims(), ", "),
                     shape.order() == Order::f ? " (F order)" : "");
}

std::size_t byte_size_of(DType dtype, const Shape& shape) {
  const DTypeInfo* info = find_info(dtype);
  if (info == nullptr) {
    throw Error(fmt::format("unknown DType value {}", static_cast<unsigned>(dtype)));
  }
  const std::uint64_t n = shape.num_elements();
  if (n > std::numeric_limits<std::size_t>::max() / info->size) {
    throw Error(fmt::format("a {} array of shape {} has more bytes than fit in memory", info->name,
                            describe(shape)));
  }
  return static_cast<std::size_t>(n) * info->size;
}

}  // namespace

namespace detail {

struct NDArrayImpl {
  DType dtype;
  Shape shape;
  SharedMemory shm;
  std::size_t byte_size;
};

}  // namespace detail

std::size_t dtype_size(DType dtype) noexcept {
  const DTypeInfo* info = find_info(dtype);
  return info != nullptr ? info->size : 0;
}

std::string_view dtype_name(DType dtype) noexcept {
  const DTypeInfo* info = find_info(dtype);
  return info != nullptr ? info->name : std::string_view();
}

std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (const auto& info : dtype_table) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

std::uint64_t Shape::num_elements() const {
  // A zero anywhere makes the array empty, however large the other dimensions are.
  if (std::find(dims_.begin(), dims_.end(), std::uint64_t{0}) != dims_.end()) return 0;
  std::uint64_t n = 1;
  for (std::uint64_t d : dims_) {
    if (n > std::numeric_limits<std::uint64_t>::max() / d) {
      throw Error(fmt::format("shape {} has more than 2^64 elements", describe(*this)));
    }
    n *= d;
  }
  return n;
}

void Shape::negative_dim(std::int64_t d) {
  throw Error(fmt::format("Shape: dimension {} is negative; dimensions count elements", d));
}

Shape Shape::to(Order order) const {
  if (order == order_) return *this;
  return Shape(std::vector<std::uint64_t>(dims_.rbegin(), dims_.rend()), order);
}

NDArray::NDArray(DType dtype, Shape shape) {
  const std::size_t bytes = byte_size_of(dtype, shape);
  // The OS refuses blocks of 0 bytes; an empty array still needs a block to travel by name.
  auto shm = SharedMemory::create(std::max<std::size_t>(bytes, 1));
  impl_ = std::make_shared<detail::NDArrayImpl>(
      detail::NDArrayImpl{dtype, std::move(shape), std::move(shm), bytes});
}

NDArray::NDArray(DType dtype, Shape shape, SharedMemory shm) {
  const std::size_t bytes = byte_size_of(dtype, shape);
  if (!shm) {
    throw Error(
        fmt::format("a {} array of shape {} needs a shared memory block, not an empty "
                    "SharedMemory handle",
                    dtype_name(dtype), describe(shape)));
  }
  if (shm.closed()) {
    throw Error(fmt::format("shared memory block '{}' is closed", shm.name()));
  }
  if (shm.length() < bytes) {
    const std::string where =
        shm.region() == ShmRegion{}
            ? fmt::format("shared memory block '{}' holds {} bytes", shm.name(), shm.rsize())
            : fmt::format("the region of shared memory block '{}' at offset {} holds {} bytes",
                          shm.name(), shm.offset(), shm.length());
    throw Error(fmt::format("{}, but a {} array of shape {} needs {} bytes", where,
                            dtype_name(dtype), describe(shape), bytes));
  }
  impl_ = std::make_shared<detail::NDArrayImpl>(
      detail::NDArrayImpl{dtype, std::move(shape), std::move(shm), bytes});
}

namespace {
[[noreturn]] void throw_empty_ndarray() {
  throw Error("empty NDArray handle (default-constructed): it refers to no array");
}
}  // namespace

DType NDArray::dtype() const {
  if (!impl_) throw_empty_ndarray();
  return impl_->dtype;
}

const Shape& NDArray::shape() const {
  if (!impl_) throw_empty_ndarray();
  return impl_->shape;
}

const SharedMemory& NDArray::shm() const {
  if (!impl_) throw_empty_ndarray();
  return impl_->shm;
}

std::uint64_t NDArray::size() const {
  return shape().num_elements();
}

std::size_t NDArray::byte_size() const {
  if (!impl_) throw_empty_ndarray();
  return impl_->byte_size;
}

std::span<std::byte> NDArray::bytes() const {
  if (!impl_) throw_empty_ndarray();
  return impl_->shm.region_bytes().first(impl_->byte_size);
}

void NDArray::check_element_type(DType requested) const {
  if (dtype() != requested) {
    throw TypeError(
        fmt::format("NDArray holds {} elements, not {}: span<T>() needs T to match "
                    "the array's dtype",
                    dtype_name(dtype()), dtype_name(requested)));
  }
}

void NDArray::check_alignment(const std::byte* data, std::size_t alignment) const {
  if (reinterpret_cast<std::uintptr_t>(data) % alignment != 0) {
    throw Error(
        fmt::format("the {} elements of this NDArray start at offset {} of block '{}', "
                    "which is not a multiple of {}: span<T>() cannot view them; copy "
                    "them out through bytes() instead",
                    dtype_name(dtype()), impl_->shm.offset(), impl_->shm.name(), alignment));
  }
}

void NDArray::check_copy_size(std::size_t count, const char* function, const char* what) const {
  if (count != size()) {
    throw Error(fmt::format(
        "NDArray::{}(): the {} holds {} elements but the array has {} (shape {}); pass a "
        "buffer of exactly size() elements",
        function, what, count, size(), describe(shape())));
  }
}

bool operator==(const NDArray& a, const NDArray& b) {
  if (a.impl_ == b.impl_) return true;
  if (!a.impl_ || !b.impl_) return false;
  return a.impl_->dtype == b.impl_->dtype && a.impl_->shape == b.impl_->shape &&
         a.impl_->shm.name() == b.impl_->shm.name() &&
         a.impl_->shm.offset() == b.impl_->shm.offset();
}

float to_float(Float16Bits half) noexcept {
  const auto h = static_cast<std::uint32_t>(half);
  const std::uint32_t sign = (h & 0x8000U) << 16U;
  const std::uint32_t exponent = (h >> 10U) & 0x1FU;
  std::uint32_t mantissa = h & 0x3FFU;
  std::uint32_t bits = 0;
  if (exponent == 0x1FU) {
    bits = sign | 0x7F800000U | (mantissa << 13U);  // infinity, or NaN keeping its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112U) << 23U) | (mantissa << 13U);  // rebias 15 -> 127
  } else if (mantissa != 0) {
    // Subnormal half: normalise; each shift lowers the float exponent by one.
    std::uint32_t e = 113U;
    while ((mantissa & 0x400U) == 0) {
      mantissa <<= 1U;
      --e;
    }
    bits = sign | (e << 23U) | ((mantissa & 0x3FFU) << 13U);
  } else {
    bits = sign;  // signed zero
  }
  return std::bit_cast<float>(bits);
}

}  // namespace appose
