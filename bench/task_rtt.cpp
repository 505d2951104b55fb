// Empty-task round trip, in one run, for:
//   1. the raw floor: one line to a Python process that echoes it back (no Appose at all);
//   2. this C++ Service driving appose-python's worker, through the private-channel bootstrap
//      (the default) and launched plainly as the peers launch it;
//   3. appose-python's own Service driving the same worker;
//   4. appose-java's own Service driving the same worker, when its jars are given (the newest
//      appose-java this machine's Maven registry serves is 0.9.0, so that is what is measured).
// Prints median and p99 of each and the ratios. Not a test: run it on a quiet machine.
//
// Usage: task_rtt <python with appose> [iterations] [appose-java lib dir]

#include <appose/appose.hpp>

#include <fmt/format.h>
#include <poll.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
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

std::vector<double> raw_floor(const std::string& python, int iterations) {
  appose::detail::SpawnOptions options;
  options.argv = {
      python, "-u", "-c",
      "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()"};
  auto process = appose::detail::Process::spawn(options);
  std::string buffer,
      ping = "{\"task\":\"0123456789abcdef0123456789abcdef\",\"requestType\":\"PING\"}\n";
  std::vector<double> us;
  for (int i = 0; i < iterations + 20; ++i) {
    auto t0 = Clock::now();
    if (process.write_stdin(ping)) throw std::runtime_error("write failed");
    read_line(process.stdout_fd(), buffer);
    double d = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (i >= 20) us.push_back(d);
  }
  process.close_stdin();
  process.wait();
  return us;
}

std::vector<double> cpp_service(const std::string& python, int iterations,
                                appose::Channel channel) {
  appose::Environment env(".", {python.substr(0, python.rfind('/'))});
  appose::Service service = env.python(channel);
  std::vector<double> us;
  for (int i = 0; i < iterations + 20; ++i) {
    auto t0 = Clock::now();
    service.task("None").wait_for();
    double d = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (i >= 20) us.push_back(d);
  }
  service.close();
  service.wait_for();
  return us;
}

std::vector<double> parse_numbers(const std::string& line) {
  std::vector<double> us;
  std::size_t pos = 0;
  while (pos < line.size()) {
    std::size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    if (end > pos) us.push_back(std::stod(line.substr(pos, end - pos)));
    pos = end + 1;
  }
  return us;
}

/// appose-java's Service, timed inside the JVM (bench/java/TaskRtt.java, no javac step).
std::vector<double> java_service(const std::string& python, int iterations,
                                 const std::string& lib_dir) {
  std::vector<std::string> jars;
  for (const auto& e : std::filesystem::directory_iterator(lib_dir)) {
    if (e.path().extension() == ".jar") jars.push_back(e.path().string());
  }
  if (jars.empty()) throw std::runtime_error("no jars in " + lib_dir);
  appose::detail::SpawnOptions options;
  options.argv = {"java",
                  "-cp",
                  fmt::format("{}", fmt::join(jars, ":")),
                  APPOSE_BENCH_JAVA_DIR "/TaskRtt.java",
                  python,
                  std::to_string(iterations + 20)};
  auto process = appose::detail::Process::spawn(options);
  process.close_stdin();
  std::string buffer;
  std::string line = read_line(process.stdout_fd(), buffer);
  process.wait();
  auto us = parse_numbers(line);
  if (us.empty()) throw std::runtime_error("appose-java's service printed no timings");
  return us;
}

std::vector<double> python_service(const std::string& python, int iterations) {
  // appose-python's Service, timed inside Python, same worker command line.
  std::string script = fmt::format(R"PY(import sys, time
from appose.service import Service
s = Service(".", None, sys.executable, "-c", "import appose.python_worker; appose.python_worker.main()")
out = []
for i in range({}):
    t0 = time.perf_counter()
    s.task("None").wait_for()
    out.append((time.perf_counter() - t0) * 1e6)
s.close()
print(" ".join(f"{{x:.1f}}" for x in out[20:]))
)PY",
                                   iterations + 20);
  appose::detail::SpawnOptions options;
  options.argv = {python, "-c", script};
  auto process = appose::detail::Process::spawn(options);
  process.close_stdin();
  std::string buffer;
  std::string line = read_line(process.stdout_fd(), buffer);
  process.wait();
  return parse_numbers(line);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <python with appose> [iterations] [appose-java lib dir]\n",
                 argv[0]);
    return 2;
  }
  std::string python = argv[1];
  int iterations = argc > 2 ? std::stoi(argv[2]) : 2000;
  try {
    Stats raw = stats(raw_floor(python, iterations));
    Stats cpp = stats(cpp_service(python, iterations, appose::Channel::private_fds));
    Stats plain = stats(cpp_service(python, iterations, appose::Channel::plain_stdio));
    Stats pys = stats(python_service(python, iterations));
    std::optional<Stats> jvs;
    if (argc > 3) jvs = stats(java_service(python, iterations, argv[3]));
    fmt::print("empty-task round trip, {} iterations each (after 20 warm-up), microseconds\n",
               iterations);
    fmt::print("{:<44} {:>10} {:>10}\n", "", "median", "p99");
    fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", "raw pipe ping-pong (floor)", raw.median_us,
               raw.p99_us);
    fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", "appose-cpp service -> python worker", cpp.median_us,
               cpp.p99_us);
    fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", "  same, plain stdio (no bootstrap)",
               plain.median_us, plain.p99_us);
    fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", "appose-python service -> python worker",
               pys.median_us, pys.p99_us);
    if (jvs) {
      fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", "appose-java 0.9.0 service -> python worker",
                 jvs->median_us, jvs->p99_us);
    }
    fmt::print("ratio appose-python / appose-cpp: median {:.2f}x, p99 {:.2f}x\n",
               pys.median_us / cpp.median_us, pys.p99_us / cpp.p99_us);
    if (jvs) {
      fmt::print("ratio appose-java / appose-cpp:   median {:.2f}x, p99 {:.2f}x\n",
                 jvs->median_us / cpp.median_us, jvs->p99_us / cpp.p99_us);
    }
    fmt::print("ratio plain stdio / bootstrap:    median {:.2f}x, p99 {:.2f}x\n",
               plain.median_us / cpp.median_us, plain.p99_us / cpp.p99_us);
    fmt::print("ratio appose-cpp / raw floor:     median {:.2f}x, p99 {:.2f}x\n",
               cpp.median_us / raw.median_us, cpp.p99_us / raw.p99_us);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "task_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
