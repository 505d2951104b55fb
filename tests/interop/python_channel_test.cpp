// The Python worker's private protocol channel, hard cancel, restart, and no orphans, against
// the real appose-python 0.12 worker (the peer in .peers/venv). See docs/service.md, "A protocol
// channel nothing else can write to", "Hard cancel and restart" and "No orphans".
//
// Each behaviour is checked with Channel::private_fds (the default) and, where the plain
// stdin/stdout contract behaves differently, with Channel::plain_stdio as a negative control.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <appose/appose.hpp>

#include "support/orphans.hpp"
#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The peer's virtual environment directory (the parent of its bin/).
std::string venv_dir() {
  return std::filesystem::path(*test::peer_python()).parent_path().parent_path().string();
}

Environment peer_env() {
  std::string venv = venv_dir();
  return Environment(venv, {venv + "/bin"});
}

using test::Lines;

bool contains(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += "  | " + l + "\n";
  return out;
}

/// Waits up to `timeout` for `task` to finish; true if it did (whatever its status).
bool finish(Task& task, std::chrono::milliseconds timeout) {
  try {
    return task.wait_for(timeout);
  } catch (const TaskException&) {
    return true;
  }
}

/// Waits until the task has been launched by the worker (RUNNING).
bool await_running(Task& task, std::chrono::milliseconds timeout = 10s) {
  auto state = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto running = std::make_shared<bool>(false);
  task.listen([state, running](const TaskEvent& e) {
    if (e.response_type != ResponseType::LAUNCH) return;
    {
      std::lock_guard lock(state->first);
      *running = true;
    }
    state->second.notify_all();
  });
  task.start();
  std::unique_lock lock(state->first);
  return state->second.wait_for(lock, timeout, [&] { return *running; });
}

/// Runs `script` to completion, closes the service and waits until all its output has been
/// read, so invalid_lines() and error_lines() are complete.
void run_and_drain(Service& service, const std::string& script) {
  Task task = service.task(script);
  ASSERT_TRUE(task.wait_for(20s)) << "the task did not finish";
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  service.close();
  ASSERT_TRUE(service.wait_for(10s).has_value()) << "the worker did not exit after close()";
}

/// Runs `script` on a worker of each channel; on the private channel `marker` must reach
/// stderr only; on the plain one it must corrupt stdout (an invalid line).
void check_stray_output(const std::string& script, const std::string& marker) {
  {
    Service service = peer_env().python();
    run_and_drain(service, script);
    EXPECT_TRUE(service.invalid_lines().empty()) << "private channel, invalid lines:\n"
                                                 << joined(service.invalid_lines());
    EXPECT_TRUE(contains(service.error_lines(), marker)) << "private channel, stderr lines:\n"
                                                         << joined(service.error_lines());
  }
  {
    Service service = peer_env().python(Channel::plain_stdio);
    run_and_drain(service, script);
    EXPECT_TRUE(contains(service.invalid_lines(), marker)) << "plain channel, invalid lines:\n"
                                                           << joined(service.invalid_lines());
  }
}

// --- 1-3: stray writes to fd 1 ---------------------------------------------------------------

TEST(PythonChannel, ChildProcessOutputGoesToStderr) {
  APPOSE_REQUIRE_PYTHON_PEER();
  check_stray_output("import os\nos.system('echo garbage-from-child')\n", "garbage-from-child");
}

TEST(PythonChannel, RawFd1WritesGoToStderr) {
  APPOSE_REQUIRE_PYTHON_PEER();
  check_stray_output("import os\nos.write(1, b'raw-fd1-bytes\\n')\n", "raw-fd1-bytes");
}

TEST(PythonChannel, PrintGoesToStderr) {
  APPOSE_REQUIRE_PYTHON_PEER();
  check_stray_output("print('printed-by-script')\n", "printed-by-script");
}

// --- 4: fork-started multiprocessing ---------------------------------------------------------

// The hang on the plain channel needs appose-python's input thread to be back in
// sys.stdin.readline() (holding the stream's lock) when the pool forks; the task starts while
// that thread is still handing it over, and on a loaded machine the fork can come first (the
// plain channel then "worked" once under ASan). The pause makes the moment of the fork the one
// users meet: the worker idle, its input thread waiting for the next line.
constexpr const char* kForkPool =
    "import time\n"
    "time.sleep(0.5)\n"
    "import multiprocessing as mp\n"
    "ctx = mp.get_context('fork')\n"
    "pool = ctx.Pool(2)\n"
    "r = pool.map(abs, [-1, -2, -3])\n"
    "pool.close()\n"
    "pool.join()\n"
    "r\n";

TEST(PythonChannel, ForkPoolWorksOnPrivateChannel) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task(kForkPool);
  ASSERT_TRUE(task.wait_for(20s)) << "the fork pool hung";
  EXPECT_EQ(task.result(), Value(Array{Value(1), Value(2), Value(3)}));
  // The worker still answers afterwards: the pool's children took nothing from its channel.
  Task later = service.task("40 + 2");
  ASSERT_TRUE(later.wait_for(10s));
  EXPECT_EQ(later.result(), Value(42));
  EXPECT_TRUE(service.invalid_lines().empty()) << joined(service.invalid_lines());
}

TEST(PythonChannel, ForkPoolHangsOnPlainChannel) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python(Channel::plain_stdio);
  Task task = service.task(kForkPool);
  bool finished = finish(task, 5s);
  service.kill();
  service.wait_for(10s);
  EXPECT_FALSE(finished) << "the plain channel did not hang here (status "
                         << to_string(task.status()) << ")";
}

// --- 5: many concurrent tasks, no glued lines ------------------------------------------------

struct Burst {
  std::size_t wrong = 0;
  std::size_t invalid = 0;
  std::size_t glued = 0;
};

Burst run_burst(Channel channel, int count) {
  Burst burst;
  Lines debug;
  Service service = peer_env().python(channel);
  service.debug(debug.sink());
  std::vector<Task> tasks;
  tasks.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    tasks.push_back(service.task("x * 2", Args{{"x", Value(i)}}));
    tasks.back().start();
  }
  for (int i = 0; i < count; ++i) {
    Task& task = tasks[static_cast<std::size_t>(i)];
    if (!finish(task, 60s) || task.status() != TaskStatus::COMPLETE ||
        task.result() != Value(2 * i)) {
      ++burst.wrong;
    }
  }
  service.close();
  service.wait_for(10s);
  burst.invalid = service.invalid_lines().size();
  // Every line read from the worker's stdout is echoed as "[SERVICE-n] <line>"; a line holding
  // two responses glued together shows "}{".
  for (const auto& line : debug.all()) {
    if (line.rfind("[SERVICE-", 0) == 0 && line.find("}{") != std::string::npos) ++burst.glued;
  }
  return burst;
}

TEST(PythonChannel, ConcurrentTasksNeverGlueLines) {
  APPOSE_REQUIRE_PYTHON_PEER();
  constexpr int kTasks = 3000;
  Burst priv = run_burst(Channel::private_fds, kTasks);
  EXPECT_EQ(priv.wrong, 0u);
  EXPECT_EQ(priv.invalid, 0u);
  EXPECT_EQ(priv.glued, 0u);
  Burst plain = run_burst(Channel::plain_stdio, kTasks);
  std::cout << "[ glued lines ] private: " << priv.glued << ", plain: " << plain.glued
            << " (plain: " << plain.invalid << " invalid, " << plain.wrong
            << " tasks wrong; racy, not asserted)\n";
}

// --- 6: hard cancel and restart --------------------------------------------------------------

TEST(PythonChannel, HardCancelKillsAStubbornTask) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task stubborn = service.task("import time\nwhile True:\n    time.sleep(0.1)\n");
  ASSERT_TRUE(await_running(stubborn));
  Task bystander = service.task("import time\ntime.sleep(600)\n");
  ASSERT_TRUE(await_running(bystander));
  std::int64_t old_pid = service.pid();

  auto t0 = Clock::now();
  stubborn.cancel(300ms);
  ASSERT_TRUE(finish(stubborn, 2s)) << "the stubborn task was not killed";
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  std::cout << "[ hard cancel ] task finished " << elapsed.count() << " ms after cancel(300ms)\n";
  EXPECT_EQ(stubborn.status(), TaskStatus::CRASHED);
  EXPECT_GE(elapsed, 300ms);
  ASSERT_TRUE(finish(bystander, 2s));
  EXPECT_EQ(bystander.status(), TaskStatus::CRASHED);
  ASSERT_TRUE(service.wait_for(2s).has_value());
  EXPECT_FALSE(service.is_alive());

  service.restart();
  Task fresh = service.task("6 * 7");
  ASSERT_TRUE(fresh.wait_for(20s));
  EXPECT_EQ(fresh.result(), Value(42));
  EXPECT_TRUE(service.is_alive());
  EXPECT_NE(service.pid(), old_pid);
  // The old tasks stay as they ended.
  EXPECT_EQ(stubborn.status(), TaskStatus::CRASHED);
  EXPECT_EQ(bystander.status(), TaskStatus::CRASHED);
}

TEST(PythonChannel, HardCancelOfACooperativeTaskKeepsTheWorker) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task polite = service.task(
      "import time\n"
      "while not task.cancel_requested:\n"
      "    time.sleep(0.01)\n"
      "task.cancel()\n");
  ASSERT_TRUE(await_running(polite));
  std::int64_t pid = service.pid();
  polite.cancel(5s);
  ASSERT_TRUE(finish(polite, 5s));
  EXPECT_EQ(polite.status(), TaskStatus::CANCELED);
  Task later = service.task("1 + 1");
  ASSERT_TRUE(later.wait_for(10s));
  EXPECT_EQ(later.result(), Value(2));
  EXPECT_TRUE(service.is_alive());
  EXPECT_EQ(service.pid(), pid);
}

TEST(PythonChannel, RestartWhileRunningCrashesPendingTasks) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task sleeper = service.task("import time\ntime.sleep(600)\n");
  ASSERT_TRUE(await_running(sleeper));
  std::int64_t old_pid = service.pid();
  service.restart();
  ASSERT_TRUE(finish(sleeper, 2s));
  EXPECT_EQ(sleeper.status(), TaskStatus::CRASHED);
  Task fresh = service.task("'again'");
  ASSERT_TRUE(fresh.wait_for(20s));
  EXPECT_EQ(fresh.result(), Value("again"));
  EXPECT_NE(service.pid(), old_pid);
}

TEST(PythonChannel, ConcurrentRestartsLeaveOneWorkingWorker) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task sleeper = service.task("import time\ntime.sleep(600)\n");
  ASSERT_TRUE(await_running(sleeper));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([service]() mutable { service.restart(); });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(sleeper.status(), TaskStatus::CRASHED);
  Task fresh = service.task("3 * 3");
  ASSERT_TRUE(fresh.wait_for(20s));
  EXPECT_EQ(fresh.result(), Value(9));
}

TEST(PythonChannel, RestartFromACrashListener) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task sleeper = service.task("import time\ntime.sleep(600)\n");
  auto done = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto restarted = std::make_shared<bool>(false);
  sleeper.listen([service, done, restarted](const TaskEvent& e) mutable {
    if (e.response_type != ResponseType::CRASH) return;
    service.restart();
    {
      std::lock_guard lock(done->first);
      *restarted = true;
    }
    done->second.notify_all();
  });
  ASSERT_TRUE(await_running(sleeper));
  std::int64_t old_pid = service.pid();
  service.kill();
  {
    std::unique_lock lock(done->first);
    ASSERT_TRUE(done->second.wait_for(lock, 10s, [&] { return *restarted; }));
  }
  Task fresh = service.task("'after'");
  ASSERT_TRUE(fresh.wait_for(20s));
  EXPECT_EQ(fresh.result(), Value("after"));
  EXPECT_NE(service.pid(), old_pid);
}

// --- 7: no orphans ---------------------------------------------------------------------------

std::vector<std::string> python_host_args(bool parent_pid = true) {
  std::vector<std::string> args = {"python", venv_dir()};
  if (!parent_pid) args.insert(args.begin(), "--no-parent-pid");
  return args;
}

/// SIGKILLs a host whose worker is busy, and expects the worker's group gone within 1 s.
void expect_dies_with_host(const std::vector<std::string>& extra_env, const char* what) {
  Clock::time_point killed_at;
  pid_t worker =
      test::orphan_a_worker(APPOSE_ORPHAN_HOST, python_host_args(), extra_env, &killed_at);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = test::time_until_group_gone(worker, 1s, killed_at);
  if (!took) test::kill_group(worker);  // clean up before failing
  ASSERT_TRUE(took.has_value()) << "worker " << worker << " outlived its host by over 1 s";
  std::cout << "[ no orphans ] " << what << ": worker gone " << took->count()
            << " ms after the host's SIGKILL\n";
}

TEST(PythonChannel, WorkerDiesWithItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_dies_with_host({"APPOSE_PRIVATE_CHANNEL=1"},
                        "bootstrap (its own watch, and the lifeline)");
}

// Without the bootstrap the worker does not watch its host; the lifeline kills it.
TEST(PythonChannel, PlainChannelWorkerDiesWithItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_dies_with_host({"APPOSE_PRIVATE_CHANNEL=0"}, "plain channel (the lifeline)");
}

/// Negative controls: opted out of the host watch (APPOSE_PARENT_PID unset), the busy worker
/// outlives its host, whichever the channel.
void expect_outlives_host(const std::vector<std::string>& extra_env) {
  pid_t worker = test::orphan_a_worker(APPOSE_ORPHAN_HOST, python_host_args(false), extra_env);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = test::time_until_group_gone(worker, 1500ms);
  test::kill_group(worker);
  EXPECT_FALSE(took.has_value()) << "without the host watch the worker was expected to survive "
                                    "its host";
}

TEST(PythonChannel, WorkerOptedOutOfTheWatchOutlivesItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_outlives_host({"APPOSE_PRIVATE_CHANNEL=1"});
}

TEST(PythonChannel, PlainWorkerOptedOutOfTheWatchOutlivesItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_outlives_host({"APPOSE_PRIVATE_CHANNEL=0"});
}

}  // namespace
}  // namespace appose
