// Shared memory between appose-cpp and the real appose-python 0.12 (with NumPy): blocks made
// here are read and written by NumPy, blocks made by Python are read and written here, and
// Python's resource tracker behaves as docs/shared_memory.md says.
//
// Values follow one formula on both sides: element (i0, i1, ...) in the order the C++ Shape
// lists its dimensions holds f(g) with g = salt + sum(i_k * 7^k). An F-order array travels with
// its dimensions reversed, so NumPy finds C++'s index k on its axis n-1-k.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "appose/error.hpp"
#include "appose/ndarray.hpp"
#include "appose/shared_memory.hpp"
#include "support/test_support.hpp"

namespace {

using appose::DType;
using appose::NDArray;
using appose::Order;
using appose::Shape;
using appose::SharedMemory;
using ::testing::HasSubstr;
using json = nlohmann::json;

using appose::test::shm_block_exists;

// The Python half of the value formula, and the attach-check-write-close cycle. Every block is
// unregistered from Python's resource tracker right after attaching: otherwise the tracker
// unlinks it when the script exits, and the block belongs to the C++ side.
const std::string python_common = R"PY(
import json, sys
import numpy as np
from multiprocessing import resource_tracker
from appose import NDArray, SharedMemory

SIGNED = {"int8": 1, "int16": 601, "int32": 40000001, "int64": 90000000000001}
UNSIGNED = {"uint8": 1, "uint16": 251, "uint32": 16000001, "uint64": 70000000000001}

def expected(dtype, order, shape, salt):
    n = len(shape)
    g = np.full(shape, salt, dtype=np.int64)
    if n:
        idx = np.indices(shape, dtype=np.int64)
        for k in range(n):
            g = g + idx[k if order == "c" else n - 1 - k] * 7 ** k
    if dtype == "bool":
        return g % 2 == 1
    if dtype in SIGNED:
        return ((g % 100 - 50) * SIGNED[dtype]).astype(dtype)
    if dtype in UNSIGNED:
        return ((g % 100 + 150) * UNSIGNED[dtype]).astype(dtype)
    if dtype.startswith("float"):
        return (g * 0.25).astype(dtype)
    return (g * 0.5 - 1j * (g % 7)).astype(dtype)
)PY";

const std::string python_check_and_write = python_common + R"PY(
spec = json.load(sys.stdin)
for a in spec["arrays"]:
    shm = SharedMemory(name=a["name"], rsize=a["rsize"])
    resource_tracker.unregister(shm._name, "shared_memory")
    assert shm.name == a["name"], (shm.name, a["name"])
    assert shm.size == a["size"], (a["name"], shm.size, a["size"])
    nd = NDArray(a["dtype"], a["shape"], shm)
    view = nd.ndarray()
    assert view.dtype == np.dtype(a["dtype"]), (a["name"], view.dtype)
    assert list(view.shape) == a["shape"], (a["name"], view.shape)
    want = expected(a["dtype"], a["order"], a["shape"], spec["expect_salt"])
    assert np.array_equal(view, want), (a["name"], a["dtype"], view, want)
    view[...] = expected(a["dtype"], a["order"], a["shape"], spec["write_salt"])
    del view
    shm.close()
    print("checked", a["name"], a["dtype"], a["order"])
)PY";

// Makes arrays the way appose-python does (NDArray(dtype, shape) creates the block), fills them
// and hands them over: unregistered from the tracker, closed but not unlinked. appose-python
// 0.12 cannot create a bool array itself (it derives the element size from the digits in the
// dtype name), so bool goes through an explicit SharedMemory.
const std::string python_create = python_common + R"PY(
spec = json.load(sys.stdin)
made = []
try:
    try:
        NDArray("bool", [2])
        bool_error = None
    except ValueError as e:
        bool_error = str(e)
    for a in spec["arrays"]:
        if a["dtype"] == "bool":
            rsize = int(np.prod(a["shape"]))
            nd = NDArray("bool", a["shape"], SharedMemory(create=True, rsize=rsize))
        else:
            nd = NDArray(a["dtype"], a["shape"])
        made.append(nd.shm)
        view = nd.ndarray()
        view[...] = expected(a["dtype"], "c", a["shape"], spec["salt"])
        del view
        print(json.dumps({"name": nd.shm.name, "rsize": nd.shm.rsize, "size": nd.shm.size,
                          "dtype": a["dtype"], "shape": a["shape"]}))
    for shm in made:
        resource_tracker.unregister(shm._name, "shared_memory")
        shm.close()
    print(json.dumps({"bool_error": bool_error}))
except BaseException:
    for shm in made:
        shm.unlink()
    raise
)PY";

// --- The C++ half of the value formula --------------------------------------------------------

template <typename T>
T value_of(std::int64_t g) {
  if constexpr (std::is_same_v<T, bool>) {
    return g % 2 == 1;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(static_cast<double>(g) * 0.25);
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    constexpr std::int64_t scale = sizeof(T) == 1   ? 1
                                   : sizeof(T) == 2 ? 601
                                   : sizeof(T) == 4 ? 40000001
                                                    : 90000000000001;
    return static_cast<T>((g % 100 - 50) * scale);
  } else if constexpr (std::is_integral_v<T>) {
    constexpr std::int64_t scale = sizeof(T) == 1   ? 1
                                   : sizeof(T) == 2 ? 251
                                   : sizeof(T) == 4 ? 16000001
                                                    : 70000000000001;
    return static_cast<T>((g % 100 + 150) * scale);
  } else {
    using R = typename T::value_type;
    return T(static_cast<R>(static_cast<double>(g) * 0.5), static_cast<R>(-(g % 7)));
  }
}

// g for each element, in memory order.
std::vector<std::int64_t> index_sums(const Shape& shape, std::int64_t salt) {
  const auto& dims = shape.dims();
  const std::size_t n = dims.size();
  const auto count = static_cast<std::size_t>(shape.num_elements());
  std::vector<std::int64_t> sums(count);
  for (std::size_t linear = 0; linear < count; ++linear) {
    std::uint64_t rest = linear;
    std::int64_t g = salt;
    // Memory order: the last index varies fastest in C order, the first in F order.
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t k = shape.order() == Order::c ? n - 1 - step : step;
      const auto index = static_cast<std::int64_t>(rest % dims[k]);
      rest /= dims[k];
      std::int64_t weight = 1;
      for (std::size_t j = 0; j < k; ++j)
        weight *= 7;
      g += index * weight;
    }
    sums[linear] = g;
  }
  return sums;
}

template <typename F>
void with_element_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::int8:
      return f(std::type_identity<std::int8_t>{});
    case DType::int16:
      return f(std::type_identity<std::int16_t>{});
    case DType::int32:
      return f(std::type_identity<std::int32_t>{});
    case DType::int64:
      return f(std::type_identity<std::int64_t>{});
    case DType::uint8:
      return f(std::type_identity<std::uint8_t>{});
    case DType::uint16:
      return f(std::type_identity<std::uint16_t>{});
    case DType::uint32:
      return f(std::type_identity<std::uint32_t>{});
    case DType::uint64:
      return f(std::type_identity<std::uint64_t>{});
    case DType::float16:
      // The value formula has no half-precision C++ type to run in: float16 goes through the
      // real Python worker in tests/interop/python_dtype_test.cpp instead.
      ADD_FAILURE() << "float16 is not in this file's value formula";
      return;
    case DType::float32:
      return f(std::type_identity<float>{});
    case DType::float64:
      return f(std::type_identity<double>{});
    case DType::complex64:
      return f(std::type_identity<std::complex<float>>{});
    case DType::complex128:
      return f(std::type_identity<std::complex<double>>{});
    case DType::bool_:
      return f(std::type_identity<bool>{});
  }
}

void fill(const NDArray& array, std::int64_t salt) {
  with_element_type(array.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto values = array.span<T>();
    const auto sums = index_sums(array.shape(), salt);
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = value_of<T>(sums[i]);
  });
}

// Prints 8-bit integers as numbers rather than characters.
template <typename T>
auto printable(T value) {
  if constexpr (std::is_integral_v<T> && sizeof(T) == 1) {
    return static_cast<int>(value);
  } else {
    return value;
  }
}

// The first element that differs, or "" when all match.
std::string first_mismatch(const NDArray& array, std::int64_t salt) {
  std::string result;
  with_element_type(array.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto values = array.span<T>();
    const auto sums = index_sums(array.shape(), salt);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!(values[i] == value_of<T>(sums[i]))) {
        std::ostringstream out;
        out << array.shm().name() << " (" << appose::dtype_name(array.dtype()) << "): element " << i
            << " is " << printable(values[i]) << ", expected " << printable(value_of<T>(sums[i]));
        result = out.str();
        return;
      }
    }
  });
  return result;
}

json describe(const NDArray& array) {
  return {
      {"name", array.shm().name()},      {"rsize", array.shm().rsize()},
      {"size", array.shm().size()},      {"dtype", std::string(appose::dtype_name(array.dtype()))},
      {"shape", array.shape().c_dims()}, {"order", array.shape().order() == Order::c ? "c" : "f"}};
}

appose::test::ProcessResult check_in_python(const std::vector<NDArray>& arrays,
                                            std::int64_t expect_salt, std::int64_t write_salt) {
  json spec = {{"arrays", json::array()}, {"expect_salt", expect_salt}, {"write_salt", write_salt}};
  for (const auto& a : arrays)
    spec["arrays"].push_back(describe(a));
  return appose::test::run_python(python_check_and_write, {}, spec.dump());
}

TEST(PythonSharedMemory, NumpyReadsAndWritesArraysMadeHere) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const std::vector<DType> every_dtype = {
      DType::int8,      DType::int16,      DType::int32,  DType::int64,   DType::uint8,
      DType::uint16,    DType::uint32,     DType::uint64, DType::float32, DType::float64,
      DType::complex64, DType::complex128, DType::bool_};
  std::vector<NDArray> arrays;
  for (DType dtype : every_dtype)
    arrays.emplace_back(dtype, Shape{2, 3, 4});
  for (DType dtype : {DType::uint8, DType::int16, DType::int32, DType::int64, DType::float32,
                      DType::float64, DType::complex64, DType::bool_}) {
    arrays.emplace_back(dtype, Shape::f_order({5, 3, 2}));
  }
  arrays.emplace_back(DType::float64, Shape{0, 3});
  arrays.emplace_back(DType::float32, Shape{});
  arrays.emplace_back(DType::uint16, Shape::f_order({7, 1}));
  std::vector<std::string> names;
  for (const auto& a : arrays) {
    fill(a, 0);
    names.push_back(a.shm().name());
  }

  const auto result = check_in_python(arrays, 0, 1);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "") << "no resource tracker complaints";
  for (const auto& a : arrays) {
    EXPECT_THAT(result.out, HasSubstr("checked " + a.shm().name()));
    EXPECT_EQ(first_mismatch(a, 1), "") << "Python's writes";
    EXPECT_TRUE(shm_block_exists(a.shm().name())) << "Python must not unlink what it attached";
  }
  arrays.clear();
  for (const auto& name : names)
    EXPECT_FALSE(shm_block_exists(name)) << name;
}

TEST(PythonSharedMemory, ArraysMadeInPythonAreReadAndWrittenHere) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const json wanted = {{"salt", 0},
                       {"arrays",
                        {{{"dtype", "float32"}, {"shape", {2, 3}}},
                         {{"dtype", "float64"}, {"shape", {4}}},
                         {{"dtype", "int16"}, {"shape", {3, 2, 2}}},
                         {{"dtype", "uint64"}, {"shape", {5}}},
                         {{"dtype", "complex64"}, {"shape", {2, 2}}},
                         {{"dtype", "complex128"}, {"shape", {3}}},
                         {{"dtype", "bool"}, {"shape", {3, 3}}}}}};
  const auto made = appose::test::run_python(python_create, {}, wanted.dump());

  // Take ownership of every block Python made before judging the run, so that nothing is left
  // behind whatever goes wrong below.
  std::vector<std::pair<json, SharedMemory>> blocks;
  json trailer;
  std::istringstream lines(made.out);
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.contains("bool_error")) {
      trailer = j;
      continue;
    }
    try {
      auto shm =
          SharedMemory::attach(j.at("name").get<std::string>(), j.at("rsize").get<std::size_t>());
      shm.unlink_on_close(true);
      blocks.emplace_back(j, shm);
    } catch (const appose::Error& e) {
      ADD_FAILURE() << e.what() << "\n" << made.err;
    }
  }
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  EXPECT_EQ(made.err, "") << "no resource tracker complaints";
  ASSERT_EQ(blocks.size(), wanted["arrays"].size()) << made.out;
  std::vector<NDArray> arrays;
  std::vector<std::string> names;
  for (const auto& [j, shm] : blocks) {
    EXPECT_FALSE(shm.created());
    EXPECT_EQ(shm.size(), j.at("size").get<std::size_t>());
    const auto dtype = appose::parse_dtype(j.at("dtype").get<std::string>());
    ASSERT_TRUE(dtype) << j.dump();
    arrays.emplace_back(*dtype, Shape(j.at("shape").get<std::vector<std::uint64_t>>()), shm);
    names.push_back(shm.name());
  }
  blocks.clear();
  const std::string bool_error = trailer.contains("bool_error") && trailer["bool_error"].is_string()
                                     ? trailer["bool_error"].get<std::string>()
                                     : "";
  EXPECT_THAT(bool_error, HasSubstr("Invalid dtype: bool"))
      << "appose-python 0.12 cannot create a bool NDArray itself";

  for (const auto& a : arrays) {
    EXPECT_EQ(first_mismatch(a, 0), "") << "Python's values";
    fill(a, 1);
  }
  const auto checked = check_in_python(arrays, 1, 2);
  ASSERT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_EQ(checked.err, "");
  for (const auto& a : arrays)
    EXPECT_EQ(first_mismatch(a, 2), "") << "Python's second writes";

  arrays.clear();
  for (const auto& name : names)
    EXPECT_FALSE(shm_block_exists(name)) << name;
}

TEST(PythonSharedMemory, BoolArrayMadeHereIsNumpyBool) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const NDArray flags(DType::bool_, {4});
  auto values = flags.span<bool>();
  values[1] = true;
  values[3] = true;
  const auto result = appose::test::run_python(
      R"PY(
import sys
from multiprocessing import resource_tracker
from appose import NDArray, SharedMemory
shm = SharedMemory(name=sys.argv[1], rsize=int(sys.argv[2]))
resource_tracker.unregister(shm._name, "shared_memory")
view = NDArray("bool", [4], shm).ndarray()
print(view.dtype, view.tolist())
del view
shm.close()
)PY",
      {flags.shm().name(), std::to_string(flags.shm().rsize())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "bool [False, True, False, True]\n");
}

// docs/shared_memory.md: Python registers even blocks it merely attached and unlinks them when it
// exits, so unlinking here must treat "already gone" as done.
TEST(PythonSharedMemory, PythonTrackerUnlinksAttachedBlockAtExit) {
  APPOSE_REQUIRE_PYTHON_PEER();
  auto shm = SharedMemory::create(64);
  const std::string name = shm.name();
  const auto result = appose::test::run_python(
      R"PY(
import sys
from appose import SharedMemory
shm = SharedMemory(name=sys.argv[1], rsize=64)
shm.buf[0] = 7
shm.close()
)PY",
      {name});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // The tracker is a separate process that cleans up after Python has exited. It holds
  // Python's stderr, so run_python normally returns after it; poll anyway rather than race.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (shm_block_exists(name) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(shm_block_exists(name)) << "appose-python 0.12's tracker no longer unlinks at exit?";
  EXPECT_THAT(result.err, HasSubstr("leaked shared_memory"));
  EXPECT_EQ(shm.bytes()[0], std::byte{7}) << "the mapping outlives the name";
  EXPECT_TRUE(shm.unlink_on_close());
  EXPECT_NO_THROW(shm.close());
}

// A name is a name: Python can attach to a block created here under a chosen name, and this
// side to one Python created under a chosen name.
TEST(PythonSharedMemory, ChosenNamesWorkBothWays) {
  APPOSE_REQUIRE_PYTHON_PEER();
  auto shm = SharedMemory::create("/psm_cpp_chosen_" + std::to_string(::getpid()), 16);
  shm.bytes()[15] = std::byte{0x5A};
  const std::string py_name = "psm_py_chosen_" + std::to_string(::getpid());
  const auto result = appose::test::run_python(
      R"PY(
import sys
from multiprocessing import resource_tracker
from appose import SharedMemory
theirs = SharedMemory(name=sys.argv[1], rsize=16)
resource_tracker.unregister(theirs._name, "shared_memory")
print(theirs.buf[15])
theirs.close()
mine = SharedMemory(name=sys.argv[2], create=True, rsize=3)
resource_tracker.unregister(mine._name, "shared_memory")
mine.buf[:3] = b"abc"
mine.close()
)PY",
      {shm.name(), py_name});
  // Own Python's block before judging the run, so a failing run leaves nothing behind.
  SharedMemory from_python;
  try {
    from_python = SharedMemory::attach("/" + py_name);
    from_python.unlink_on_close(true);
  } catch (const appose::Error& e) {
    ADD_FAILURE() << e.what();
  }
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_TRUE(from_python);
  EXPECT_EQ(result.out, "90\n");
  EXPECT_EQ(from_python.size(), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(from_python.data()), 3), "abc");
}

}  // namespace
