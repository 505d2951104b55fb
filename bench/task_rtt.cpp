// Empty-task round trip, in one run, for:
//   1. the raw floor: one line to a Python process that echoes it back (no Appose at all);
//   2. this C++ Service driving appose-python's worker, through the private-channel bootstrap
//      (the default) and launched plainly as the peers launch it;
//   3. appose-python's own Service driving the same worker;
//   4. appose-java's own Service driving the same worker, when its jars are given (the newest
//      appose-java this machine's Maven registry serves is 0.9.0, so that is what is measured).
// Prints median and p99 of each and the ratios. Not a test: run it on a quiet machine.
// bench/compare measures all of this too, next to start-up, handoff, big inputs and throughput.
//
// Usage: task_rtt <python with appose> [iterations] [appose-java lib dir]

#include <appose/appose.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "measure.hpp"

namespace {

namespace b = appose::bench;

std::vector<double> cpp_service(const std::string& python, int iterations,
                                appose::Channel channel) {
  appose::Service service = b::python_service(python, channel);
  auto us = b::round_trips(service, "None", iterations);
  b::stop(service);
  return us;
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
    const std::string job = fmt::format("rtt:{}:{}", iterations, b::kWarmup);
    b::Stats raw = b::stats(b::python_echo_floor(python, iterations));
    b::Stats cpp = b::stats(cpp_service(python, iterations, appose::Channel::private_fds));
    b::Stats plain = b::stats(cpp_service(python, iterations, appose::Channel::plain_stdio));
    b::Stats pys = b::stats(b::peer_samples(b::python_peer(python, {job}), job));
    std::optional<b::Stats> jvs;
    std::string java_version;
    if (argc > 3) {
      jvs = b::stats(b::peer_samples(b::java_peer(python, argv[3], {job}), job));
      java_version = b::java_lib_version(argv[3]);
    }
    fmt::print("empty-task round trip, {} iterations each (after {} warm-up), microseconds\n",
               iterations, b::kWarmup);
    fmt::print("{:<44} {:>10} {:>10}\n", "", "median", "p99");
    auto row = [](const std::string& what, const b::Stats& s) {
      fmt::print("{:<44} {:>10.1f} {:>10.1f}\n", what, s.median, s.p99);
    };
    row("raw pipe ping-pong (floor)", raw);
    row("appose-cpp service -> python worker", cpp);
    row("  same, plain stdio (no bootstrap)", plain);
    row("appose-python service -> python worker", pys);
    if (jvs) row(fmt::format("appose-java {} service -> python worker", java_version), *jvs);
    auto ratio = [](const char* what, const b::Stats& a, const b::Stats& c) {
      fmt::print("{:<34} median {:.2f}x, p99 {:.2f}x\n", what, a.median / c.median, a.p99 / c.p99);
    };
    ratio("ratio appose-python / appose-cpp:", pys, cpp);
    if (jvs) ratio("ratio appose-java / appose-cpp:", *jvs, cpp);
    ratio("ratio plain stdio / bootstrap:", plain, cpp);
    ratio("ratio appose-cpp / raw floor:", cpp, raw);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "task_rtt: %s\n", e.what());
    return 1;
  }
  return 0;
}
