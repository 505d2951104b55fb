// NDArray, Shape and the dtype table (docs/shared_memory.md).

#include "appose/ndarray.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "appose/error.hpp"
#include "appose/shared_memory.hpp"
#include "support/test_support.hpp"

namespace {

using appose::DType;
using appose::Error;
using appose::NDArray;
using appose::Order;
using appose::Shape;
using appose::SharedMemory;
using ::testing::HasSubstr;

using appose::test::shm_block_exists;

struct DTypeCase {
  DType dtype;
  const char* name;
  std::size_t size;
};

const std::vector<DTypeCase> all_dtypes = {
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
};

TEST(DType, SizesNamesAndParsingRoundTrip) {
  for (const auto& c : all_dtypes) {
    EXPECT_EQ(appose::dtype_size(c.dtype), c.size) << c.name;
    EXPECT_EQ(appose::dtype_name(c.dtype), c.name);
    EXPECT_EQ(appose::parse_dtype(c.name), c.dtype) << c.name;
  }
}

template <typename T>
void expect_element_type(DType dtype) {
  EXPECT_EQ(appose::dtype_of<T>(), dtype) << appose::dtype_name(dtype);
  EXPECT_EQ(sizeof(T), appose::dtype_size(dtype)) << appose::dtype_name(dtype);
}

TEST(DType, ElementTypesMatchSizes) {
  expect_element_type<std::int8_t>(DType::int8);
  expect_element_type<std::int16_t>(DType::int16);
  expect_element_type<std::int32_t>(DType::int32);
  expect_element_type<std::int64_t>(DType::int64);
  expect_element_type<std::uint8_t>(DType::uint8);
  expect_element_type<std::uint16_t>(DType::uint16);
  expect_element_type<std::uint32_t>(DType::uint32);
  expect_element_type<std::uint64_t>(DType::uint64);
  expect_element_type<appose::Float16Bits>(DType::float16);
  expect_element_type<float>(DType::float32);
  expect_element_type<double>(DType::float64);
  expect_element_type<std::complex<float>>(DType::complex64);
  expect_element_type<std::complex<double>>(DType::complex128);
  expect_element_type<bool>(DType::bool_);
  EXPECT_EQ(appose::dtype_of<char>(), std::nullopt);
}

TEST(DType, UnknownNamesAreNullopt) {
  for (const char* name : {"float128", "", "Float32", "bool_", "int", "complex256", "float32 "}) {
    EXPECT_EQ(appose::parse_dtype(name), std::nullopt) << name;
  }
}

TEST(Shape, COrder) {
  const Shape shape{2, 3, 4};
  EXPECT_EQ(shape.order(), Order::c);
  EXPECT_EQ(shape.rank(), 3u);
  EXPECT_EQ(shape[2], 4u);
  EXPECT_EQ(shape.num_elements(), 24u);
  EXPECT_EQ(shape.c_dims(), (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST(Shape, FOrderTravelsReversed) {
  const auto shape = Shape::f_order({512, 256, 7});
  EXPECT_EQ(shape.order(), Order::f);
  EXPECT_EQ(shape.dims(), (std::vector<std::uint64_t>{512, 256, 7}));
  EXPECT_EQ(shape.c_dims(), (std::vector<std::uint64_t>{7, 256, 512}));
  EXPECT_EQ(shape.num_elements(), 512u * 256u * 7u);

  const Shape c = shape.to(Order::c);
  EXPECT_EQ(c.order(), Order::c);
  EXPECT_EQ(c.dims(), (std::vector<std::uint64_t>{7, 256, 512}));
  EXPECT_EQ(c.to(Order::f).dims(), shape.dims());
  EXPECT_EQ(shape.to(Order::f).dims(), shape.dims());
  EXPECT_EQ(shape, (Shape{7, 256, 512})) << "equal layouts compare equal";
  EXPECT_NE(shape, (Shape{512, 256, 7}));
}

TEST(Shape, RankZeroHasOneElement) {
  EXPECT_EQ(Shape{}.num_elements(), 1u);
  EXPECT_EQ(Shape{}.c_dims(), std::vector<std::uint64_t>{});
}

TEST(Shape, ElementCountOverflowIsAnError) {
  const std::uint64_t big = std::uint64_t{1} << 32;
  EXPECT_EQ((Shape{big, big / 2}.num_elements()), std::uint64_t{1} << 63);
  try {
    (void)Shape{big, big}.num_elements();
    FAIL() << "2^64 elements did not overflow";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[4294967296, 4294967296]"));
  }
  EXPECT_THROW((void)Shape::f_order({big, big, 2}).num_elements(), Error);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ((Shape{max, max, 0}.num_elements()), 0u) << "a zero dimension makes any shape empty";
}

TEST(NDArray, CreatesBlockOfExactlyTheBytesNeeded) {
  const NDArray array(DType::float32, {2, 3});
  EXPECT_EQ(array.dtype(), DType::float32);
  EXPECT_EQ(array.size(), 6u);
  EXPECT_EQ(array.byte_size(), 24u);
  EXPECT_EQ(array.bytes().size(), 24u);
  EXPECT_EQ(array.shm().rsize(), 24u);
  EXPECT_TRUE(array.shm().created());
  EXPECT_EQ(array.span<float>().size(), 6u);
}

TEST(NDArray, SecondViewOverAttachedBlockSeesTheData) {
  const NDArray array(DType::int32, {2, 3});
  auto values = array.span<std::int32_t>();
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = -static_cast<std::int32_t>(i);

  const NDArray other(DType::int32, {2, 3},
                      SharedMemory::attach(array.shm().name(), array.shm().rsize()));
  EXPECT_EQ(other.span<std::int32_t>()[5], -5);
  other.span<std::int32_t>()[0] = 99;
  EXPECT_EQ(values[0], 99);
}

TEST(NDArray, ComplexAndBoolElements) {
  const NDArray c(DType::complex128, {3});
  c.span<std::complex<double>>()[1] = {1.5, -2.5};
  EXPECT_EQ(c.byte_size(), 48u);
  EXPECT_EQ(reinterpret_cast<const double*>(c.bytes().data())[3], -2.5);

  const NDArray b(DType::bool_, {4});
  b.span<bool>()[2] = true;
  EXPECT_EQ(b.bytes()[2], std::byte{1});
  EXPECT_EQ(b.bytes()[1], std::byte{0});
}

TEST(NDArray, SpanOfTheWrongTypeIsATypeError) {
  const NDArray array(DType::float32, {4});
  try {
    (void)array.span<double>();
    FAIL() << "span<double> of a float32 array succeeded";
  } catch (const appose::TypeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("float32"));
    EXPECT_THAT(e.what(), HasSubstr("float64"));
  }
  const NDArray unsigned_array(DType::uint32, {4});
  EXPECT_THROW((void)unsigned_array.span<std::int32_t>(), appose::TypeError);
  EXPECT_NO_THROW((void)unsigned_array.span<std::uint32_t>());
}

TEST(NDArray, EmptyArrayGetsOneByteBlock) {
  const NDArray array(DType::float64, {0, 3});
  EXPECT_EQ(array.size(), 0u);
  EXPECT_EQ(array.byte_size(), 0u);
  EXPECT_EQ(array.bytes().size(), 0u);
  EXPECT_TRUE(array.span<double>().empty());
  EXPECT_EQ(array.shm().rsize(), 1u);
  EXPECT_EQ(array.shape().c_dims(), (std::vector<std::uint64_t>{0, 3}));
}

TEST(NDArray, RankZeroHoldsOneElement) {
  const NDArray array(DType::int64, Shape{});
  EXPECT_EQ(array.size(), 1u);
  EXPECT_EQ(array.byte_size(), 8u);
}

TEST(NDArray, FOrderShapeIsKeptAsGiven) {
  const NDArray array(DType::uint16, Shape::f_order({4, 3}));
  EXPECT_EQ(array.shape().order(), Order::f);
  EXPECT_EQ(array.shape().dims(), (std::vector<std::uint64_t>{4, 3}));
  EXPECT_EQ(array.shape().c_dims(), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(array.byte_size(), 24u);
}

TEST(NDArray, BlockSmallerThanArrayIsAnError) {
  auto shm = SharedMemory::create(10);
  try {
    (void)NDArray(DType::float32, {2, 3}, shm);
    FAIL() << "a 24-byte array over a 10-byte block was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'" + shm.name() + "'"));
    EXPECT_THAT(e.what(), HasSubstr("holds 10 bytes"));
    EXPECT_THAT(e.what(), HasSubstr("needs 24 bytes"));
  }
  // An attached block is judged by the size its creator requested.
  auto small_view = SharedMemory::attach(shm.name(), 8);
  EXPECT_THROW((void)NDArray(DType::uint8, {9}, small_view), Error);
  EXPECT_NO_THROW((void)NDArray(DType::uint8, {8}, small_view));
}

TEST(NDArray, LargerBlockExposesOnlyTheArraysBytes) {
  auto shm = SharedMemory::create(100);
  const NDArray array(DType::int16, {5}, shm);
  EXPECT_EQ(array.bytes().size(), 10u);
  EXPECT_EQ(array.span<std::int16_t>().size(), 5u);
  EXPECT_EQ(array.shm(), shm);
}

TEST(NDArray, EmptyOrClosedBlockIsAnError) {
  EXPECT_THROW((void)NDArray(DType::uint8, {1}, SharedMemory()), Error);
  auto shm = SharedMemory::create(8);
  shm.close();
  EXPECT_THROW((void)NDArray(DType::uint8, {1}, shm), Error);
}

TEST(NDArray, ByteCountOverflowIsAnErrorAndCreatesNoBlock) {
  // 2^61 elements fit in 64 bits; 2^64 bytes of float64 do not.
  EXPECT_THROW((void)NDArray(DType::float64, {std::uint64_t{1} << 61}), Error);
  EXPECT_THROW((void)NDArray(DType::uint8, {std::uint64_t{1} << 32, std::uint64_t{1} << 32}),
               Error);
}

TEST(NDArray, Equality) {
  const NDArray a(DType::uint8, {3, 4});
  const NDArray copy = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(a, copy);
  EXPECT_EQ(a, NDArray(DType::uint8, {3, 4}, a.shm()));
  EXPECT_EQ(a, NDArray(DType::uint8, Shape::f_order({4, 3}), a.shm())) << "same layout";
  EXPECT_NE(a, NDArray(DType::int8, {3, 4}, a.shm()));
  EXPECT_NE(a, NDArray(DType::uint8, {4, 3}, a.shm()));
  EXPECT_NE(a, NDArray(DType::uint8, {3, 4}));
  EXPECT_NE(a, NDArray());
  EXPECT_EQ(NDArray(), NDArray());
}

TEST(NDArray, EmptyHandleThrows) {
  const NDArray empty;
  EXPECT_FALSE(empty);
  EXPECT_THROW((void)empty.dtype(), Error);
  EXPECT_THROW((void)empty.bytes(), Error);
  EXPECT_THROW((void)empty.span<float>(), Error);
}

TEST(NDArray, BlockLivesAsLongAsTheArray) {
  std::string name;
  {
    const NDArray array(DType::float64, {8});
    name = array.shm().name();
    EXPECT_TRUE(shm_block_exists(name));
  }
  EXPECT_FALSE(shm_block_exists(name));
}

// --- Arrays beyond 2 GiB (appose-java stops there) ---------------------------------------------

std::uint64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

TEST(NDArray, ThreeGibibyteArray) {
  constexpr std::uint64_t gib = std::uint64_t{1} << 30;
  constexpr std::uint64_t size = 3 * gib;
  struct statvfs st {};
  const std::uint64_t shm_free =
      ::statvfs("/dev/shm", &st) == 0 ? std::uint64_t{st.f_bavail} * st.f_frsize : 0;
  const std::uint64_t available = mem_available_bytes();
  if (shm_free < size + gib / 4 || available < size + gib) {
    GTEST_SKIP() << "*** SKIPPED: a 3 GiB array needs 3.25 GiB free in /dev/shm (" << shm_free
                 << " bytes) and 4 GiB of available memory (" << available << " bytes) ***";
  }
  const NDArray array(DType::uint8, {3, gib});
  EXPECT_EQ(array.byte_size(), size);
  EXPECT_EQ(array.shm().size(), size);
  auto values = array.span<std::uint8_t>();
  ASSERT_EQ(values.size(), size);
  values.front() = 17;
  values.back() = 71;

  const NDArray view(DType::uint8, {3, gib}, SharedMemory::attach(array.shm().name(), size));
  EXPECT_EQ(view.span<std::uint8_t>().front(), 17);
  EXPECT_EQ(view.span<std::uint8_t>()[size - 1], 71);
}

TEST(NDArray, Float16ElementsAreTheirBits) {
  using appose::Float16Bits;
  const NDArray h(DType::float16, {7});
  EXPECT_EQ(h.byte_size(), 14U);
  auto v = h.span<Float16Bits>();
  const std::uint16_t bits[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000, 0x3555};
  for (std::size_t i = 0; i < 7; ++i)
    v[i] = Float16Bits{bits[i]};
  EXPECT_EQ(appose::to_float(v[0]), 1.0F);
  EXPECT_EQ(appose::to_float(v[1]), -2.0F);
  EXPECT_EQ(appose::to_float(v[2]), 65504.0F);
  EXPECT_EQ(appose::to_float(v[3]), std::ldexp(1.0F, -24)) << "smallest subnormal";
  EXPECT_EQ(appose::to_float(Float16Bits{0x0200}), std::ldexp(1.0F, -15)) << "a subnormal";
  EXPECT_TRUE(std::isinf(appose::to_float(v[4])));
  EXPECT_TRUE(std::signbit(appose::to_float(v[5])));
  EXPECT_EQ(appose::to_float(v[6]), 0.333251953125F);
  EXPECT_TRUE(std::isnan(appose::to_float(Float16Bits{0x7E00})));
  EXPECT_THROW((void)h.span<std::uint16_t>(), appose::TypeError)
      << "float16 bits are not uint16 integers";
}

TEST(NDArray, OverARegionOfABlock) {
  auto block = SharedMemory::create(32);
  for (std::size_t i = 0; i < 32; ++i)
    block.bytes()[i] = static_cast<std::byte>(i);
  const NDArray a(DType::int32, {2}, block.with_region({8, 8, std::nullopt}));
  EXPECT_EQ(a.bytes().data(), block.bytes().data() + 8);
  EXPECT_EQ(a.span<std::int32_t>()[0], 0x0B0A0908);
  // Another region of the same block is another array.
  const NDArray b(DType::int32, {2}, block.with_region({16, std::nullopt, std::nullopt}));
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a == NDArray(DType::int32, {2}, block.with_region({8, 8, std::nullopt})));
  EXPECT_THAT(
      [&] {
        try {
          (void)NDArray(DType::int32, {3}, block.with_region({8, 8, std::nullopt}));
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr("at offset 8 holds 8 bytes"));
  EXPECT_THROW((void)block.with_region({33, std::nullopt, std::nullopt}), Error);
  EXPECT_THROW((void)block.with_region({16, 17, std::nullopt}), Error);
  // The region's handle keeps the block alive like any other.
  const std::string name = block.name();
  block = SharedMemory();
  EXPECT_EQ(a.shm().name(), name);
  EXPECT_EQ(a.span<std::int32_t>()[1], 0x0F0E0D0C);
}

TEST(Shape, AcceptsAnyIntegralDimensions) {
  // `Shape{h, w}` with int variables was a narrowing error (an initializer_list<uint64_t>).
  int h = 480, w = 640;
  const Shape from_ints{h, w};
  EXPECT_EQ(from_ints.c_dims(), (std::vector<std::uint64_t>{480, 640}));
  std::size_t n = 3;
  short s = 2;
  long long big = 1LL << 40;
  EXPECT_EQ((Shape{n, s, big}.c_dims()), (std::vector<std::uint64_t>{3, 2, 1ULL << 40}));
  NDArray image(DType::uint8, {h, w});
  EXPECT_EQ(image.size(), 480u * 640u);
  int negative = -1;
  try {
    Shape bad{h, negative};
    FAIL() << "a negative dimension was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("-1"));
    EXPECT_THAT(e.what(), HasSubstr("negative"));
  }
}

TEST(NDArray, CopyFromAndToExistingBuffers) {
  NDArray a(DType::float32, {2, 3});
  const std::vector<float> in{1, 2, 3, 4, 5, 6};
  a.copy_from(in);
  EXPECT_EQ(a.span<float>()[5], 6.0f);
  std::vector<float> out(6);
  a.copy_to(out);
  EXPECT_EQ(out, in);
  std::array<float, 6> fixed{};
  a.copy_to(std::span<float>(fixed));
  EXPECT_EQ(fixed[0], 1.0f);
  a.copy_from(std::span<const float>(in.data(), in.size()));
  // Sizes must match exactly; types must match the dtype.
  std::vector<float> short_buffer(5);
  try {
    a.copy_to(short_buffer);
    FAIL() << "a 5-element destination was accepted for 6 elements";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds 5 elements but the array has 6"));
  }
  EXPECT_THROW(a.copy_from(std::vector<float>(7)), Error);
  EXPECT_THROW(a.copy_from(std::vector<double>(6)), appose::TypeError);
  EXPECT_EQ(out, in);  // nothing was written by the failed copies
}

}  // namespace
