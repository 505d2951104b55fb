// bench/hops: empty tasks one after another, appose-cpp service → C++ worker
// (examples/worker_ops, operation `noop`), and the context switches each thread of both
// processes made over them (issue 18: where the time of a round trip goes). Under callgrind
// (scripts/instructions.py) the same loop gives the instructions and allocations per task.
//
// Under callgrind, counts cover each process's whole life: start-up and shutdown are shared out
// over the tasks (about 0.1% of the total at 10,000 tasks, docs/benchmarks.md).
//
// Context switches come from /proc/<pid>/task/<tid>/status (voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches) of every thread, read before and after the loop: the threads'
// own counts, so the host's and the worker's hops can be told apart. Threads are listed in the
// order they were started in (by thread id, which Linux hands out in increasing order).
//
// Usage: hops <worker_ops> [tasks] [--pin CPU] [--op NAME] [--window N]
// (--op: the operation run, `noop` by default; `noop_immediate` for Dispatch::immediate;
// --window N: N tasks kept in flight, as in bench/compare's rows 6h and 6i, instead of one after
// another)
//   tasks      round trips after the first (default 10000; kWarmup more, counted too)
//   --pin CPU  this process, its threads and the worker on one CPU (see PinnedToCpu)

#include <appose/appose.hpp>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "measure.hpp"

namespace {

namespace b = appose::bench;

struct Switches {
  long voluntary = 0;
  long involuntary = 0;
};

/// Context switches of each thread of process `pid`, by thread id. A thread that has ended
/// is not listed: the hops of a round trip are made by threads that live throughout.
std::map<long, Switches> thread_switches(long pid) {
  std::map<long, Switches> threads;
  std::error_code ec;
  const std::string dir = fmt::format("/proc/{}/task", pid);
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    long tid = std::stol(entry.path().filename().string());
    std::ifstream status(entry.path() / "status");
    std::string line;
    Switches s;
    while (std::getline(status, line)) {
      auto value = [&] { return std::stol(line.substr(line.find(':') + 1)); };
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) s.voluntary = value();
      if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) s.involuntary = value();
    }
    threads[tid] = s;
  }
  if (ec) throw std::runtime_error(fmt::format("cannot list {}: {}", dir, ec.message()));
  return threads;
}

/// Prints each thread's context switches per task over the loop, and the process's sum.
void print_switches(const char* who, long pid, const std::map<long, Switches>& before,
                    const std::map<long, Switches>& after, double tasks) {
  double vol_sum = 0, inv_sum = 0;
  int index = 0;
  for (const auto& [tid, a] : after) {
    ++index;
    Switches s0;
    if (auto it = before.find(tid); it != before.end()) s0 = it->second;
    double vol = static_cast<double>(a.voluntary - s0.voluntary) / tasks;
    double inv = static_cast<double>(a.involuntary - s0.involuntary) / tasks;
    vol_sum += vol;
    inv_sum += inv;
    std::string label =
        fmt::format("{} thread {} (tid {}{})", who, index, tid, tid == pid ? ", main" : "");
    fmt::print("{:<36} {:>9.2f} {:>9.2f}\n", label, vol, inv);
  }
  fmt::print("{:<36} {:>9.2f} {:>9.2f}\n", fmt::format("{} all threads", who), vol_sum, inv_sum);
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s <worker_ops> [tasks] [--pin CPU] [--op NAME] [--window N]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::optional<int> pin;
  if (auto it = std::find(args.begin(), args.end(), "--pin"); it != args.end()) {
    if (it + 1 == args.end()) return usage(argv[0]);
    pin = std::stoi(*(it + 1));
    args.erase(it, it + 2);
  }
  std::string op = "noop";
  if (auto it = std::find(args.begin(), args.end(), "--op"); it != args.end()) {
    if (it + 1 == args.end()) return usage(argv[0]);
    op = *(it + 1);
    args.erase(it, it + 2);
  }
  int window = 0;
  if (auto it = std::find(args.begin(), args.end(), "--window"); it != args.end()) {
    if (it + 1 == args.end()) return usage(argv[0]);
    window = std::stoi(*(it + 1));
    args.erase(it, it + 2);
  }
  if (args.empty() || args.size() > 2) return usage(argv[0]);
  const std::string worker_ops = args[0];
  const int tasks = args.size() > 1 ? std::stoi(args[1]) : 10000;
  try {
    std::optional<b::PinnedToCpu> pinned;
    if (pin) pinned.emplace(*pin);
    appose::Service service = b::cpp_worker_service(worker_ops);
    service.task(op).wait_for();  // the worker is up, its threads started
    const long host = ::getpid();
    const long worker = static_cast<long>(service.pid());
    auto host_before = thread_switches(host);
    auto worker_before = thread_switches(worker);
    auto t0 = b::Clock::now();
    std::optional<b::Stats> rtt, rate;
    if (window > 0) {
      rate = b::rate_stats(b::in_flight(service, op, tasks + b::kWarmup, window));
    } else {
      rtt = b::stats(b::round_trips(service, op, tasks));
    }
    double seconds = b::micros_since(t0) / 1e6;
    auto host_after = thread_switches(host);
    auto worker_after = thread_switches(worker);
    b::stop(service);

    const double n = tasks + b::kWarmup;
    const std::string where = pin ? fmt::format(", pinned to CPU {}", *pin) : "";
    if (rtt) {
      fmt::print(
          "{} empty tasks (+{} warm-up, `{}`), appose-cpp service → C++ worker{}: {:.2f} s; "
          "round trip median {:.1f} µs, p99 {:.1f} µs\n",
          tasks, b::kWarmup, op, where, seconds, rtt->median, rtt->p99);
    } else {
      fmt::print(
          "{} empty tasks (+{} warm-up, `{}`, {} in flight), appose-cpp service → C++ worker{}: "
          "{:.2f} s; median {:.0f} tasks/s\n",
          tasks, b::kWarmup, op, window, where, seconds, rate->median);
    }
    fmt::print("{:<36} {:>9} {:>9}\n", "context switches per task", "voluntary", "involunt.");
    print_switches("host", host, host_before, host_after, n);
    print_switches("worker", worker, worker_before, worker_after, n);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hops: %s\n", e.what());
    return 1;
  }
  return 0;
}
