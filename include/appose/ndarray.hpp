#pragma once

/// \file
/// N-dimensional arrays over shared memory: the block travels by name, only dtype and shape
/// cross the pipe.

#include <algorithm>
#include <complex>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "appose/error.hpp"
#include "appose/export.hpp"
#include "appose/shared_memory.hpp"

namespace appose {

/// Element types, spelled as NumPy spells them on the wire.
enum class DType : std::uint8_t {
  int8,
  int16,
  int32,
  int64,
  uint8,
  uint16,
  uint32,
  uint64,
  float16,  ///< IEEE 754 binary16; elements are Float16Bits (C++20 has no half type).
  float32,
  float64,
  complex64,
  complex128,
  bool_,  ///< NumPy's `bool`, one byte per element.
};

/// Bytes per element of `dtype`.
APPOSE_EXPORT std::size_t dtype_size(DType dtype) noexcept;
/// The wire name of `dtype` (`"float32"`, `"bool"`, ...).
APPOSE_EXPORT std::string_view dtype_name(DType dtype) noexcept;
/// Parses a wire name; std::nullopt for names appose does not know (e.g. `float128`).
APPOSE_EXPORT std::optional<DType> parse_dtype(std::string_view name) noexcept;

/// One float16 element as stored: the 16 bits of an IEEE 754 binary16 number, native-endian.
/// C++20 has no half-precision type (std::float16_t is C++23), so span<Float16Bits>() gives the
/// bits to pass to a half library or a GPU API; `Float16Bits{0x3C00}` is 1.0 and
/// `static_cast<std::uint16_t>(x)` reads the bits. A distinct type, so that span<std::uint16_t>()
/// cannot mistake a float16 array for integers.
enum class Float16Bits : std::uint16_t {};

/// The exact value of a float16 element (every binary16 number is a float).
APPOSE_EXPORT float to_float(Float16Bits half) noexcept;

/// The C++ element type for a DType, for span<T>() checks.
template <typename T>
constexpr std::optional<DType> dtype_of() noexcept {
  if constexpr (std::is_same_v<T, std::int8_t>)
    return DType::int8;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return DType::int16;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::int32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::int64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::uint8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return DType::uint16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return DType::uint32;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return DType::uint64;
  else if constexpr (std::is_same_v<T, Float16Bits>)
    return DType::float16;
  else if constexpr (std::is_same_v<T, float>)
    return DType::float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::float64;
  else if constexpr (std::is_same_v<T, std::complex<float>>)
    return DType::complex64;
  else if constexpr (std::is_same_v<T, std::complex<double>>)
    return DType::complex128;
  else if constexpr (std::is_same_v<T, bool>)
    return DType::bool_;
  else
    return std::nullopt;
}

/// Axis order of a Shape.
enum class Order : std::uint8_t {
  c,  ///< Row-major: last index varies fastest (NumPy's default, and the wire's order).
  f,  ///< Column-major: first index varies fastest (ImgLib2's convention).
};

/// Dimensions of an array, remembering the order in which the caller listed them.
/// The wire always carries C order; an F-order shape is reversed when it is written, so
/// `Shape::f_order({512, 512, 7})` (x, y, z) travels as `[7, 512, 512]`. The bytes are the same
/// either way.
class APPOSE_EXPORT Shape {
 public:
  /// Rank 0: a single element.
  Shape() = default;
  /// C-order dimensions of any integral types: `Shape{h, w}` with `int h, w` works (a
  /// `std::initializer_list<std::uint64_t>` would be a narrowing error). Throws appose::Error
  /// for a negative dimension.
  template <std::integral... Dims>
  requires(sizeof...(Dims) > 0 && (!std::same_as<Dims, bool> && ...))
      Shape(Dims... dims)  // NOLINT(google-explicit-constructor): `NDArray(dtype, {h, w})`
      : dims_{checked_dim(dims)...} {}
  /// Dimensions in the given order.
  explicit Shape(std::vector<std::uint64_t> dims, Order order = Order::c)
      : dims_(std::move(dims)), order_(order) {}
  /// F-order dimensions (first index fastest).
  static Shape f_order(std::vector<std::uint64_t> dims) { return Shape(std::move(dims), Order::f); }

  /// The order in which dims() lists the dimensions.
  [[nodiscard]] Order order() const noexcept { return order_; }
  /// The dimensions as given, in order().
  [[nodiscard]] const std::vector<std::uint64_t>& dims() const noexcept { return dims_; }
  /// Number of dimensions.
  [[nodiscard]] std::size_t rank() const noexcept { return dims_.size(); }
  /// Dimension `i` of dims(); throws std::out_of_range past rank().
  [[nodiscard]] std::uint64_t operator[](std::size_t i) const { return dims_.at(i); }
  /// Number of elements (1 for rank 0). Throws appose::Error on overflow.
  [[nodiscard]] std::uint64_t num_elements() const;
  /// The same shape in the requested order.
  [[nodiscard]] Shape to(Order order) const;
  /// The dimensions in C order, as they travel on the wire.
  [[nodiscard]] std::vector<std::uint64_t> c_dims() const { return to(Order::c).dims_; }

  /// Equal when they describe the same layout (the same C-order dimensions).
  friend bool operator==(const Shape& a, const Shape& b) { return a.c_dims() == b.c_dims(); }

 private:
  template <std::integral D>
  static std::uint64_t checked_dim(D d) {
    if constexpr (std::is_signed_v<D>) {
      if (d < 0) negative_dim(static_cast<std::int64_t>(d));
    }
    return static_cast<std::uint64_t>(d);
  }
  [[noreturn]] static void negative_dim(std::int64_t d);

  std::vector<std::uint64_t> dims_;
  Order order_ = Order::c;
};

namespace detail {
struct NDArrayImpl;
}

/// An array of `dtype` elements laid out in `shape` inside a SharedMemory block.
/// Copies share the array; the block lives as long as any copy (and any Value holding one).
class APPOSE_EXPORT NDArray {
 public:
  /// An empty handle.
  NDArray() = default;
  /// Allocates a new block just big enough (at least one byte, so empty arrays work too).
  NDArray(DType dtype, Shape shape);
  /// Views an existing block, from shm.offset() when the handle carries a region
  /// (SharedMemory::with_region). Throws appose::Error if the region (or the block) is smaller
  /// than the array.
  NDArray(DType dtype, Shape shape, SharedMemory shm);

  /// The element type.
  [[nodiscard]] DType dtype() const;
  /// The shape in the order it was given (or C order for arrays that came over the wire).
  [[nodiscard]] const Shape& shape() const;
  /// The block holding the elements (its name, rsize(), region and lifetime rules). The
  /// elements start at shm().offset().
  [[nodiscard]] const SharedMemory& shm() const;
  /// Number of elements.
  [[nodiscard]] std::uint64_t size() const;
  /// Number of bytes the elements occupy (size() * dtype_size(dtype())).
  [[nodiscard]] std::size_t byte_size() const;
  /// The elements' bytes: exactly byte_size() of them from shm().offset(), though the block
  /// may be larger.
  [[nodiscard]] std::span<std::byte> bytes() const;

  /// The elements as T; throws appose::TypeError unless T matches dtype(), and appose::Error
  /// when a region's offset leaves the elements misaligned for T (bytes() still works then).
  template <typename T>
  [[nodiscard]] std::span<T> span() const {
    static_assert(dtype_of<T>().has_value(), "span<T>: T is not an element type appose knows");
    check_element_type(*dtype_of<T>());
    auto b = bytes();
    check_alignment(b.data(), alignof(T));
    return {reinterpret_cast<T*>(b.data()), b.size() / sizeof(T)};
  }

  /// Copies the elements of `source` (a std::vector, std::array, std::span... of T) into the
  /// array, in its memory order: for when the data already sits in a buffer of the caller's.
  /// Throws appose::TypeError unless T matches dtype(), appose::Error unless the source holds
  /// exactly size() elements.
  template <std::ranges::contiguous_range R>
  void copy_from(const R& source) const {
    using T = std::remove_cv_t<std::ranges::range_value_t<R>>;
    auto to = span<T>();
    check_copy_size(std::ranges::size(source), "copy_from", "source");
    std::copy_n(std::ranges::data(source), to.size(), to.data());
  }
  /// Copies the array's elements into `destination` (a std::vector, std::span... of T, of
  /// exactly size() elements). Throws as copy_from().
  template <std::ranges::contiguous_range R>
  void copy_to(R&& destination) const {
    using T = std::remove_cv_t<std::ranges::range_value_t<R>>;
    auto from = span<T>();
    check_copy_size(std::ranges::size(destination), "copy_to", "destination");
    std::copy_n(from.data(), from.size(), std::ranges::data(destination));
  }

  /// True when the handle refers to an array.
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  /// Equal when both views have the same dtype and shape over the same block.
  friend APPOSE_EXPORT bool operator==(const NDArray& a, const NDArray& b);

 private:
  void check_element_type(DType requested) const;
  void check_alignment(const std::byte* data, std::size_t alignment) const;
  void check_copy_size(std::size_t count, const char* function, const char* what) const;
  std::shared_ptr<detail::NDArrayImpl> impl_;
};

}  // namespace appose
