// Service and Task against appose-java's Groovy worker (org.apposed.appose.GroovyWorker), and
// shared memory exchanged with appose-java's SharedMemory/NDArray.
//
// The peer is appose-java 0.9.0 (the newest the build machine's Maven registry serves; see
// scripts/peers.sh), not 0.12. Differences from the 0.12 protocol (docs/java.md) that matter here
// are noted where they show. ctest runs every test in its own process, so each test starts its own
// JVM
// (~0.5-1 s); tests therefore cover several behaviours each.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "support/orphans.hpp"
#include "support/test_support.hpp"

#ifndef APPOSE_TEST_JAVA_SOURCE_DIR
#error "APPOSE_TEST_JAVA_SOURCE_DIR must name tests/interop/java"
#endif

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Service groovy_service() {
  return Environment(".").groovy(*test::peer_java_classpath());
}

using appose::test::shm_block_exists;

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// appose-java 0.9.0's GroovyWorker has a race: its janitor thread (every 50 ms) reports a task
/// whose thread exists but has not started yet as FAILED "thread death", before LAUNCH, and
/// then the task runs anyway (its LAUNCH/COMPLETION arrive for a task the host has already
/// finished). Tasks on the "main" queue have no thread of their own and are never caught, so
/// these tests run on it unless they test the default queue, where they retry idempotent
/// scripts.
constexpr const char* kMain = "main";

using test::retry_thread_death;

using test::Signal;

// ---------------------------------------------------------------------------------------------
// Values, events, cancel, failure (one JVM)

TEST(GroovyService, ValuesEventsCancelAndFailure) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = groovy_service();

  // The last expression is the result.
  EXPECT_EQ(
      retry_thread_death([&] { return service.task("5 + 6").wait_for().result(); }).get<int>(), 11);
  EXPECT_EQ(service.task("5 + 6", {}, kMain).wait_for().result().get<int>(), 11);

  // Scalars, lists, maps and Unicode, both ways.
  const std::string text =
      "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xF0\x9D\x84\x9E";  // é € 😀 𝄞
  Task values = service.task(
      "task.outputs.i = 42\n"
      "task.outputs.neg = Long.MIN_VALUE\n"
      "task.outputs.f = 2.5d\n"
      "task.outputs.b = true\n"
      "task.outputs.l = [1, 'two', 3.5d, [null]]\n"
      "task.outputs.m = [k: [1, 2], e: [:]]\n"
      "task.outputs.echo = text\n"
      "task.outputs.codepoints = text.codePointCount(0, text.length())\n"
      "task.outputs.sum = nums.sum()\n",
      {{"text", text}, {"nums", Array{1, 2, 3, 4}}}, kMain);
  values.wait_for();
  Args out = values.outputs();
  EXPECT_EQ(out.at("i").get<int>(), 42);
  EXPECT_EQ(out.at("neg").get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(out.at("f").get<double>(), 2.5);
  EXPECT_EQ(out.at("b").get<bool>(), true);
  // No top-level null: 0.9.0's outputs map is a ConcurrentHashMap, which refuses null values.
  const Array& l = out.at("l").as_array();
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].get<int>(), 1);
  EXPECT_EQ(l[1].get<std::string>(), "two");
  EXPECT_EQ(l[2].get<double>(), 3.5);
  EXPECT_TRUE(l[3].as_array()[0].is_null());
  EXPECT_EQ(out.at("m").at("k").get<std::vector<int>>(), (std::vector<int>{1, 2}));
  EXPECT_EQ(out.at("m").at("e").size(), 0u);
  EXPECT_EQ(out.at("echo").get<std::string>(), text);
  EXPECT_EQ(out.at("codepoints").get<int>(), 11);
  EXPECT_EQ(out.at("sum").get<int>(), 10);

  // Exports reach later tasks.
  service.task("task.export([counter: 41])", {}, kMain).wait_for();
  EXPECT_EQ(service.task("counter + 1", {}, kMain).wait_for().result().get<int>(), 42);

  // Updates with progress, in order.
  Task updates = service.task(
      "for (int i = 0; i < 3; i++) {\n"
      "  task.update(\"step \" + i, (long) i, 3L)\n"
      "}\n"
      "task.outputs.done = true\n",
      {}, kMain);
  struct Seen {
    ResponseType type;
    std::optional<std::string> message;
    std::optional<std::int64_t> current, maximum;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  updates.listen([&](const TaskEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back({e.response_type, e.message, e.current, e.maximum});
  });
  updates.wait_for();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen[0].type, ResponseType::LAUNCH);
    for (int i = 0; i < 3; ++i) {
      const Seen& s = seen[static_cast<std::size_t>(i) + 1];
      EXPECT_EQ(s.type, ResponseType::UPDATE);
      EXPECT_EQ(s.message, "step " + std::to_string(i));
      EXPECT_EQ(s.current, i);
      EXPECT_EQ(s.maximum, 3);
    }
    EXPECT_EQ(seen[4].type, ResponseType::COMPLETION);
  }
  EXPECT_EQ(updates.outputs().at("done").get<bool>(), true);

  // Cooperative cancel.
  Task loop = service.task(
      "task.update(\"looping\")\n"
      "while (!task.cancelRequested) { Thread.sleep(10) }\n"
      "task.cancel()\n",
      {}, kMain);
  auto looping = std::make_shared<Signal>();
  loop.listen([looping](const TaskEvent& e) {
    if (e.response_type == ResponseType::UPDATE) looping->set();
  });
  loop.start();
  ASSERT_TRUE(looping->wait());
  loop.cancel();
  try {
    loop.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_STREQ(e.what(), "Task was canceled");
  }
  EXPECT_EQ(loop.status(), TaskStatus::CANCELED);

  // Failure: the exception's message reaches error().
  Task boom = service.task("throw new RuntimeException(\"boom\")", {}, kMain);
  try {
    boom.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_TRUE(starts_with(e.what(), "Task failed: ")) << e.what();
    EXPECT_EQ(e.status(), TaskStatus::FAILED);
  }
  EXPECT_EQ(boom.status(), TaskStatus::FAILED);
  EXPECT_NE(boom.error().value_or("").find("boom"), std::string::npos) << *boom.error();

  // The service goes on after all of that.
  EXPECT_EQ(service.task("'still here'", {}, kMain).wait_for().result().get<std::string>(),
            "still here");
}

// ---------------------------------------------------------------------------------------------
// NaN and infinities: Java cannot read them, so they are refused before anything is sent.

TEST(GroovyService, NonFiniteInputsAreRefusedAtStart) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = groovy_service();
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    Task task = service.task("x", {{"x", Array{1.0, Args{{"deep", bad}}}}}, kMain);
    EXPECT_THROW(task.start(), ProtocolError) << bad;
    EXPECT_EQ(task.status(), TaskStatus::INITIAL);
  }
  // Nothing reached the worker: it still answers.
  EXPECT_EQ(service.task("x * 2", {{"x", 1.25}}, kMain).wait_for().result().get<double>(), 2.5);
}

// ---------------------------------------------------------------------------------------------
// Crash, and tasks after death

TEST(GroovyService, CrashAndTasksAfterDeath) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = groovy_service();
  Task task = service.task("System.exit(3)", {}, kMain);
  try {
    task.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_TRUE(starts_with(e.what(), "Task crashed: Worker crashed with exit code 3."))
        << e.what();
  }
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  EXPECT_TRUE(starts_with(task.error().value_or(""), "Worker crashed with exit code 3."))
      << task.error().value_or("");
  EXPECT_EQ(service.wait_for(), 3);

  auto t0 = Clock::now();
  Task late = service.task("1 + 1", {}, kMain);
  EXPECT_THROW(late.wait_for(), TaskException);
  EXPECT_EQ(late.status(), TaskStatus::CRASHED);
  EXPECT_LT(Clock::now() - t0, 1s);
}

// ---------------------------------------------------------------------------------------------
// NDArrays through the Groovy worker

TEST(GroovyService, NDArrayInAndOut) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = groovy_service();

  // In: the worker sees an org.apposed.appose.NDArray over the same block.
  NDArray data(DType::float32, Shape{10, 100});
  auto values = data.span<float>();
  double expected = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(i) * 0.5f;
    expected += values[i];
  }
  Task sum = service.task(
      "def fb = data.buffer().order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer()\n"
      "double s = 0\n"
      "for (int i = 0; i < fb.limit(); i++) { s += fb.get(i) }\n"
      "task.outputs.sum = s\n"
      "task.outputs.dtype = data.dType().label()\n"
      "task.outputs.shape = data.shape().toIntArray() as List\n",
      {{"data", data}}, kMain);
  sum.wait_for();
  EXPECT_NEAR(sum.outputs().at("sum").get<double>(), expected, 1e-3);
  EXPECT_EQ(sum.outputs().at("dtype").get<std::string>(), "float32");
  EXPECT_EQ(sum.outputs().at("shape").get<std::vector<int>>(), (std::vector<int>{10, 100}));

  // Out: the worker creates the block; the host takes it over and unlinks it when done.
  std::string name;
  {
    Task make = service.task(
        "import org.apposed.appose.NDArray\n"
        "def a = new NDArray(NDArray.DType.INT32,\n"
        "    new NDArray.Shape(NDArray.Shape.Order.C_ORDER, 3, 4))\n"
        "def ib = a.buffer().order(java.nio.ByteOrder.nativeOrder()).asIntBuffer()\n"
        "for (int i = 0; i < 12; i++) { ib.put(i, i * i) }\n"
        "task.outputs.a = a\n",
        {}, kMain);
    make.wait_for();
    NDArray a = make.outputs().at("a").get<NDArray>();
    EXPECT_EQ(a.dtype(), DType::int32);
    EXPECT_EQ(a.shape(), (Shape{3, 4}));
    auto v = a.span<std::int32_t>();
    ASSERT_EQ(v.size(), 12u);
    for (std::size_t i = 0; i < v.size(); ++i)
      EXPECT_EQ(v[i], static_cast<std::int32_t>(i * i));
    name = a.shm().name();
    EXPECT_TRUE(shm_block_exists(name));
  }
  EXPECT_FALSE(shm_block_exists(name)) << name << " was left behind";
}

// ---------------------------------------------------------------------------------------------
// Shared memory with appose-java directly (tests/interop/java/ShmInterop.java)

std::vector<std::string> shm_interop(std::vector<std::string> args) {
  std::ostringstream cp;
  const auto jars = *test::peer_java_classpath();
  for (std::size_t i = 0; i < jars.size(); ++i)
    cp << (i ? ":" : "") << jars[i];
  std::vector<std::string> argv = {"java", "-cp", cp.str(),
                                   std::string(APPOSE_TEST_JAVA_SOURCE_DIR) + "/ShmInterop.java"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

template <typename T>
void check_java_reads_and_writes(DType dtype, const Shape& shape, double (*expected)(std::size_t),
                                 double (*written)(std::size_t)) {
  NDArray array(dtype, shape);
  auto v = array.span<T>();
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<T>(expected(i));
  std::vector<std::string> args = {"check", array.shm().name(), std::to_string(array.shm().rsize()),
                                   std::string(dtype_name(dtype)),
                                   shape.order() == Order::f ? "F" : "C"};
  for (auto d : shape.dims())
    args.push_back(std::to_string(d));
  auto r = test::run_process(shm_interop(args));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string wire;
  for (auto d : shape.c_dims())
    wire += (wire.empty() ? "" : " ") + std::to_string(d);
  EXPECT_EQ(r.out, "OK " + wire + "\n") << r.err;
  for (std::size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(v[i], static_cast<T>(written(i))) << i;
}

double float_expected(std::size_t i) {
  return static_cast<double>(i) * 1.5;
}
double float_written(std::size_t i) {
  return -static_cast<double>(i) * 0.25;
}
double int_expected(std::size_t i) {
  return 3.0 * static_cast<double>(i) - 7;
}
double int_written(std::size_t i) {
  return 1000.0 - static_cast<double>(i);
}

TEST(JavaShm, JavaAttachesReadsAndWritesHostBlocks) {
  APPOSE_REQUIRE_JAVA_PEER();
  check_java_reads_and_writes<float>(DType::float32, Shape{4, 5}, float_expected, float_written);
  check_java_reads_and_writes<std::int32_t>(DType::int32, Shape::f_order({2, 3, 4}), int_expected,
                                            int_written);
}

TEST(JavaShm, HostTakesOverJavaBlocks) {
  APPOSE_REQUIRE_JAVA_PEER();
  for (const char* dtype : {"float32", "int32"}) {
    auto r = test::run_process(shm_interop({"create", dtype, "50"}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::istringstream in(r.out);
    std::string name;
    std::size_t rsize = 0;
    in >> name >> rsize;
    ASSERT_EQ(rsize, 200u) << r.out;
    ASSERT_TRUE(shm_block_exists(name)) << r.out;
    {
      SharedMemory shm = SharedMemory::attach(name, rsize);
      shm.unlink_on_close(true);  // the host now owns it
      NDArray array(std::string_view(dtype) == "float32" ? DType::float32 : DType::int32, Shape{50},
                    shm);
      for (std::size_t i = 0; i < 50; ++i) {
        if (array.dtype() == DType::float32) {
          EXPECT_EQ(array.span<float>()[i], static_cast<float>(float_expected(i))) << i;
        } else {
          EXPECT_EQ(array.span<std::int32_t>()[i], static_cast<std::int32_t>(int_expected(i))) << i;
        }
      }
    }
    EXPECT_FALSE(shm_block_exists(name)) << name << " was left behind";
  }
}

// ---------------------------------------------------------------------------------------------
// No orphans: the Groovy worker does not watch its host; the lifeline kills the JVM when the
// host is SIGKILLed while a task sleeps for ten minutes.

TEST(GroovyService, WorkerDiesWithItsHost) {
  APPOSE_REQUIRE_JAVA_PEER();
  std::string class_path;
  const auto jars = test::peer_java_classpath();  // kept: a range-for over *temporary dangles
  for (const auto& jar : *jars)
    class_path += (class_path.empty() ? "" : ":") + jar;
  std::chrono::steady_clock::time_point killed_at;
  pid_t worker = test::orphan_a_worker(APPOSE_ORPHAN_HOST, {"groovy", class_path}, {}, &killed_at);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = test::time_until_group_gone(worker, 1s, killed_at);
  if (!took) test::kill_group(worker);
  ASSERT_TRUE(took.has_value()) << "the Groovy worker " << worker
                                << " outlived its host by over 1 s";
  std::cout << "[ no orphans ] Groovy worker gone " << took->count()
            << " ms after the host's SIGKILL\n";
}

}  // namespace
}  // namespace appose
