#pragma once

// What the cross-process benchmarks share: percentiles and reading a child's lines.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace appose::bench {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median_us = 0, p99_us = 0;
};

/// Median and 99th percentile of round-trip times in microseconds.
inline Stats stats(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  return {at(0.5), at(0.99)};
}

inline double micros_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

/// The next line from `fd` (without its newline); `buffer` keeps what was read beyond it.
inline std::string read_line(int fd, std::string& buffer) {
  while (true) {
    auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("the child closed its stdout");
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace appose::bench
