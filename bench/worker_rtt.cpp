// The native C++ worker (examples/worker_ops), in one run:
//   1. the raw floor: one line to `cat`, which echoes it back (no Appose, no JSON at all);
//   2. the C++ worker fed by hand (no Service): what the worker SDK alone costs;
//   3. this C++ Service driving the C++ worker (empty task: the `noop` operation);
//   4. this C++ Service driving appose-python's worker (empty task: the script `None`);
//   5. throughput: N tasks started at once, then all waited, on the C++ worker.
// Prints median and p99 of each round trip and the ratios. Not a test: run it on a quiet
// machine, from a Release build.
//
// Usage: worker_rtt <worker_ops> <python with appose> [iterations] [pipelined tasks]

#include <appose/appose.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "platform/process.hpp"

namespace {

using appose::bench::Clock;
using appose::bench::micros_since;
using appose::bench::read_line;
using appose::bench::Stats;
using appose::bench::stats;
constexpr int kWarmup = 20;

/// A line of the size of an EXECUTE request through `cat` and back: the pipes and two context
/// switches, the least any worker can cost.
std::vector<double> raw_floor(int iterations) {
  appose::detail::SpawnOptions options;
  options.argv = {"cat"};
  auto process = appose::detail::Process::spawn(options);
  std::string buffer;
  const std::string ping =
      R"({"task":"0123456789abcdef0123456789abcdef","requestType":"EXECUTE","script":"noop","inputs":{},"queue":null})"
      "\n";
  std::vector<double> us;
  for (int i = 0; i < iterations + kWarmup; ++i) {
    auto t0 = Clock::now();
    if (process.write_stdin(ping)) throw std::runtime_error("write to cat failed");
    read_line(process.stdout_fd(), buffer);
    if (i >= kWarmup) us.push_back(micros_since(t0));
  }
  process.close_stdin();
  process.wait();
  return us;
}

/// The C++ worker without a Service: the request written and the lines read here, up to the
/// COMPLETION. What the worker SDK costs on its own, without the service's threads.
std::vector<double> bare_worker(const std::string& worker_ops, int iterations) {
  appose::detail::SpawnOptions options;
  options.argv = {worker_ops};
  options.env.emplace("APPOSE_WORKER_HELLO", std::string(1, '0'));
  auto process = appose::detail::Process::spawn(options);
  std::string buffer;
  std::vector<double> us;
  for (int i = 0; i < iterations + kWarmup; ++i) {
    std::string request = fmt::format(
        R"({{"task":"{:032x}","requestType":"EXECUTE","script":"noop","inputs":{{}},"queue":null}})"
        "\n",
        i);
    auto t0 = Clock::now();
    if (process.write_stdin(request)) throw std::runtime_error("write to the worker failed");
    while (read_line(process.stdout_fd(), buffer).find("COMPLETION") == std::string::npos) {
    }
    if (i >= kWarmup) us.push_back(micros_since(t0));
  }
  process.close_stdin();
  process.wait();
  return us;
}

std::vector<double> round_trips(appose::Service service, const std::string& script,
                                int iterations) {
  std::vector<double> us;
  for (int i = 0; i < iterations + kWarmup; ++i) {
    auto t0 = Clock::now();
    service.task(script).wait_for();
    if (i >= kWarmup) us.push_back(micros_since(t0));
  }
  service.close();
  service.wait_for();
  return us;
}

appose::Service cpp_worker(const std::string& worker_ops) {
  appose::ServiceConfig config;
  config.command = {worker_ops};
  return appose::Service(std::move(config));
}

/// Tasks per second with `n` tasks in flight at once (all started, then all waited).
double pipelined(const std::string& worker_ops, int n) {
  appose::Service service = cpp_worker(worker_ops);
  service.task("noop").wait_for();  // started and warm
  std::vector<appose::Task> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    tasks.push_back(service.task("noop"));
  auto t0 = Clock::now();
  for (auto& t : tasks)
    t.start();
  for (auto& t : tasks)
    t.wait_for();
  double seconds = micros_since(t0) / 1e6;
  tasks.clear();
  service.close();
  service.wait_for();
  return n / seconds;
}

void row(const char* what, const Stats& s) {
  fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", what, s.median_us, s.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s <worker_ops> <python with appose> [iterations] [pipelined tasks]\n",
                 argv[0]);
    return 2;
  }
  std::string worker_ops = argv[1];
  std::string python = argv[2];
  int iterations = argc > 3 ? std::stoi(argv[3]) : 2000;
  int pipelined_tasks = argc > 4 ? std::stoi(argv[4]) : 10000;
  try {
    Stats raw = stats(raw_floor(iterations));
    Stats bare = stats(bare_worker(worker_ops, iterations));
    Stats cpp = stats(round_trips(cpp_worker(worker_ops), "noop", iterations));
    appose::Environment env(".", {python.substr(0, python.rfind('/'))});
    Stats py = stats(round_trips(env.python(), "None", iterations));
    double throughput = pipelined(worker_ops, pipelined_tasks);

    fmt::print("empty-task round trip, {} iterations each (after {} warm-up), microseconds\n",
               iterations, kWarmup);
    fmt::print("{:<44} {:>10} {:>10}\n", "", "median", "p99");
    row("raw pipe ping-pong through cat (floor)", raw);
    row("bare client -> C++ worker (no service)", bare);
    row("appose-cpp service -> C++ worker", cpp);
    row("appose-cpp service -> python worker", py);
    fmt::print("ratio C++ worker / raw floor:       median {:.2f}x, p99 {:.2f}x\n",
               cpp.median_us / raw.median_us, cpp.p99_us / raw.p99_us);
    fmt::print("ratio bare C++ worker / raw floor:  median {:.2f}x, p99 {:.2f}x\n",
               bare.median_us / raw.median_us, bare.p99_us / raw.p99_us);
    fmt::print("ratio python worker / C++ worker:   median {:.2f}x, p99 {:.2f}x\n",
               py.median_us / cpp.median_us, py.p99_us / cpp.p99_us);
    fmt::print("throughput, {} pipelined empty tasks on the C++ worker: {:.0f} tasks/s\n",
               pipelined_tasks, throughput);
    fmt::print("  (sequential equivalent at the median round trip: {:.0f} tasks/s, {:.1f}x less)\n",
               1e6 / cpp.median_us, throughput / (1e6 / cpp.median_us));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
