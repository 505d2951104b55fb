// End to end on Windows (under Wine here): this library's Service drives the C++ worker
// examples/worker_ops.exe through the public API, as a Windows user's program would: arrays in
// shared memory both ways, progress, a failing task, a crash and its report, cancel, a long
// task handing reading over, restart.
// The Linux suite covers the same ground, in more depth, in tests/interop/cpp_worker_test.cpp.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <appose/appose.hpp>

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kWorkerOps = APPOSE_WORKER_OPS;

/// The build's path is a Linux one ("/work/..."): rooted, but without a drive, which Windows
/// programs take as relative to the current drive; absolute() gives it its drive (Z: under Wine).
std::string program(const char* build_path) {
  return std::filesystem::absolute(build_path).string();
}

Service worker_service() {
  ServiceConfig config;
  config.command = {program(kWorkerOps)};
  return Service(std::move(config));
}

/// Closes the service and checks that the worker ended well: exit code 0, nothing but protocol
/// on its stdout.
void close_cleanly(Service& service) {
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  EXPECT_TRUE(service.invalid_lines().empty())
      << "first invalid line: " << service.invalid_lines().front();
}

NDArray floats(std::vector<float> values) {
  NDArray array(DType::float32, Shape{values.size()});
  std::copy(values.begin(), values.end(), array.span<float>().begin());
  return array;
}

class WindowsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kWorkerOps)) << kWorkerOps << " was not built";
  }
};

// An array made here is read by the worker from the named mapping.
TEST_F(WindowsEndToEnd, ArrayToTheWorker) {
  Service service = worker_service();
  Task task = service.task("sum", {{"data", floats({0.5F, 1.5F, 2.0F, 4.0F})}});
  task.wait_for();
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  EXPECT_DOUBLE_EQ(task.outputs().at("total").get<double>(), 8.0);
  close_cleanly(service);
}

// The worker writes into this process's mapping: the same memory, no copy.
TEST_F(WindowsEndToEnd, WorkerWritesIntoOurArray) {
  Service service = worker_service();
  NDArray data = floats({1, 2, 3, 4});
  const float* before = data.span<float>().data();
  Task task = service.task("scale", {{"data", data}, {"factor", 2.5}});
  task.wait_for();
  EXPECT_EQ(task.outputs().at("scaled").get<int>(), 4);
  auto span = data.span<float>();
  EXPECT_EQ(span.data(), before);
  EXPECT_EQ(std::vector<float>(span.begin(), span.end()), (std::vector<float>{2.5F, 5, 7.5F, 10}));
  close_cleanly(service);
}

// An array the worker made outlives the worker: this process holds a handle to the mapping.
TEST_F(WindowsEndToEnd, ArrayFromTheWorker) {
  NDArray array;
  {
    Service service = worker_service();
    Task task = service.task("make", {{"n", 6}});
    task.wait_for();
    array = task.outputs().at("array").get<NDArray>();
    close_cleanly(service);
  }
  EXPECT_EQ(array.dtype(), DType::float64);
  EXPECT_EQ(array.shape(), (Shape{6}));
  auto span = array.span<double>();
  EXPECT_EQ(std::vector<double>(span.begin(), span.end()), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST_F(WindowsEndToEnd, ProgressInOrder) {
  Service service = worker_service();
  constexpr int kSteps = 5;
  std::mutex mu;
  std::vector<std::int64_t> currents;
  Task task = service.task("steps", {{"n", kSteps}});
  task.listen([&](const TaskEvent& e) {
    if (e.response_type != ResponseType::UPDATE) return;
    std::lock_guard lock(mu);
    currents.push_back(e.current.value_or(-1));
  });
  task.wait_for();
  EXPECT_EQ(task.outputs().at("done").get<int>(), kSteps);
  std::lock_guard lock(mu);
  EXPECT_EQ(currents, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  close_cleanly(service);
}

TEST_F(WindowsEndToEnd, FailureCarriesTheMessage) {
  Service service = worker_service();
  Task task = service.task("fail", {{"message", "the disk is full"}});
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::FAILED);
  EXPECT_EQ(task.error(), "std::runtime_error: the disk is full");
  Task after = service.task("noop");
  after.wait_for();
  EXPECT_EQ(after.status(), TaskStatus::COMPLETE);
  close_cleanly(service);
}

TEST_F(WindowsEndToEnd, CrashIsReportedWithTheExitCode) {
  Service service = worker_service();
  Task task = service.task("crash", {{"code", 7}});
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  const std::string error = task.error().value_or("");
  EXPECT_EQ(error.rfind("Worker crashed with exit code 7.", 0), 0U) << error;
  EXPECT_EQ(service.wait_for(), 7);
}

TEST_F(WindowsEndToEnd, CancelStopsALongTask) {
  Service service = worker_service();
  Task task = service.task("steps", {{"n", 1'000'000}});
  std::mutex mu;
  std::condition_variable cv;
  bool updating = false;
  task.listen([&](const TaskEvent& e) {
    if (e.response_type != ResponseType::UPDATE) return;
    std::lock_guard lock(mu);
    updating = true;
    cv.notify_all();
  });
  task.start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return updating; })) << "no progress";
  }
  const auto t0 = Clock::now();
  task.cancel();
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::CANCELED);
  EXPECT_LT(Clock::now() - t0, 10s);
  close_cleanly(service);
}

// With the pool idle, the thread that reads a task's request runs it; past a millisecond
// a pool thread takes over reading, woken by the worker's waitable timer. So a task that sends
// nothing is seen to start, a later task is served while it runs, and its CANCEL reaches it.
TEST_F(WindowsEndToEnd, LongTaskHandsReadingOver) {
  Service service = worker_service();
  // A first task lets the pool's threads reach their wait: a task read while none is idle
  // goes to the pool, and the takeover would not be tested.
  service.task("noop").wait_for();
  Task quiet = service.task("wait_cancel");
  std::mutex mu;
  std::condition_variable cv;
  bool launched = false;
  quiet.listen([&](const TaskEvent& e) {
    if (e.response_type != ResponseType::LAUNCH) return;
    std::lock_guard lock(mu);
    launched = true;
    cv.notify_all();
  });
  quiet.start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return launched; })) << "no LAUNCH";
  }
  Task quick = service.task("noop");
  ASSERT_TRUE(quick.wait_for(30s));
  EXPECT_EQ(quiet.status(), TaskStatus::RUNNING);
  quiet.cancel();
  EXPECT_THROW(quiet.wait_for(30s), TaskException);
  EXPECT_EQ(quiet.status(), TaskStatus::CANCELED);
  close_cleanly(service);
  // The worker had its timer: without one it hands every task to the pool, and says so.
  for (const auto& line : service.error_lines())
    EXPECT_EQ(line.find("handed to the pool"), std::string::npos) << line;
}

// restart() kills the worker (its pending task crashes) and starts another that works.
TEST_F(WindowsEndToEnd, RestartStartsAFreshWorker) {
  Service service = worker_service();
  Task first = service.task("noop");
  first.wait_for();
  Task hanging = service.task("steps", {{"n", 1'000'000}});
  hanging.start();
  service.restart();
  EXPECT_THROW(hanging.wait_for(), TaskException);
  EXPECT_EQ(hanging.status(), TaskStatus::CRASHED);
  Task again = service.task("sum", {{"data", floats({1, 2, 3})}});
  again.wait_for();
  EXPECT_DOUBLE_EQ(again.outputs().at("total").get<double>(), 6.0);
  close_cleanly(service);
}

}  // namespace
}  // namespace appose
