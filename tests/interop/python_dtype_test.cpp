// float16, complex64 and complex128 arrays through the real appose-python 0.12.0 worker: made
// here, checked by NumPy in a task (dtype, shape, values bit for bit), and answered with a new
// array of the same dtype that Python makes itself (NDArray(dtype, shape)), read back here.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;

// Checks the input with NumPy and returns its negation in a block Python creates. `want` holds
// the expected values: float16 as their bits, complex as [real, imaginary] pairs.
const std::string kScript = R"PY(
import numpy as np
from appose import NDArray
a = data.ndarray()
assert str(a.dtype) == dt, f"dtype {a.dtype}, expected {dt}"
assert list(a.shape) == [2, 3], f"shape {a.shape}"
if dt == "float16":
    got = a.reshape(-1).view(np.uint16).tolist()
else:
    w = np.array([complex(re, im) for re, im in want], dtype=dt).reshape(2, 3)
    got = want if np.array_equal(a, w) else a.tolist()
assert got == want, f"values {got}, expected {want}"
out = NDArray(dt, [2, 3])
out.ndarray()[...] = -a
task.outputs["out"] = out
)PY";

/// Runs the script on `data`; returns the array Python sent back (empty on failure).
NDArray round_trip(Service& service, const NDArray& data, const Value& want) {
  Task task = service.task(
      kScript, {{"data", data}, {"dt", std::string(dtype_name(data.dtype()))}, {"want", want}});
  try {
    EXPECT_TRUE(task.wait_for(60s)) << "task still pending";
  } catch (const TaskException& e) {
    ADD_FAILURE() << dtype_name(data.dtype()) << ": " << e.what();
    return {};
  }
  NDArray out = task.outputs().at("out").get<NDArray>();
  EXPECT_EQ(out.dtype(), data.dtype());
  EXPECT_EQ(out.shape().c_dims(), (std::vector<std::uint64_t>{2, 3}));
  return out;
}

TEST(PythonDtypes, Float16RoundTripsThroughNumpy) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = test::peer_env().python();
  // 0.5, -1.25, 2, 65504 (the largest), the nearest to 1/3, the smallest subnormal.
  const std::uint16_t bits[] = {0x3800, 0xBD00, 0x4000, 0x7BFF, 0x3555, 0x0001};
  NDArray data(DType::float16, {2, 3});
  Array want;
  for (std::size_t i = 0; i < 6; ++i) {
    data.span<Float16Bits>()[i] = Float16Bits{bits[i]};
    want.emplace_back(std::int64_t{bits[i]});
  }
  NDArray out = round_trip(service, data, Value(want));
  ASSERT_TRUE(out);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(static_cast<std::uint16_t>(out.span<Float16Bits>()[i]), bits[i] ^ 0x8000U) << i;
    EXPECT_EQ(to_float(out.span<Float16Bits>()[i]), -to_float(Float16Bits{bits[i]})) << i;
  }
}

template <typename C>
void complex_round_trip(DType dtype) {
  Service service = test::peer_env().python();
  NDArray data(dtype, {2, 3});
  Array want;
  for (std::size_t i = 0; i < 6; ++i) {
    const double re = static_cast<double>(i) * 0.5 - 1;
    const double im = -static_cast<double>(i) * 0.25 + 0.125;
    data.span<C>()[i] =
        C(static_cast<typename C::value_type>(re), static_cast<typename C::value_type>(im));
    want.emplace_back(Array{Value(re), Value(im)});
  }
  NDArray out = round_trip(service, data, Value(want));
  ASSERT_TRUE(out);
  for (std::size_t i = 0; i < 6; ++i)
    EXPECT_EQ(out.span<C>()[i], -data.span<C>()[i]) << dtype_name(dtype) << " " << i;
}

TEST(PythonDtypes, Complex64RoundTripsThroughNumpy) {
  APPOSE_REQUIRE_PYTHON_PEER();
  complex_round_trip<std::complex<float>>(DType::complex64);
}

TEST(PythonDtypes, Complex128RoundTripsThroughNumpy) {
  APPOSE_REQUIRE_PYTHON_PEER();
  complex_round_trip<std::complex<double>>(DType::complex128);
}

}  // namespace
}  // namespace appose
