// The native C++ worker (examples/worker_ops), in one run:
//   1. the raw floor: one line to `cat`, which echoes it back (no Appose, no JSON at all);
//   2. the C++ worker fed by hand (no Service): what the worker SDK alone costs;
//   3. this C++ Service driving the C++ worker (empty task: the `noop` operation);
//   4. this C++ Service driving appose-python's worker (empty task: the script `None`);
//   5. throughput: N tasks started at once, then all waited, on the C++ worker.
// Prints median and p99 of each round trip and the ratios. Not a test: run it on a quiet
// machine, from a Release build. bench/compare measures rows 1-4 too, and the throughput with
// 64 tasks in flight rather than all at once.
//
// Usage: worker_rtt <worker_ops> <python with appose> [iterations] [pipelined tasks]

#include <appose/appose.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "measure.hpp"

namespace {

namespace b = appose::bench;

std::vector<double> service_rtt(appose::Service service, const std::string& script,
                                int iterations) {
  auto us = b::round_trips(service, script, iterations);
  b::stop(service);
  return us;
}

/// Tasks per second with `n` tasks in flight at once (all started, then all waited).
double pipelined(const std::string& worker_ops, int n) {
  appose::Service service = b::cpp_worker_service(worker_ops);
  service.task("noop").wait_for();  // started and warm
  std::vector<appose::Task> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    tasks.push_back(service.task("noop"));
  auto t0 = b::Clock::now();
  for (auto& t : tasks)
    t.start();
  for (auto& t : tasks)
    t.wait_for();
  double seconds = b::micros_since(t0) / 1e6;
  tasks.clear();
  b::stop(service);
  return n / seconds;
}

void row(const char* what, const b::Stats& s) {
  fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", what, s.median, s.p99);
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
    b::Stats raw = b::stats(b::cat_floor(iterations));
    b::Stats bare = b::stats(b::bare_worker(worker_ops, iterations, "noop"));
    b::Stats cpp = b::stats(service_rtt(b::cpp_worker_service(worker_ops), "noop", iterations));
    b::Stats py = b::stats(service_rtt(b::python_service(python), "None", iterations));
    double throughput = pipelined(worker_ops, pipelined_tasks);

    fmt::print("empty-task round trip, {} iterations each (after {} warm-up), microseconds\n",
               iterations, b::kWarmup);
    fmt::print("{:<44} {:>10} {:>10}\n", "", "median", "p99");
    row("raw pipe ping-pong through cat (floor)", raw);
    row("bare client -> C++ worker (no service)", bare);
    row("appose-cpp service -> C++ worker", cpp);
    row("appose-cpp service -> python worker", py);
    fmt::print("ratio C++ worker / raw floor:       median {:.2f}x, p99 {:.2f}x\n",
               cpp.median / raw.median, cpp.p99 / raw.p99);
    fmt::print("ratio bare C++ worker / raw floor:  median {:.2f}x, p99 {:.2f}x\n",
               bare.median / raw.median, bare.p99 / raw.p99);
    fmt::print("ratio python worker / C++ worker:   median {:.2f}x, p99 {:.2f}x\n",
               py.median / cpp.median, py.p99 / cpp.p99);
    fmt::print("throughput, {} pipelined empty tasks on the C++ worker: {:.0f} tasks/s\n",
               pipelined_tasks, throughput);
    fmt::print("  (sequential equivalent at the median round trip: {:.0f} tasks/s, {:.1f}x less)\n",
               1e6 / cpp.median, throughput / (1e6 / cpp.median));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
