#pragma once

// The measurements of the benchmark programs that need nothing but the public API, so that
// they build on every system: the statistics, and this library's Service on the C++ worker
// (round trips, tasks in flight, start-up). bench/measure.hpp adds the POSIX ones (the floors,
// the peers) for bench/compare, task_rtt, worker_rtt and hops; bench/wine_rows.cpp uses these
// alone, on Windows too.

#include <appose/appose.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace appose::bench {

/// The clock every measurement reads.
using Clock = std::chrono::steady_clock;

/// The line the raw pipe floors send: as long as an EXECUTE request of the `noop` task.
constexpr std::string_view kExecuteLine =
    R"({"task":"0123456789abcdef0123456789abcdef","requestType":"EXECUTE","script":"noop","inputs":{},"queue":null})"
    "\n";

/// Round trips dropped before timing starts: the first ones pay for imports and cold caches.
constexpr int kWarmup = 20;

/// A series summed up: its median, its slow tail, and how many samples it had.
struct Stats {
  double median = 0;
  /// The slow tail: the 99th percentile of times, or the 1st percentile of rates.
  double p99 = 0;
  std::size_t n = 0;
};

/// Median and 99th percentile of times (lower is better).
Stats stats(std::vector<double> samples);
/// Median and 1st percentile of rates (higher is better): the tail is the slow side either way.
Stats rate_stats(std::vector<double> samples);

/// Microseconds from `t0` until now.
double micros_since(Clock::time_point t0);

/// This library's service on the C++ worker (examples/worker_ops).
appose::Service cpp_worker_service(const std::string& worker_ops);
/// Closes the service and waits for its worker to exit.
void stop(appose::Service& service);

/// Sequential round trips of `script` with no inputs (kWarmup of them untimed first).
std::vector<double> round_trips(appose::Service& service, const std::string& script,
                                int iterations);
/// Wall time from making a service (make()) until its first `script` task has completed,
/// `runs` times, each on a fresh worker (one more untimed run first).
template <typename Make>
std::vector<double> startup_times(Make make, const std::string& script, int runs);

/// How long the oldest task in flight may stay unfinished before in_flight() gives up. Far
/// beyond any healthy empty task; what it catches is a worker whose responses were lost.
constexpr std::chrono::seconds kStall{3};

/// Tasks per second with `window` tasks in flight: `window` are started, then each time the
/// oldest completes a new one starts. Returns the rate of each run of `window` consecutive
/// completions, leaving out the first (the pipe filling up) and the last (draining). Throws,
/// after killing the worker, if the oldest task stalls for kStall.
std::vector<double> in_flight(appose::Service& service, const std::string& script, int total,
                              int window);

// ---- template definitions ------------------------------------------------------------------

template <typename Make>
std::vector<double> startup_times(Make make, const std::string& script, int runs) {
  std::vector<double> us;
  for (int i = 0; i <= runs; ++i) {
    auto t0 = Clock::now();
    appose::Service service = make();
    service.task(script).wait_for();
    double d = micros_since(t0);
    stop(service);
    if (i > 0) us.push_back(d);
  }
  return us;
}

}  // namespace appose::bench
