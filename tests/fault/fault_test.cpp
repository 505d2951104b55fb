// Fault injection: a Service drives tests/support/hostile_worker.cpp, a worker that breaks the
// protocol on purpose (dies mid-task, closes its stdout, writes half a line, a 200 MB line,
// invalid UTF-8, arrays, unknown types, duplicate or stray responses, never answers, floods its
// stderr). For each fault the host must survive, end the task concerned with a clear error,
// complete the tasks the fault does not concern, record the garbage in invalid_lines(), and
// leave no thread or descriptor behind once the service is closed and its handles are gone.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Service hostile_service(const std::string& scenario) {
  Environment env("/");
  return env.service({APPOSE_HOSTILE_WORKER}, {scenario});
}

/// Threads and open descriptors of this process (test_support: /proc on Linux, libproc on
/// macOS).
using Census = test::ThreadsAndFds;

Census census() {
  return test::threads_and_fds();
}

/// This process's resident set size, in bytes.
std::size_t rss_bytes() {
  return test::resident_bytes();
}

constexpr std::size_t kMiB = std::size_t{1} << 20;

/// Sanitizer allocators keep freed memory in a quarantine and add shadow memory, so the
/// resident size says nothing about what the library holds: memory bounds are checked only
/// in plain builds (the numbers are still recorded).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kMeasureRss = false;
#else
constexpr bool kMeasureRss = true;
#endif

/// Polls (up to 5 s) until the resident size is below `limit`; returns the last reading.
std::size_t rss_settling_below(std::size_t limit) {
  auto deadline = Clock::now() + 5s;
  std::size_t rss = rss_bytes();
  while (rss >= limit && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    rss = rss_bytes();
  }
  return rss;
}

/// How a task ended: whether it finished before the deadline, its status, and the text of the
/// TaskException that wait_for() threw (empty if it completed).
struct Outcome {
  bool finished = false;
  TaskStatus status = TaskStatus::INITIAL;
  std::string what;
};

Outcome outcome(Task task, std::chrono::milliseconds timeout = 10s) {
  Outcome o;
  try {
    o.finished = task.wait_for(timeout);
  } catch (const TaskException& e) {
    o.finished = true;
    o.what = e.what();
  }
  o.status = task.status();
  return o;
}

std::int64_t echo_of(const Task& task) {
  Args outputs = task.outputs();  // a snapshot: find() points into it
  const Value* v = outputs.find("echo");
  return v != nullptr ? v->get<std::int64_t>() : -1;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Every test starts from a settled process (the library's one process-wide reaper thread
/// exists already) and ends, once its handles are gone, with the threads and descriptors it
/// started with.
class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    warm_up();
    before_ = census();
  }

  /// Polls until the census is back to the one SetUp() took: service threads are joined by the
  /// reaper thread, asynchronously, after the last handle is gone.
  void expect_no_leaks() {
    auto deadline = Clock::now() + 5s;
    Census now = census();
    while (!(now == before_) && Clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      now = census();
    }
    EXPECT_EQ(now.threads, before_.threads) << "threads left behind";
    EXPECT_EQ(now.fds, before_.fds) << "descriptors left behind";
  }

 private:
  /// One well-behaved service, started and released, so that the reaper thread (created once
  /// per process) is not counted as a leak of the first test.
  static void warm_up() {
    static bool done = false;
    if (done) return;
    done = true;
    Census start = census();
    {
      Service service = hostile_service("ok");
      service.task("ok").wait_for();
      service.close();
      service.wait_for();
    }
    auto deadline = Clock::now() + 5s;
    while (census().threads > start.threads + 1 && Clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
  }

  Census before_;
};

// Suite names for the ctest listing; the fixture is the same.
class FaultBaseline : public FaultTest {};
class FaultDeath : public FaultTest {};
class FaultChannel : public FaultTest {};
class FaultGarbage : public FaultTest {};
class FaultHang : public FaultTest {};
class FaultFlood : public FaultTest {};
class FaultMixed : public FaultTest {};

TEST_F(FaultBaseline, WellBehavedWorkerCompletesEveryTask) {
  {
    Service service = hostile_service("ok");
    std::vector<Task> tasks;
    for (int i = 0; i < 20; ++i)
      tasks.push_back(service.task("ok", {{"n", i}}));
    for (auto& t : tasks)
      t.start();
    for (int i = 0; i < 20; ++i) {
      auto& t = tasks[static_cast<std::size_t>(i)];
      Outcome o = outcome(t);
      ASSERT_TRUE(o.finished);
      EXPECT_EQ(o.status, TaskStatus::COMPLETE) << o.what;
      EXPECT_EQ(echo_of(t), i);
    }
    EXPECT_TRUE(service.invalid_lines().empty());
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
  }
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// The worker dies

/// A worker that dies while `hostile` runs: the task before it has completed, the held task and
/// the hostile one crash with the exit code, and a task after it crashes at once.
void expect_death(const std::string& scenario, int exit_code) {
  Service service = hostile_service(scenario);
  Task before = service.task("ok", {{"n", 7}});
  Outcome b = outcome(before);
  ASSERT_TRUE(b.finished);
  EXPECT_EQ(b.status, TaskStatus::COMPLETE) << b.what;
  EXPECT_EQ(echo_of(before), 7);

  Task held = service.task("hold");
  held.start();
  Task hostile = service.task("hostile");
  auto t0 = Clock::now();
  Outcome h = outcome(hostile);
  ASSERT_TRUE(h.finished) << "the task of a dead worker must not wait for ever";
  EXPECT_LT(Clock::now() - t0, 3s) << "a crash is declared within tens of milliseconds";
  const std::string expected =
      "Task crashed: Worker crashed with exit code " + std::to_string(exit_code) + ".\n";
  EXPECT_EQ(h.status, TaskStatus::CRASHED);
  EXPECT_EQ(h.what.rfind(expected, 0), 0U) << h.what;

  Outcome o = outcome(held);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(o.status, TaskStatus::CRASHED);
  EXPECT_EQ(o.what.rfind(expected, 0), 0U) << o.what;

  // Started on the dead worker: CRASHED at once, with the same report, no exception from start().
  Task after = service.task("ok", {{"n", 8}});
  EXPECT_NO_THROW(after.start());
  EXPECT_EQ(after.status(), TaskStatus::CRASHED);
  Outcome a = outcome(after, 1s);
  EXPECT_TRUE(a.finished);
  EXPECT_EQ(a.what.rfind(expected, 0), 0U) << a.what;

  EXPECT_FALSE(service.is_alive());
  service.close();
  EXPECT_EQ(service.wait_for(), exit_code);
}

TEST_F(FaultDeath, KilledMidTask) {
  expect_death("kill_mid_task", -SIGKILL);
  expect_no_leaks();
}

TEST_F(FaultDeath, ExitsBetweenMessages) {
  expect_death("exit_between", 3);
  expect_no_leaks();
}

TEST_F(FaultDeath, HalfALineThenDeath) {
  {
    Service service = hostile_service("half_line_then_death");
    Task before = service.task("ok", {{"n", 1}});
    ASSERT_TRUE(outcome(before).finished);
    EXPECT_EQ(before.status(), TaskStatus::COMPLETE);

    Task hostile = service.task("hostile");
    Outcome h = outcome(hostile);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::CRASHED);
    // The unfinished line is not a message: it is invalid, and the crash report shows it.
    const std::string half = R"({"task":")" + hostile.id() + R"(","respon)";
    EXPECT_EQ(h.what.rfind("Task crashed: Worker crashed with exit code 4.\n", 0), 0U) << h.what;
    EXPECT_TRUE(contains(h.what, "[stdout]\n" + half + "\n")) << h.what;
    EXPECT_EQ(service.invalid_lines(), std::vector<std::string>{half});
    service.close();
    EXPECT_EQ(service.wait_for(), 4);
  }
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// The worker lives on but can no longer answer

TEST_F(FaultChannel, WorkerClosesItsStdout) {
  {
    Service service = hostile_service("close_stdout");
    Task before = service.task("ok", {{"n", 1}});
    ASSERT_TRUE(outcome(before).finished);
    EXPECT_EQ(before.status(), TaskStatus::COMPLETE);

    // After LAUNCH the worker closes its stdout and goes on reading requests: no answer can ever
    // reach the host, so waiting for one is a hang. The task must end with an error instead.
    Task hostile = service.task("hostile");
    Outcome h = outcome(hostile, 5s);
    EXPECT_TRUE(h.finished) << "BUG: the worker's stdout is at EOF but the task is still "
                            << to_string(hostile.status()) << " after 5 s (it waits for ever)";
    if (h.finished) {
      EXPECT_TRUE(is_error(h.status)) << to_string(h.status);
      EXPECT_FALSE(h.what.empty());
    }
    // A task started later cannot be answered either.
    Task after = service.task("ok", {{"n", 2}});
    Outcome a = outcome(after, 2s);
    EXPECT_TRUE(a.finished) << "BUG: a task sent to a worker whose stdout is closed is still "
                            << to_string(after.status()) << " after 2 s";
    if (a.finished) {
      EXPECT_TRUE(is_error(a.status)) << to_string(a.status);
    }

    service.close();  // EOF: the worker exits, which ends whatever is still pending
    auto code = service.wait_for(5s);
    if (!code) {
      service.kill();
      code = service.wait_for();
    }
    EXPECT_TRUE(is_finished(hostile.status()));
    EXPECT_TRUE(is_finished(after.status()));
  }
  expect_no_leaks();
}

// A worker told to end closes its stdout, then takes longer than the 1 s that a worker closing
// its stdout while still expected to answer is given: it is ending as asked and must not be
// killed (the Python worker does this after a long session: the soak test saw -9).
TEST_F(FaultChannel, WorkerEndingAsAskedMayCloseItsStdoutFirst) {
  {
    Service service = hostile_service("slow_exit");
    Task task = service.task("ok", {{"n", 1}});
    ASSERT_TRUE(outcome(task).finished);
    EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
    service.close();
    auto code = service.wait_for(10s);
    ASSERT_TRUE(code.has_value()) << "the worker did not end 10 s after EOF on its stdin";
    EXPECT_EQ(*code, 0) << "the worker was killed while it was ending as asked";
  }
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Garbage on stdout

TEST_F(FaultGarbage, HugeLine) {
  const std::size_t rss_start = rss_bytes();
  {
    Service service = hostile_service("huge_line");
    Task hostile = service.task("hostile", {{"n", 5}});
    Outcome h = outcome(hostile, 60s);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    EXPECT_EQ(echo_of(hostile), 5);
    Task after = service.task("ok", {{"n", 6}});
    Outcome a = outcome(after);
    ASSERT_TRUE(a.finished);
    EXPECT_EQ(a.status, TaskStatus::COMPLETE) << a.what;
    EXPECT_EQ(echo_of(after), 6);

    // Measured before invalid_lines() is called, since that copy would count too.
    const std::size_t rss_alive = rss_bytes();
    RecordProperty("rss_start_mib", static_cast<int>(rss_start / kMiB));
    RecordProperty("rss_alive_mib", static_cast<int>(rss_alive / kMiB));
    if (kMeasureRss) {
      EXPECT_LT(rss_alive, rss_start + 600 * kMiB)
          << "the host holds " << (rss_alive - rss_start) / kMiB << " MiB after one 200 MiB line";
    }
    {
      auto invalid = service.invalid_lines();
      ASSERT_EQ(invalid.size(), 1U);
      // Either kept or dropped with a note; never split into pieces, never a message.
      EXPECT_TRUE(invalid[0].find_first_not_of('x') == std::string::npos ||
                  contains(invalid[0], "bytes"))
          << invalid[0].substr(0, 200);
    }
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
    // A clean exit with no task pending: nothing needs a crash report, so the exit must not
    // copy the line again.
    const std::size_t rss_exited = rss_bytes();
    RecordProperty("rss_exited_mib", static_cast<int>(rss_exited / kMiB));
    if (kMeasureRss) {
      EXPECT_LT(rss_exited, rss_alive + 100 * kMiB)
          << "BUG: the worker's clean exit grew the host from " << rss_alive / kMiB << " to "
          << rss_exited / kMiB
          << " MiB (the crash report is built, and kept, with every invalid line)";
    }
  }
  expect_no_leaks();
  // Once the service is gone, so is the line. The reaper destroys the service just after it
  // has joined its threads, so the memory may come back a little after the census settles.
  const std::size_t rss_end = rss_settling_below(rss_start + 100 * kMiB);
  RecordProperty("rss_end_mib", static_cast<int>(rss_end / kMiB));
  if (kMeasureRss) {
    EXPECT_LT(rss_end, rss_start + 100 * kMiB)
        << "the host still holds " << (rss_end - rss_start) / kMiB << " MiB";
  }
}

TEST_F(FaultGarbage, InvalidUtf8InAResponse) {
  {
    Service service = hostile_service("invalid_utf8");
    Task hostile = service.task("hostile", {{"n", 3}});
    Outcome h = outcome(hostile);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    EXPECT_EQ(echo_of(hostile), 3);
    // The UPDATE holding 0xff 0xfe is rejected whole rather than altered: no message arrived.
    EXPECT_FALSE(hostile.message().has_value()) << *hostile.message();
    auto invalid = service.invalid_lines();
    ASSERT_EQ(invalid.size(), 1U);
    EXPECT_TRUE(contains(invalid[0], "bad bytes: \xEF\xBF\xBD")) << invalid[0];
    EXPECT_TRUE(contains(invalid[0], hostile.id())) << invalid[0];
    EXPECT_EQ(invalid[0].find('\xff'), std::string::npos) << "recorded lines are valid UTF-8";
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
  }
  expect_no_leaks();
}

TEST_F(FaultGarbage, ArraysAndScalarsAreNotMessages) {
  {
    Service service = hostile_service("not_object");
    Task hostile = service.task("hostile", {{"n", 4}});
    Outcome h = outcome(hostile);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    EXPECT_EQ(echo_of(hostile), 4);
    EXPECT_EQ(service.invalid_lines(), (std::vector<std::string>{"[1,2,3]", R"("str")", "42"}));
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
  }
  expect_no_leaks();
}

TEST_F(FaultGarbage, UnknownResponseType) {
  {
    Service service = hostile_service("unknown_type");
    Task hostile = service.task("hostile", {{"n", 9}});
    Outcome h = outcome(hostile);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    EXPECT_EQ(echo_of(hostile), 9);
    auto invalid = service.invalid_lines();
    ASSERT_EQ(invalid.size(), 1U);
    EXPECT_TRUE(contains(invalid[0], "BOGUS")) << invalid[0];
    EXPECT_TRUE(contains(invalid[0], hostile.id())) << invalid[0];
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
  }
  expect_no_leaks();
}

TEST_F(FaultGarbage, DuplicateTerminalResponses) {
  {
    test::Lines debug;
    Service service = hostile_service("duplicate_terminal");
    service.debug(debug.sink());
    struct Counts {
      std::atomic<int> completions{0}, failures{0}, others{0};
    };
    auto counts = std::make_shared<Counts>();
    Task hostile = service.task("hostile", {{"n", 11}});
    hostile.listen([counts](const TaskEvent& e) {
      if (e.response_type == ResponseType::COMPLETION) {
        ++counts->completions;
      } else if (e.response_type == ResponseType::FAILURE) {
        ++counts->failures;
      } else if (e.response_type != ResponseType::LAUNCH) {
        ++counts->others;
      }
    });
    Outcome h = outcome(hostile);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    // Responses are read in order: once a later task has completed, the duplicates have been
    // read too.
    Task after = service.task("ok", {{"n", 12}});
    ASSERT_TRUE(outcome(after).finished);
    EXPECT_EQ(after.status(), TaskStatus::COMPLETE);
    service.close();
    EXPECT_EQ(service.wait_for(), 0);

    // The first terminal response wins; the later ones change nothing and reach no listener.
    EXPECT_EQ(hostile.status(), TaskStatus::COMPLETE);
    EXPECT_EQ(echo_of(hostile), 11);
    EXPECT_FALSE(hostile.error().has_value());
    EXPECT_EQ(counts->completions.load(), 1);
    EXPECT_EQ(counts->failures.load(), 0);
    EXPECT_EQ(counts->others.load(), 0);
    // Not garbage: valid responses for an ended task, reported to the debug callback.
    EXPECT_TRUE(service.invalid_lines().empty());
    EXPECT_TRUE(debug.wait_for({"No such task: " + hostile.id()}, 1s));
  }
  expect_no_leaks();
}

TEST_F(FaultGarbage, ResponseForAnUnknownTask) {
  {
    test::Lines debug;
    Service service = hostile_service("unknown_task");
    service.debug(debug.sink());
    std::vector<Task> tasks;
    for (int i = 0; i < 3; ++i)
      tasks.push_back(service.task(i == 1 ? "hostile" : "ok", {{"n", i}}));
    for (auto& t : tasks)
      t.start();
    for (int i = 0; i < 3; ++i) {
      auto& t = tasks[static_cast<std::size_t>(i)];
      Outcome o = outcome(t);
      ASSERT_TRUE(o.finished);
      EXPECT_EQ(o.status, TaskStatus::COMPLETE) << o.what;
      EXPECT_EQ(echo_of(t), i);
    }
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
    EXPECT_TRUE(service.invalid_lines().empty());
    EXPECT_TRUE(debug.wait_for({"No such task: 00000000000000000000000000bogus0"}, 1s));
  }
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// The worker never answers

TEST_F(FaultHang, HardCancelKillsAWorkerThatNeverAnswers) {
  {
    test::Lines log;
    Service service = hostile_service("never_answers");
    service.log(log.sink());
    Task task = service.task("ok");
    EXPECT_FALSE(task.wait_for(500ms));
    EXPECT_EQ(task.status(), TaskStatus::QUEUED);
    const auto pid = static_cast<pid_t>(service.pid());

    auto t0 = Clock::now();
    task.cancel(300ms);
    Outcome o = outcome(task, 5s);
    auto took = Clock::now() - t0;
    ASSERT_TRUE(o.finished);
    EXPECT_LT(took, 2s);
    EXPECT_GE(took, 250ms) << "the grace is kept";
    // The CANCEL was ignored, so the task did not stop: the kill ends it as CRASHED.
    EXPECT_TRUE(o.status == TaskStatus::CRASHED || o.status == TaskStatus::CANCELED)
        << to_string(o.status);
    EXPECT_EQ(o.what.rfind("Task crashed: Worker crashed with exit code -9.\n", 0), 0U) << o.what;
    EXPECT_TRUE(log.wait_for({"did not stop within 300 ms"}, 1s));

    auto code = service.wait_for(2s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, -SIGKILL);
    EXPECT_FALSE(service.is_alive());
    EXPECT_EQ(::kill(pid, 0), -1) << "the worker is gone and reaped";
    EXPECT_EQ(errno, ESRCH);
  }
  expect_no_leaks();
}

TEST_F(FaultHang, CloseThenKillAWorkerThatIgnoresEof) {
  {
    Service service = hostile_service("never_answers");
    Task task = service.task("ok");
    task.start();
    service.close();
    // It ignores EOF: close() alone does not end it, and waiting is bounded.
    EXPECT_FALSE(service.wait_for(300ms).has_value());
    EXPECT_TRUE(service.is_alive());
    EXPECT_FALSE(is_finished(task.status()));
    auto t0 = Clock::now();
    service.kill();
    EXPECT_EQ(service.wait_for(), -SIGKILL);
    EXPECT_LT(Clock::now() - t0, 2s);
    Outcome o = outcome(task, 1s);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(o.status, TaskStatus::CRASHED);
    EXPECT_EQ(o.what.rfind("Task crashed: Worker crashed with exit code -9.\n", 0), 0U) << o.what;
  }
  expect_no_leaks();
}

TEST_F(FaultHang, ReleasedWorkerIsKilledAfterTheGrace) {
  pid_t pid = -1;
  {
    Service service = hostile_service("never_answers");
    service.shutdown_grace(200ms);
    Task task = service.task("ok");
    task.start();
    pid = static_cast<pid_t>(service.pid());
  }
  // The last handle is gone: EOF (ignored), then the reaper kills it after 200 ms.
  auto deadline = Clock::now() + 3s;
  while (::kill(pid, 0) == 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(::kill(pid, 0), -1) << "the released worker is still running";
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Both pipes at once

TEST_F(FaultFlood, StderrFloodWhileAnswering) {
  {
    Service service = hostile_service("flood_stderr");
    // The debug callback sees every stderr line as it arrives; error_lines() keeps a tail.
    auto whole = std::make_shared<std::atomic<std::size_t>>(0);
    service.debug([whole](std::string_view line) {
      if (line.find(std::string(1023, 'e')) != std::string_view::npos) ++*whole;
    });
    Task hostile = service.task("hostile", {{"n", 13}});
    Task after = service.task("ok", {{"n", 14}});
    hostile.start();
    after.start();
    Outcome h = outcome(hostile, 60s);
    ASSERT_TRUE(h.finished) << "the worker blocks on a stderr pipe nobody drains";
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    EXPECT_EQ(echo_of(hostile), 13);
    EXPECT_EQ(hostile.current(), 100);
    EXPECT_EQ(hostile.maximum(), 100);
    Outcome a = outcome(after);
    ASSERT_TRUE(a.finished);
    EXPECT_EQ(a.status, TaskStatus::COMPLETE) << a.what;
    EXPECT_EQ(echo_of(after), 14);
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
    // Every stderr line arrived, whole; the service keeps the most recent 10,000 of them.
    EXPECT_EQ(whole->load(), std::size_t{1600} * 64);
    auto err = service.error_lines();
    EXPECT_EQ(err.size(), std::size_t{10000});
    EXPECT_TRUE(std::all_of(err.begin(), err.end(),
                            [](const std::string& l) { return l == std::string(1023, 'e'); }));
    EXPECT_TRUE(service.invalid_lines().empty());
  }
  expect_no_leaks();
}

/// Pending tasks of a worker that dies after a flood of stderr: each crash report must stay
/// useful (exit code, the last output) without copying the whole flood into every task.
TEST_F(FaultFlood, CrashAfterStderrFlood) {
  constexpr int kHeld = 4;
  {
    Service service = hostile_service("flood_stderr");
    Task hostile = service.task("hostile", {{"n", 1}});
    Outcome h = outcome(hostile, 60s);
    ASSERT_TRUE(h.finished);
    EXPECT_EQ(h.status, TaskStatus::COMPLETE) << h.what;
    std::vector<Task> held;
    for (int i = 0; i < kHeld; ++i) {
      held.push_back(service.task("hold"));
      held.back().start();
    }
    auto deadline = Clock::now() + 10s;
    while (held.back().status() != TaskStatus::RUNNING && Clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_EQ(held.back().status(), TaskStatus::RUNNING);

    const std::size_t rss_before = rss_bytes();
    service.kill();
    EXPECT_EQ(service.wait_for(), -SIGKILL);
    // Before any error() or TaskException copies the reports.
    const std::size_t rss_crashed = rss_bytes();
    RecordProperty("rss_before_crash_mib", static_cast<int>(rss_before / kMiB));
    RecordProperty("rss_crashed_mib", static_cast<int>(rss_crashed / kMiB));
    for (auto& t : held) {
      EXPECT_EQ(t.status(), TaskStatus::CRASHED);
      auto error = t.error();
      ASSERT_TRUE(error.has_value());
      EXPECT_EQ(error->rfind("Worker crashed with exit code -9.\n", 0), 0U)
          << error->substr(0, 200);
      EXPECT_TRUE(contains(*error, std::string(1023, 'e') + "\n")) << "the report shows stderr";
    }
    if (kMeasureRss) {
      EXPECT_LT(rss_crashed, rss_before + 150 * kMiB)
          << "BUG: crashing " << kHeld << " pending tasks grew the host from " << rss_before / kMiB
          << " to " << rss_crashed / kMiB
          << " MiB: every report holds a copy of all 100 MiB the worker wrote to stderr";
    }
  }
  expect_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Failures do not spill over to other tasks

TEST_F(FaultMixed, AlternatingFailuresAndCompletions) {
  {
    Service service = hostile_service("alternating");
    std::vector<Task> tasks;
    for (int i = 0; i < 40; ++i)
      tasks.push_back(service.task("any", {{"n", i}}));
    for (auto& t : tasks)
      t.start();
    for (int i = 0; i < 40; ++i) {
      auto& t = tasks[static_cast<std::size_t>(i)];
      Outcome o = outcome(t);
      ASSERT_TRUE(o.finished) << i;
      if (i % 2 != 0) {
        EXPECT_EQ(o.status, TaskStatus::FAILED) << i;
        EXPECT_EQ(o.what, "Task failed: odd input " + std::to_string(i));
        EXPECT_EQ(t.error(), "odd input " + std::to_string(i));
      } else {
        EXPECT_EQ(o.status, TaskStatus::COMPLETE) << i << ": " << o.what;
        EXPECT_EQ(echo_of(t), i);
      }
    }
    EXPECT_TRUE(service.invalid_lines().empty());
    EXPECT_TRUE(service.is_alive()) << "failures do not end the worker";
    service.close();
    EXPECT_EQ(service.wait_for(), 0);
  }
  expect_no_leaks();
}

}  // namespace
}  // namespace appose
