// The Python worker's private protocol channel, hard cancel, restart, and no orphans, against
// the real appose-python 0.12 worker (the peer in .peers/venv). See docs/service.md, "A protocol
// channel nothing else can write to", "Hard cancel and restart" and "No orphans".
//
// Each behaviour is checked with Channel::private_fds (the default) and, where the plain
// stdin/stdout contract behaves differently, with Channel::plain_stdio as a negative control.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
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

#include "support/test_support.hpp"

extern char** environ;

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

constexpr const char* kForkPool =
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

/// A running orphan_host: its pid and the read end of its stdout.
struct Host {
  pid_t pid = -1;
  int out = -1;
};

Host spawn_host(const std::vector<std::string>& extra_env, bool parent_pid) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    bool overridden = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
      return var.substr(0, var.find('=')) == std::string_view(x).substr(0, x.find('='));
    });
    if (!overridden) env_strings.emplace_back(var);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = APPOSE_ORPHAN_HOST;
  std::string venv = venv_dir();
  std::string no_parent_pid = "no-parent-pid";
  std::vector<char*> argv = {exe.data(), venv.data(), nullptr, nullptr};
  if (!parent_pid) argv[2] = no_parent_pid.data();
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error(std::string("posix_spawn orphan_host: ") + std::strerror(rc));
  }
  return Host{pid, out[0]};
}

/// Reads one line from `fd` within `timeout`.
std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return std::nullopt;
    pollfd pfd{fd, POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return std::nullopt;
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

/// Whether `pid` has exited: gone, or a zombie nobody reaps (PID 1 here may not reap).
bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  // Read with POSIX calls: istreambuf_iterator trips GCC's -Wnull-dereference under -O1.
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return true;
  std::string text(buf, static_cast<std::size_t>(n));
  auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return true;
  char state = text[paren + 2];
  return state == 'Z' || state == 'X';
}

/// Polls until `pid` is gone; the time since `t0` it took, or nullopt at `timeout` after `t0`.
std::optional<std::chrono::milliseconds> time_until_gone(pid_t pid,
                                                         std::chrono::milliseconds timeout,
                                                         Clock::time_point t0 = Clock::now()) {
  while (Clock::now() - t0 < timeout) {
    if (gone(pid)) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }
    std::this_thread::sleep_for(1ms);
  }
  return std::nullopt;
}

/// Starts orphan_host, reads its worker's pid and SIGKILLs the host (reaping it).
/// `killed_at`: when the SIGKILL was sent.
pid_t orphan_a_worker(const std::vector<std::string>& extra_env, bool parent_pid = true,
                      Clock::time_point* killed_at = nullptr) {
  Host host = spawn_host(extra_env, parent_pid);
  auto line = read_line(host.out, 30s);
  if (killed_at != nullptr) *killed_at = Clock::now();
  ::kill(host.pid, SIGKILL);
  int status = 0;
  ::waitpid(host.pid, &status, 0);
  ::close(host.out);
  if (!line || line->empty()) return -1;
  return static_cast<pid_t>(std::stol(*line));
}

TEST(PythonChannel, WorkerDiesWithItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Clock::time_point killed_at;
  pid_t worker = orphan_a_worker({"APPOSE_PRIVATE_CHANNEL=1"}, true, &killed_at);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = time_until_gone(worker, 1s, killed_at);
  if (!took) ::kill(worker, SIGKILL);  // clean up before failing
  ASSERT_TRUE(took.has_value()) << "worker " << worker << " outlived its host by over 1 s";
  std::cout << "[ no orphans ] worker gone " << took->count() << " ms after the host's SIGKILL\n";
}

/// Negative controls: without the parent watch, the worker outlives its host.
void expect_outlives_host(const std::vector<std::string>& extra_env, bool parent_pid) {
  pid_t worker = orphan_a_worker(extra_env, parent_pid);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = time_until_gone(worker, 1500ms);
  ::kill(worker, SIGKILL);
  time_until_gone(worker, 2s);
  EXPECT_FALSE(took.has_value()) << "without the parent watch the worker was expected to "
                                    "survive its host";
}

TEST(PythonChannel, PlainChannelWorkerOutlivesItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_outlives_host({"APPOSE_PRIVATE_CHANNEL=0"}, true);
}

// The bootstrap alone (no APPOSE_PARENT_PID) does not end the worker: the parent watch does.
TEST(PythonChannel, PrivateChannelWithoutParentPidOutlivesItsHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  expect_outlives_host({"APPOSE_PRIVATE_CHANNEL=1"}, false);
}

}  // namespace
}  // namespace appose
