// The measurements that need only the public API; see portable.hpp.

#include "portable.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace appose::bench {

namespace {

double percentile(std::vector<double>& sorted, double q) {
  return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))];
}

}  // namespace

Stats stats(std::vector<double> samples) {
  if (samples.empty()) throw std::runtime_error("no samples");
  std::sort(samples.begin(), samples.end());
  return {percentile(samples, 0.5), percentile(samples, 0.99), samples.size()};
}

Stats rate_stats(std::vector<double> samples) {
  if (samples.empty()) throw std::runtime_error("no samples");
  std::sort(samples.begin(), samples.end());
  return {percentile(samples, 0.5), percentile(samples, 0.01), samples.size()};
}

double micros_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

appose::Service cpp_worker_service(const std::string& worker_ops) {
  appose::ServiceConfig config;
  config.command = {worker_ops};
  return appose::Service(std::move(config));
}

void stop(appose::Service& service) {
  service.close();
  service.wait_for();
}

std::vector<double> round_trips(appose::Service& service, const std::string& script,
                                int iterations) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations + kWarmup; ++i) {
    auto t0 = Clock::now();
    service.task(script).wait_for();
    double d = micros_since(t0);
    if (i >= kWarmup) us.push_back(d);
  }
  return us;
}

std::vector<double> in_flight(appose::Service& service, const std::string& script, int total,
                              int window) {
  if (window < 1 || total < 3 * window) {
    throw std::invalid_argument("in_flight: need at least three windows of tasks");
  }
  service.task(script).wait_for();  // started and warm
  std::deque<appose::Task> ring;
  std::vector<Clock::time_point> done;
  done.reserve(static_cast<std::size_t>(total));
  int started = 0;
  auto launch = [&] {
    ring.push_back(service.task(script));
    ring.back().start();
    ++started;
  };
  while (started < window)
    launch();
  // Waiting for the oldest keeps `window` in flight as long as tasks finish in order, which a
  // single pipe nearly guarantees; one finishing early is simply counted when its turn comes.
  while (!ring.empty()) {
    if (!ring.front().wait_for(kStall)) {
      std::size_t invalid = service.invalid_lines().size();
      service.kill();
      throw std::runtime_error(fmt::format(
          "stalled: a task unfinished after {} s, {} of {} completed, {} invalid lines from the "
          "worker",
          kStall.count(), done.size(), total, invalid));
    }
    done.push_back(Clock::now());
    ring.pop_front();
    if (started < total) launch();
  }
  const auto w = static_cast<std::size_t>(window);
  std::vector<double> rates;
  for (std::size_t k = 1; (k + 2) * w <= done.size(); ++k) {
    double seconds = std::chrono::duration<double>(done[(k + 1) * w - 1] - done[k * w - 1]).count();
    rates.push_back(static_cast<double>(w) / seconds);
  }
  return rates;
}

}  // namespace appose::bench
