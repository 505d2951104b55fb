// Soak (issue #8, item 4): a long life must cost nothing. Two shapes of long life, each against
// the native C++ worker (examples/worker_ops) and the real appose-python worker (the peer in
// .peers/venv):
//  - 100,000 tasks on one service;
//  - 200 services started, used and closed in sequence.
// Each measures this host process's resident size, open descriptors and threads after a warm-up
// and at the end, and requires them flat; every task's result is checked, not just counted; no
// worker process (or anything a worker started) and no shared-memory block may be left behind.
// Each test prints one "[ soak ] ..." line with its figures. See docs/reliability.md.
//
// Label `soak`: resident sizes mean nothing under the sanitizers (quarantine, shadow memory),
// so this label is for the plain builds only.
//
// APPOSE_SOAK_PERCENT (default 100) scales every count down, for a quick local run.

#include <sys/types.h>
#include <unistd.h>
#ifdef __APPLE__
#include <libproc.h>
#include <sys/proc.h>
#include <sys/proc_info.h>
#endif

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <appose/appose.hpp>

#include "platform/posix/process_native.hpp"
#include "support/orphans.hpp"
#include "support/test_support.hpp"

namespace appose {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::kWorkerOps;

constexpr std::size_t kMiB = std::size_t{1} << 20;

// The margins (docs/reliability.md has the figures). Flat runs here move by tens of KiB, with
// slopes under a byte per task and tens of bytes per service: the margins sit far above that
// noise and below the smallest leak. One leaked malloc chunk (32 bytes at least) per task is a
// slope of 32 B/task, over kMaxSlopeBytesPerTask; 45 bytes a task is kRssMargin over the 95,000
// measured tasks. A service leaving any part of itself behind (a thread's stack, its objects)
// costs kilobytes, over kMaxSlopeBytesPerService.
constexpr std::size_t kRssMargin = 4 * kMiB;
constexpr double kMaxSlopeBytesPerTask = 24.0;
constexpr double kMaxSlopeBytesPerService = 4.0 * 1024;

// Run under a sanitizer anyway, the soak still counts threads, descriptors and processes, but
// leaves resident sizes alone: quarantined frees and shadow memory are not the library's.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kMeasureRss = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kMeasureRss = false;
#else
constexpr bool kMeasureRss = true;
#endif
#else
constexpr bool kMeasureRss = true;
#endif

// How many tasks run between two samples, how many of those run one at a time, and how many the
// pipelined rest keeps in flight.
constexpr std::int64_t kBlock = 10'000;
constexpr std::int64_t kSequentialPerBlock = 1'000;
constexpr std::size_t kInFlight = 64;

// The same count for both workers: appose-python (a thread per task) answers about 1,100
// tasks/s here against the C++ worker's 6,500, so its run takes a minute and a half, which a
// soak label can afford.
constexpr std::int64_t kTasks = 100'000;
constexpr std::int64_t kWarmUp = 5'000;

constexpr int kServices = 200;
constexpr int kServiceWarmUp = 5;
constexpr int kServicesPerSample = 20;

std::int64_t scaled(std::int64_t n) {
  const char* p = std::getenv("APPOSE_SOAK_PERCENT");
  const std::int64_t percent = p != nullptr ? std::clamp<std::int64_t>(std::atoll(p), 1, 100) : 100;
  return std::max<std::int64_t>(1, n * percent / 100);
}

// ---------------------------------------------------------------------------------------------
// What the host holds

/// The resident size of process `pid` ("self": this one).
std::size_t rss_bytes(const std::string& pid = "self") {
  return test::resident_bytes(pid == "self" ? 0 : std::stoll(pid));
}

/// Threads, open descriptors (test_support's threads_and_fds()) and resident size of this
/// process.
struct Census {
  std::size_t threads = 0;
  std::size_t fds = 0;
  std::size_t rss = 0;
};

Census census() {
  const test::ThreadsAndFds now = test::threads_and_fds();
  return {now.threads, now.fds, rss_bytes()};
}

/// Waits until the thread and descriptor counts are back to `target`. A released service's
/// threads are joined by the library's reaper thread after the worker has exited, and nothing
/// public signals that moment, so this polls /proc, within a bound.
Census settle_to(const Census& target, std::chrono::seconds limit = 15s) {
  const auto deadline = Clock::now() + limit;
  Census now = census();
  while ((now.threads != target.threads || now.fds != target.fds) && Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    now = census();
  }
  return now;
}

std::string mib(std::size_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / static_cast<double>(kMiB));
}

/// The change from `from` to `to`, in KiB (resident sizes move by pages).
std::string signed_kib(std::size_t from, std::size_t to) {
  const double d = (static_cast<double>(to) - static_cast<double>(from)) / 1024.0;
  return fmt::format("{:+.0f} KiB", d);
}

/// Least-squares slope of `ys` over `xs`.
double slope(const std::vector<double>& xs, const std::vector<double>& ys) {
  const auto n = static_cast<double>(xs.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    sx += xs[i];
    sy += ys[i];
    sxx += xs[i] * xs[i];
    sxy += xs[i] * ys[i];
  }
  const double den = n * sxx - sx * sx;
  return den == 0 ? 0 : (n * sxy - sx * sy) / den;
}

/// Whether the resident size rose at every sample: a leak grows at every step, while allocator
/// noise (and a flat run, whose readings repeat to the page) does not.
bool monotone_growth(const std::vector<std::size_t>& samples) {
  if (samples.size() < 3) return false;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    if (samples[i] <= samples[i - 1]) return false;
  }
  return true;
}

std::string join_mib(const std::vector<std::size_t>& samples) {
  std::string s;
  for (std::size_t v : samples)
    s += fmt::format("{}{:.1f}", s.empty() ? "" : " ", static_cast<double>(v) / kMiB);
  return s;
}

// ---------------------------------------------------------------------------------------------
// What the workers leave

#ifdef __APPLE__
/// This process's children, zombies included (libproc lists them by parent).
std::vector<pid_t> children() {
  for (int room = 64;; room *= 2) {
    std::vector<pid_t> pids(static_cast<std::size_t>(room));
    const int n =
        ::proc_listchildpids(::getpid(), pids.data(), room * static_cast<int>(sizeof(pid_t)));
    if (n >= room) continue;  // grew meanwhile: ask again with more room
    pids.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return pids;
  }
}

/// Now, in the clock libproc gives process start times in (microseconds of the wall clock).
std::uint64_t boot_ticks() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000U;
}

/// Live processes whose process group is a key of `groups` and which started no later than
/// that key's value (boot_ticks()): see the Linux version below.
std::vector<std::string> processes_in_groups(const std::map<std::int64_t, std::uint64_t>& groups) {
  std::vector<std::string> found;
  for (const auto& [pgid, started_by] : groups) {
    for (pid_t pid : test::group_members(static_cast<pid_t>(pgid))) {
      proc_bsdinfo info{};
      const auto size = static_cast<int>(sizeof info);
      if (::proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, size) != size) continue;  // gone
      const std::uint64_t start = info.pbi_start_tvsec * 1'000'000U + info.pbi_start_tvusec;
      if (start <= started_by) {
        // pbi_comm is not terminated when the name fills it.
        const std::string_view comm(info.pbi_comm, ::strnlen(info.pbi_comm, sizeof info.pbi_comm));
        found.push_back(fmt::format("{} ({}) state {}", pid, comm, info.pbi_status));
      }
    }
  }
  return found;
}
#else
/// The pids listed in /proc/self/task/*/children: this process's children, zombies included
/// (a child belongs to the thread that started it, so every thread's list is read).
std::vector<pid_t> children() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t pid = 0;
    while (in >> pid)
      pids.push_back(pid);
  }
  return pids;
}

/// Now, in the clock /proc gives process start times in (ticks since boot).
std::uint64_t boot_ticks() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  const auto hz = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
  return static_cast<std::uint64_t>(ts.tv_sec) * hz +
         static_cast<std::uint64_t>(ts.tv_nsec) * hz / 1'000'000'000U;
}

/// Live processes whose process group is a key of `groups` and which started no later than
/// that key's value (boot ticks): every worker leads its own group, so whatever a worker
/// started (a launcher's child, Python's resource tracker) shows up here if it outlived the
/// worker. The start-time bound matters because pids wrap (pid_max is 32768 here): a later,
/// unrelated process may lead a group with a finished worker's number.
std::vector<std::string> processes_in_groups(const std::map<std::int64_t, std::uint64_t>& groups) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;  // gone meanwhile
    std::istringstream rest(stat.substr(paren + 1));
    char state = 0;
    std::int64_t ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    // Fields 6 to 21 of stat, then field 22: the start time.
    std::string skip;
    for (int field = 6; field <= 21; ++field)
      rest >> skip;
    std::uint64_t start = 0;
    rest >> start;
    // A zombie is dead: it waits only for its parent's wait(), and an orphan's parent is init,
    // which in some containers (this machine's included) never reaps.
    const auto group = groups.find(pgrp);
    if (group != groups.end() && state != 'Z' && start <= group->second) {
      found.push_back(stat.substr(0, paren + 1) + " state " + state);
    }
  }
  return found;
}
#endif

/// Our children but the lifeline (one per process, kept for the next worker): the workers not
/// reaped.
std::vector<pid_t> workers_left() {
  auto kids = children();
  std::erase(kids, detail::platform::lifeline_pid());
  return kids;
}

/// Blocks this process owns according to the library's crash registry.
std::size_t registered_blocks() {
  const auto self = static_cast<long long>(::getpid());
  auto blocks = owned_blocks();
  return static_cast<std::size_t>(std::count_if(
      blocks.begin(), blocks.end(), [&](const OwnedBlock& b) { return b.pid == self; }));
}

// ---------------------------------------------------------------------------------------------
// Driving tasks

/// One kind of worker under soak: how task `i` is made, and whether what came back is right.
struct Workload {
  std::function<Task(Service&, std::int64_t)> make;
  /// Returns "" when the finished task `i` holds what it should, else what is wrong. Appends
  /// the names of the shared-memory blocks it involved to `blocks`: they must be gone from
  /// /dev/shm once the task is dropped.
  std::function<std::string(const Task&, std::int64_t, std::vector<std::string>& blocks)> check;
};

/// Runs tasks 0, 1, 2, ... of a workload on one service and checks each one as it finishes.
class Driver {
 public:
  /// Holds `service` by reference, so that the test alone decides when its last handle goes.
  Driver(Service& service, Workload workload) : service_(service), workload_(std::move(workload)) {}

  /// `count` tasks, up to kInFlight of them started and unfinished at any time.
  void pipelined(std::int64_t count) {
    std::deque<std::pair<std::int64_t, Task>> flight;
    for (std::int64_t k = 0; k < count; ++k) {
      if (flight.size() == kInFlight) {
        finish(flight.front().first, std::move(flight.front().second));
        flight.pop_front();
      }
      const std::int64_t i = next_++;
      Task task = workload_.make(service_, i);
      task.start();
      flight.emplace_back(i, std::move(task));
    }
    for (auto& [i, task] : flight)
      finish(i, std::move(task));
  }

  /// `count` tasks, each started once the one before has finished.
  void sequential(std::int64_t count) {
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t i = next_++;
      finish(i, workload_.make(service_, i));
    }
  }

  /// A block of `count` tasks: pipelined, then a tenth (at most kSequentialPerBlock) one at a
  /// time.
  void block(std::int64_t count) {
    const std::int64_t seq = std::min(count / 10, kSequentialPerBlock);
    pipelined(count - seq);
    sequential(seq);
  }

  [[nodiscard]] std::int64_t done() const { return checked_; }
  [[nodiscard]] std::int64_t wrong() const { return wrong_; }
  [[nodiscard]] std::string first_wrong() const {
    std::string s;
    for (const auto& w : first_wrong_)
      s += "\n  " + w;
    return s;
  }

 private:
  void finish(std::int64_t i, std::optional<Task> task) {
    std::string problem;
    bool finished = false;
    try {
      finished = task->wait_for(60s);
    } catch (const TaskException&) {
      finished = true;  // a failure the workload asked for is checked below
    }
    blocks_.clear();
    if (!finished) {
      problem = "did not finish within 60 s";
    } else {
      try {
        problem = workload_.check(*task, i, blocks_);
      } catch (const Error& e) {
        problem = std::string("unexpected outputs: ") + e.what();
      }
    }
    // Dropping the last handle must unlink the task's blocks at once: wait_for() returned only
    // after the library's threads had let go of the task.
    task.reset();
    for (const auto& name : blocks_) {
      if (problem.empty() && test::shm_block_exists(name))
        problem = "block " + name + " outlived its task";
    }
    ++checked_;
    if (!problem.empty()) {
      ++wrong_;
      if (first_wrong_.size() < 5) first_wrong_.push_back(fmt::format("task {}: {}", i, problem));
    }
  }

  Service& service_;
  Workload workload_;
  std::int64_t next_ = 0;
  std::int64_t checked_ = 0;
  std::int64_t wrong_ = 0;
  std::vector<std::string> first_wrong_;
  std::vector<std::string> blocks_;
};

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::string status_problem(const Task& task, TaskStatus expected) {
  if (task.status() == expected) return {};
  return fmt::format("{} instead of {}: {}", to_string(task.status()), to_string(expected),
                     task.error().value_or("(no error text)"));
}

/// An NDArray of `n` float64 elements, all `value`.
NDArray filled(std::size_t n, double value) {
  NDArray a(DType::float64, Shape{n});
  for (double& x : a.span<double>())
    x = value;
  return a;
}

// The native worker has no echo operation, so identity is carried by the operations that give
// back something of their input: `fail` (the message) and `sum` (the total of an array holding
// i). The others check the exact outputs their operation defines.
Workload cpp_workload() {
  Workload w;
  w.make = [](Service& s, std::int64_t i) -> Task {
    switch (i % 100) {
      case 0:
        return s.task("fail", {{"message", fmt::format("soak-{}", i)}});
      case 1:
      case 2:
      case 3:
      case 4:
        return s.task("sum", {{"data", filled(static_cast<std::size_t>(i % 3 + 1), double(i))}});
      case 5:
        return s.task("make", {{"n", i % 5 + 1}});
      case 6:
        return s.task("main_thread", {}, "main");
      case 7:
        return s.task("steps", {{"n", 0}});
      default:
        return s.task("noop");
    }
  };
  w.check = [](const Task& t, std::int64_t i, std::vector<std::string>& blocks) -> std::string {
    switch (i % 100) {
      case 0: {
        if (auto p = status_problem(t, TaskStatus::FAILED); !p.empty()) return p;
        const std::string error = t.error().value_or("");
        if (!contains(error, fmt::format("soak-{}", i))) return "wrong failure: " + error;
        return {};
      }
      case 1:
      case 2:
      case 3:
      case 4: {
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        blocks.push_back(t.inputs().at("data").get<NDArray>().shm().name());
        const double total = t.outputs().at("total").get<double>();
        if (total != double(i) * double(i % 3 + 1)) return fmt::format("total {}", total);
        return {};
      }
      case 5: {
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        const auto array = t.outputs().at("array").get<NDArray>();
        blocks.push_back(array.shm().name());
        const auto values = array.span<double>();
        if (values.size() != static_cast<std::size_t>(i % 5 + 1)) return "wrong size";
        for (std::size_t k = 0; k < values.size(); ++k) {
          if (values[k] != double(k)) return fmt::format("array[{}] = {}", k, values[k]);
        }
        return {};
      }
      case 6:
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        return t.outputs().at("on_main").get<bool>() ? "" : "not on the main thread";
      case 7:
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        return t.outputs().at("done").get<std::int64_t>() == 0 ? "" : "done != 0";
      default:
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        return t.outputs().empty() ? "" : "noop had outputs";
    }
  };
  return w;
}

// Every Python task carries its identity: `x + 1` gives back i + 1.
Workload python_workload() {
  Workload w;
  w.make = [](Service& s, std::int64_t i) -> Task {
    switch (i % 100) {
      case 0:
        return s.task("raise ValueError('soak-%d' % x)", {{"x", i}});
      case 1:
        return s.task("x + data.shape[0]",
                      {{"x", i}, {"data", filled(static_cast<std::size_t>(i % 3 + 1), 0.0)}});
      default:
        return s.task("x + 1", {{"x", i}});
    }
  };
  w.check = [](const Task& t, std::int64_t i, std::vector<std::string>& blocks) -> std::string {
    switch (i % 100) {
      case 0: {
        if (auto p = status_problem(t, TaskStatus::FAILED); !p.empty()) return p;
        const std::string error = t.error().value_or("");
        if (!contains(error, fmt::format("ValueError: soak-{}", i)))
          return "wrong failure: " + error;
        return {};
      }
      case 1: {
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        blocks.push_back(t.inputs().at("data").get<NDArray>().shm().name());
        const auto r = t.result().get<std::int64_t>();
        return r == i + i % 3 + 1 ? "" : fmt::format("result {}", r);
      }
      default: {
        if (auto p = status_problem(t, TaskStatus::COMPLETE); !p.empty()) return p;
        const auto r = t.result().get<std::int64_t>();
        return r == i + 1 ? "" : fmt::format("result {}", r);
      }
    }
  };
  return w;
}

Service cpp_service() {
  ServiceConfig config;
  config.command = {kWorkerOps};
  return Service(std::move(config));
}

Service python_service() {
  return test::peer_env().python();
}

void print(const std::string& line) {
  std::printf("[ soak ] %s\n", line.c_str());
  std::fflush(stdout);
}

/// One service started, used and released, then the census settled: the library's reaper
/// thread and its lifeline (one per process, made on first use: a child and the descriptor of
/// its pipe, docs/service.md "No orphans") and the allocator's first arenas are not what a soak
/// is looking for.
Census primed(const std::function<Service()>& make_service, const Workload& workload) {
  static bool reaper_made = false;
  const bool lifeline_made = detail::platform::lifeline_pid() > 0;
  const Census start = census();
  {
    Service service = make_service();
    Driver driver(service, workload);
    driver.sequential(3);
    service.close();
    service.wait_for();
  }
  Census target = start;
  if (!std::exchange(reaper_made, true)) target.threads += 1;
  if (!lifeline_made && detail::platform::lifeline_pid() > 0) target.fds += 1;
  const Census idle = settle_to(target);
  EXPECT_EQ(idle.threads, target.threads) << "the priming service left threads";
  EXPECT_EQ(idle.fds, target.fds) << "the priming service left descriptors";
  return idle;
}

// ---------------------------------------------------------------------------------------------
// Many tasks on one service

struct TaskSoak {
  std::int64_t tasks;
  std::int64_t warm_up;
  std::int64_t block;
};

void soak_tasks(const std::string& label, const std::function<Service()>& make_service,
                const Workload& workload, const TaskSoak& plan) {
  const Census idle = primed(make_service, workload);
  Service service = make_service();
  Driver driver(service, workload);

  const auto t0 = Clock::now();
  driver.block(plan.warm_up);
  const std::int64_t pid = service.pid();
  const Census warm = census();
  // The worker's own size is recorded, not asserted: it is the worker's business (an
  // interpreter's caches grow as they please), and this suite is about the host.
  const std::size_t worker_warm = rss_bytes(std::to_string(pid));
  const auto t_warm = Clock::now();

  std::vector<std::size_t> samples{warm.rss};
  std::vector<double> xs{double(driver.done())};
  std::vector<double> ys{double(warm.rss)};
  const auto expected_samples = static_cast<std::size_t>(plan.tasks / plan.block + 2);
  samples.reserve(expected_samples);
  xs.reserve(expected_samples);
  ys.reserve(expected_samples);
  std::size_t peak_registered = 0;
  while (driver.done() < plan.tasks) {
    driver.block(std::min(plan.block, plan.tasks - driver.done()));
    const std::size_t rss = rss_bytes();
    samples.push_back(rss);
    xs.push_back(double(driver.done()));
    ys.push_back(double(rss));
    peak_registered = std::max(peak_registered, registered_blocks());
  }
  const Census end = census();
  const auto t_end = Clock::now();
  const std::size_t worker_end = rss_bytes(std::to_string(pid));

  const double seconds = std::chrono::duration<double>(t_end - t0).count();
  const double measured_s = std::chrono::duration<double>(t_end - t_warm).count();
  const double rate = double(plan.tasks - plan.warm_up) / measured_s;
  const double per_task = slope(xs, ys);
  print(fmt::format(
      "{}: {} tasks on one service in {:.1f} s ({:.0f} tasks/s after warm-up); after {} tasks "
      "-> end: RSS {} -> {} ({}), fds {} -> {}, threads {} -> {}; RSS slope {:.1f} B/task; "
      "samples (MiB) [{}]; worker RSS {} -> {}; wrong results {}",
      label, driver.done(), seconds, rate, plan.warm_up, mib(warm.rss), mib(end.rss),
      signed_kib(warm.rss, end.rss), warm.fds, end.fds, warm.threads, end.threads, per_task,
      join_mib(samples), mib(worker_warm), mib(worker_end), driver.wrong()));

  EXPECT_EQ(driver.done(), plan.tasks);
  EXPECT_EQ(driver.wrong(), 0) << "tasks with wrong results:" << driver.first_wrong();
  EXPECT_EQ(service.pid(), pid) << "the worker was replaced";
  EXPECT_TRUE(service.is_alive());
  EXPECT_EQ(end.threads, warm.threads) << "threads grew";
  EXPECT_EQ(end.fds, warm.fds) << "descriptors grew";
  if (kMeasureRss) {
    EXPECT_LT(end.rss, warm.rss + kRssMargin) << "RSS grew by " << signed_kib(warm.rss, end.rss);
    EXPECT_FALSE(monotone_growth(samples)) << "RSS grew at every sample: " << join_mib(samples);
    EXPECT_LT(per_task, kMaxSlopeBytesPerTask) << "RSS trend: " << join_mib(samples);
  }
  EXPECT_EQ(peak_registered, 0U) << "blocks stayed registered after their tasks";
  EXPECT_TRUE(service.invalid_lines().empty()) << service.invalid_lines().front();

  // The whole service goes as it came.
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  service = Service(ServiceConfig{});  // drops the last handle of the soaked service
  const Census after = settle_to(idle);
  print(fmt::format("{}: service closed: fds {} (idle {}), threads {} (idle {}), RSS {}", label,
                    after.fds, idle.fds, after.threads, idle.threads, mib(after.rss)));
  EXPECT_EQ(after.threads, idle.threads) << "the closed service left threads";
  EXPECT_EQ(after.fds, idle.fds) << "the closed service left descriptors";
  EXPECT_TRUE(workers_left().empty()) << "a worker was not reaped";
  const auto left = processes_in_groups({{pid, std::numeric_limits<std::uint64_t>::max()}});
  EXPECT_TRUE(left.empty()) << "left behind: " << left.front();
  EXPECT_EQ(registered_blocks(), 0U);
}

// ---------------------------------------------------------------------------------------------
// Services in sequence

/// What one service of the sequence does: runs its first tasks (proving it is up) and checks
/// them, adding the names of the blocks involved to `blocks`.
using ServiceRound = std::function<void(Service&, int, std::vector<std::string>& blocks)>;

void soak_services(const std::string& label, const std::function<Service()>& make_service,
                   const Workload& workload, const ServiceRound& round) {
  const int services = static_cast<int>(scaled(kServices));
  const auto total = static_cast<std::size_t>(services + kServiceWarmUp);
  const auto samples_total = static_cast<std::size_t>(services / kServicesPerSample + 2);
  // The test's own records are made, and their pages touched, before the first census: filled
  // as it goes, they would be the very growth it looks for (a vector's pages are resident only
  // once written).
  std::vector<std::int64_t> pids(total, -1);
  std::vector<std::uint64_t> closed_at(total, 0);
  std::vector<std::size_t> samples(samples_total, 0);
  std::vector<double> xs(samples_total, 0), ys(samples_total, 0);
  std::size_t sampled = 0;
  std::vector<std::string> blocks;  // one service's: checked and cleared after each
  blocks.reserve(8);
  std::size_t blocks_checked = 0, stale = 0, unclean = 0;
  std::string first_problem(256, ' ');
  first_problem.clear();
  const Census idle = primed(make_service, workload);

  auto one = [&](int n) {
    {
      Service service = make_service();
      round(service, n, blocks);
      pids[static_cast<std::size_t>(n)] = service.pid();
      service.close();
      const int code = service.wait_for();
      closed_at[static_cast<std::size_t>(n)] = boot_ticks();
      if (code != 0 && unclean++ == 0) first_problem = fmt::format("service {}: exit {}", n, code);
    }
    // The round's handles are gone, so are its blocks: the host unlinks its own when the last
    // handle goes, and those a worker handed over once the task is dropped.
    for (const auto& name : blocks)
      stale += test::shm_block_exists(name) ? 1U : 0U;
    blocks_checked += blocks.size();
    blocks.clear();
  };
  auto sample = [&](std::size_t rss, int n) {
    samples[sampled] = rss;
    xs[sampled] = n;
    ys[sampled] = double(rss);
    ++sampled;
  };

  for (int n = 0; n < kServiceWarmUp; ++n)
    one(n);
  const Census warm = settle_to(idle);

  const auto t0 = Clock::now();
  sample(warm.rss, 0);
  for (int n = 0; n < services; ++n) {
    one(kServiceWarmUp + n);
    // Sampled once the reaper is done with the last service, not while it is destroying it.
    if ((n + 1) % kServicesPerSample == 0 || n + 1 == services) sample(settle_to(warm).rss, n + 1);
  }
  samples.resize(sampled);
  xs.resize(sampled);
  ys.resize(sampled);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const Census end = settle_to(warm);
  const double per_service = slope(xs, ys);

  print(fmt::format(
      "{}: {} services started and closed in sequence in {:.1f} s ({:.0f} ms each); after {} "
      "services -> end: RSS {} -> {} ({}), fds {} -> {}, threads {} -> {}; RSS slope {:.0f} "
      "B/service; samples (MiB) [{}]; {} blocks checked gone",
      label, services, seconds, 1000 * seconds / services, kServiceWarmUp, mib(warm.rss),
      mib(end.rss), signed_kib(warm.rss, end.rss), warm.fds, end.fds, warm.threads, end.threads,
      per_service, join_mib(samples), blocks_checked));

  EXPECT_EQ(unclean, 0U) << first_problem;
  // A new worker for every service. Not "distinct pids": a finished worker's pid may come
  // back after a wrap of pid_max; but the next service's worker is started while nothing has
  // had time to wrap.
  for (std::size_t i = 1; i < total; ++i) {
    EXPECT_NE(pids[i], pids[i - 1]) << "services " << i - 1 << " and " << i << " share a worker";
  }
  std::map<std::int64_t, std::uint64_t> groups;
  for (std::size_t i = 0; i < total; ++i)
    groups[pids[i]] = std::max(groups[pids[i]], closed_at[i]);
  EXPECT_EQ(warm.threads, idle.threads) << "the warm-up services left threads";
  EXPECT_EQ(warm.fds, idle.fds) << "the warm-up services left descriptors";
  EXPECT_EQ(end.threads, warm.threads) << "threads left behind";
  EXPECT_EQ(end.fds, warm.fds) << "descriptors left behind";
  if (kMeasureRss) {
    EXPECT_LT(end.rss, warm.rss + kRssMargin) << "RSS grew by " << signed_kib(warm.rss, end.rss);
    EXPECT_FALSE(monotone_growth(samples)) << "RSS grew at every sample: " << join_mib(samples);
    EXPECT_LT(per_service, kMaxSlopeBytesPerService) << "RSS trend: " << join_mib(samples);
  }

  const auto kids = workers_left();
  EXPECT_TRUE(kids.empty()) << kids.size() << " child process(es) left, first pid "
                            << (kids.empty() ? 0 : kids.front());
  const auto left = processes_in_groups(groups);
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) left in the workers' groups, first: "
                            << (left.empty() ? "" : left.front());
  EXPECT_EQ(stale, 0U) << "blocks left behind out of " << blocks_checked;
  EXPECT_EQ(registered_blocks(), 0U) << "blocks still in the crash registry";
}

// ---------------------------------------------------------------------------------------------
// The tests

TEST(SoakCppWorker, HundredThousandTasksOnOneService) {
  APPOSE_REQUIRE_WORKER_OPS();
  soak_tasks("C++ worker", cpp_service, cpp_workload(),
             {scaled(kTasks), scaled(kWarmUp), scaled(kBlock)});
}

TEST(SoakPythonWorker, HundredThousandTasksOnOneService) {
  APPOSE_REQUIRE_PYTHON_PEER();
  soak_tasks("Python worker", python_service, python_workload(),
             {scaled(kTasks), scaled(kWarmUp), scaled(kBlock)});
}

// Each service: a task with a host-made array (sum), one whose array the worker makes and
// hands over (make), then close.
TEST(SoakCppWorker, TwoHundredServicesInSequence) {
  APPOSE_REQUIRE_WORKER_OPS();
  soak_services("C++ worker", cpp_service, cpp_workload(),
                [](Service& s, int n, std::vector<std::string>& blocks) {
                  NDArray data = filled(4, double(n));
                  blocks.push_back(data.shm().name());
                  Task sum = s.task("sum", {{"data", data}});
                  sum.wait_for();
                  EXPECT_EQ(sum.outputs().at("total").get<double>(), 4.0 * n);
                  Task make = s.task("make", {{"n", 3}});
                  make.wait_for();
                  auto array = make.outputs().at("array").get<NDArray>();
                  blocks.push_back(array.shm().name());
                  EXPECT_EQ(array.span<double>()[2], 2.0);
                });
}

// Each service: a task with a host-made array input (attaching it starts Python's resource
// tracker in the worker's process group), then close.
TEST(SoakPythonWorker, TwoHundredServicesInSequence) {
  APPOSE_REQUIRE_PYTHON_PEER();
  soak_services("Python worker", python_service, python_workload(),
                [](Service& s, int n, std::vector<std::string>& blocks) {
                  NDArray data = filled(static_cast<std::size_t>(n % 3 + 1), 0.0);
                  blocks.push_back(data.shm().name());
                  Task task = s.task("x + data.shape[0]", {{"x", n}, {"data", data}});
                  task.wait_for();
                  EXPECT_EQ(task.result().get<std::int64_t>(), n + n % 3 + 1);
                });
}

}  // namespace
}  // namespace appose
