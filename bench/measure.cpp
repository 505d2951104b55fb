// The shared measurements of the benchmark programs; see measure.hpp.

#include "measure.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "child.hpp"

namespace appose::bench {

namespace {

/// The last few lines of a child's stderr, for an error message that says why it failed.
std::string tail(const std::string& text, std::size_t max_chars = 800) {
  if (text.size() <= max_chars) return text;
  return "..." + text.substr(text.size() - max_chars);
}

/// The jobs a peer printed. A job it never got to (it crashed, or was killed at the deadline)
/// is missing, and peer_samples() says why.
PeerResults parse_peer_output(const ChildOutput& child, std::string_view who) {
  PeerResults results;
  std::istringstream lines(child.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string job, word;
    if (!(words >> job)) continue;
    PeerJob& r = results[job];
    while (words >> word) {
      if (word == "!") {  // the peer's own account of a failure, to the end of the line
        std::getline(words, r.failure);
        r.failure.erase(0, r.failure.find_first_not_of(' '));
        break;
      }
      r.samples.push_back(std::stod(word));
    }
  }
  std::string why;
  if (child.timed_out) {
    why = fmt::format("{} was killed at its deadline", who);
  } else if (child.exit_code != 0) {
    why = fmt::format("{} exited with {}", who, child.exit_code);
  }
  if (!why.empty()) {
    std::string err = tail(child.err);
    results[""].failure = err.empty() ? why : why + ": " + err;
  }
  return results;
}

}  // namespace

PinnedToCpu::PinnedToCpu(int cpu) {
  if (::sched_getaffinity(0, sizeof before_, &before_) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  }
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    throw std::system_error(EINVAL, std::generic_category(), fmt::format("CPU {}", cpu));
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(static_cast<std::size_t>(cpu), &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("sched_setaffinity to CPU {}", cpu));
  }
}

PinnedToCpu::~PinnedToCpu() {
  ::sched_setaffinity(0, sizeof before_, &before_);
}

std::string read_line(int fd, std::string& buffer) {
  while (true) {
    auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("the child closed its stdout");
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

ChildOutput run_child(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  Child process = Child::spawn(argv);
  process.close_stdin();
  ChildOutput result;
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{process.stdout_fd(), POLLIN, 0}, {process.stderr_fd(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      process.kill();
      result.timed_out = true;
      break;
    }
    int ready = ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category());
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char chunk[65536];
      ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        sinks[i]->append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // EOF (or a dead pipe): poll ignores negative descriptors
        --open;
      }
    }
  }
  result.exit_code = process.wait();
  return result;
}

std::vector<double> peer_samples(const PeerResults& results, const std::string& job) {
  auto it = results.find(job);
  if (it != results.end() && it->second.failure.empty()) return it->second.samples;
  if (it != results.end()) throw std::runtime_error(it->second.failure);
  auto whole = results.find("");
  throw std::runtime_error(whole != results.end() ? whole->second.failure
                                                  : "the peer did not run " + job);
}

// ---- floors --------------------------------------------------------------------------------

std::vector<double> echo_round_trips(Child& process, const std::string& line, int iterations) {
  std::string buffer;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations + kWarmup; ++i) {
    auto t0 = Clock::now();
    if (!process.write_stdin(line)) throw std::runtime_error("write to the echo process failed");
    read_line(process.stdout_fd(), buffer);
    double d = micros_since(t0);
    if (i >= kWarmup) us.push_back(d);
  }
  process.close_stdin();
  process.wait();
  return us;
}

std::vector<double> python_echo_floor(const std::string& python, int iterations) {
  Child process = Child::spawn(
      {python, "-u", "-c",
       "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()"});
  return echo_round_trips(
      process, "{\"task\":\"0123456789abcdef0123456789abcdef\",\"requestType\":\"PING\"}\n",
      iterations);
}

std::vector<double> cat_floor(int iterations) {
  Child process = Child::spawn({"cat"});
  return echo_round_trips(process, std::string(kExecuteLine), iterations);
}

std::vector<double> bare_worker(const std::string& worker_ops, int iterations,
                                std::string_view operation) {
  Child process = Child::spawn({worker_ops}, {{"APPOSE_WORKER_HELLO", "0"}});
  std::string buffer;
  std::vector<double> us;
  for (int i = 0; i < iterations + kWarmup; ++i) {
    std::string request = fmt::format(
        R"({{"task":"{:032x}","requestType":"EXECUTE","script":"{}","inputs":{{}},"queue":null}})"
        "\n",
        i, operation);
    auto t0 = Clock::now();
    if (!process.write_stdin(request)) throw std::runtime_error("write to the worker failed");
    while (read_line(process.stdout_fd(), buffer).find("COMPLETION") == std::string::npos) {
    }
    double d = micros_since(t0);
    if (i >= kWarmup) us.push_back(d);
  }
  process.close_stdin();
  process.wait();
  return us;
}

// ---- this library's Service ----------------------------------------------------------------

appose::Service python_service(const std::string& python, appose::Channel channel) {
  auto slash = python.rfind('/');
  std::string dir = slash == std::string::npos ? std::string(".") : python.substr(0, slash);
  appose::Environment env(".", {dir});
  return env.python(channel);
}

appose::Service python_code_service(const std::string& python, std::string_view code) {
  appose::ServiceConfig config;
  config.command = {python, "-c", std::string(code)};
  config.kind = appose::WorkerKind::python;
  appose::Service service(std::move(config));
  service.syntax("python");
  return service;
}

std::vector<double> process_times(const std::vector<std::string>& argv, int runs) {
  std::vector<double> us;
  for (int i = 0; i <= runs; ++i) {
    auto t0 = Clock::now();
    ChildOutput child = run_child(argv);
    double d = micros_since(t0);
    if (child.timed_out || child.exit_code != 0) {
      throw std::runtime_error(
          fmt::format("{} exited with {}: {}", argv.front(), child.exit_code, tail(child.err)));
    }
    if (i > 0) us.push_back(d);
  }
  return us;
}

std::vector<double> ndarray_handoff(appose::Service& service, std::size_t bytes, int iterations) {
  const std::uint64_t n = bytes / sizeof(float);
  appose::NDArray data(appose::DType::float32, appose::Shape{n});
  data.span<float>()[n - 1] = 1.5f;
  const appose::Args inputs{{"data", data}};
  std::vector<double> us;
  for (int i = 0; i < iterations + kWarmup; ++i) {
    appose::Task task = service.task("float(data.ndarray()[-1])", inputs);
    auto t0 = Clock::now();
    task.wait_for();
    double d = micros_since(t0);
    if (i == 0 && task.result().get<double>() != 1.5) {
      throw std::runtime_error("the worker read a different last element");
    }
    if (i >= kWarmup) us.push_back(d);
  }
  return us;
}

appose::Array json_payload(std::size_t count) {
  // Seven-digit integers: eight bytes each on the wire with the comma, and not all alike, so
  // nothing along the way gets to take a shortcut.
  appose::Array items;
  items.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    items.emplace_back(static_cast<std::int64_t>(1000000 + (i * 7919) % 9000000));
  return items;
}

std::vector<double> json_input(appose::Service& service, std::size_t count, int iterations) {
  const appose::Args inputs{{"data", json_payload(count)}};
  std::vector<double> us;
  for (int i = 0; i <= iterations; ++i) {
    appose::Task task = service.task("len(data)", inputs);  // the copy is not timed
    auto t0 = Clock::now();
    task.wait_for();
    double d = micros_since(t0);
    if (i == 0 && task.result().get<std::int64_t>() != static_cast<std::int64_t>(count)) {
      throw std::runtime_error("the worker saw a list of another length");
    }
    if (i > 0) us.push_back(d);
  }
  return us;
}

std::optional<std::size_t> shm_free_bytes() {
  struct statvfs fs {};
  if (::statvfs("/dev/shm", &fs) != 0) return std::nullopt;
  return static_cast<std::size_t>(fs.f_bavail) * static_cast<std::size_t>(fs.f_frsize);
}

// ---- the peers -----------------------------------------------------------------------------

PeerResults python_peer(const std::string& python, const std::vector<std::string>& jobs) {
  std::vector<std::string> argv = {python, APPOSE_BENCH_DIR "/python/peer_bench.py"};
  argv.insert(argv.end(), jobs.begin(), jobs.end());
  return parse_peer_output(run_child(argv), "appose-python's benchmark");
}

PeerResults java_peer(const std::string& python, const std::string& lib_dir,
                      const std::vector<std::string>& jobs) {
  std::vector<std::string> jars;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(lib_dir, ec)) {
    if (e.path().extension() == ".jar") jars.push_back(e.path().string());
  }
  if (ec) throw std::runtime_error(fmt::format("cannot read {}: {}", lib_dir, ec.message()));
  if (jars.empty()) throw std::runtime_error("no jars in " + lib_dir);
  std::sort(jars.begin(), jars.end());
  std::vector<std::string> argv = {"java", "-cp", fmt::format("{}", fmt::join(jars, ":")),
                                   APPOSE_BENCH_DIR "/java/PeerBench.java", python};
  argv.insert(argv.end(), jobs.begin(), jobs.end());
  return parse_peer_output(run_child(argv), "appose-java's benchmark");
}

std::string java_lib_version(const std::string& lib_dir) {
  static const std::regex jar(R"(appose-([0-9][0-9A-Za-z.\-]*)\.jar)");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(lib_dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, jar)) return m[1].str();
  }
  return "";
}

}  // namespace appose::bench
