// bench/wine_rows: bench/compare's rows on the C++ worker, in a program that builds for
// Windows as well as Linux (bench/compare is POSIX throughout), so that the same rows can be
// measured under Wine and, for comparison, on Linux (docs/platforms.md, "Speed under Wine"):
//   2a  the raw pipe floor: an EXECUTE-sized line to a child that echoes it back (this program
//       again, with --echo: the same byte-echoing child on both systems; bench/compare uses
//       `cat`, which Windows lacks);
//   2c  this library's Service driving the C++ worker (examples/worker_ops, operation `noop`);
//   3e  start-up: a fresh Service on the C++ worker until its first task has completed;
//   6h  tasks per second with 64 in flight on the C++ worker.
// The Appose rows use the public API only (bench/portable.hpp); the floor is the least OS code
// a pipe to a child takes (posix_spawn through bench/child.hpp, CreateProcessW on Windows:
// bench/ includes no internal header, so this file has its own few lines of <windows.h>).
// Prints a markdown table like bench/compare's.
//
// Usage: wine_rows <worker_ops> [round trips] [start-ups] [in-flight windows]

#include <appose/appose.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "portable.hpp"

#ifdef _WIN32
// WIN32_LEAN_AND_MEAN and NOMINMAX come from CMake, as for the CLI.
#include <windows.h>
#else
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "child.hpp"
#include "measure.hpp"
#endif

namespace {

namespace b = appose::bench;

constexpr int kWindow = 64;

#ifdef _WIN32

/// Owns a HANDLE and closes it.
struct Handle {
  HANDLE h = nullptr;
  Handle() = default;
  explicit Handle(HANDLE handle) : h(handle) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() {
    if (h != nullptr && h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    h = nullptr;
  }
};

[[noreturn]] void fail(const char* what) {
  throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), what);
}

/// Writes all of `data` to `h`; false if the pipe is gone.
bool write_all(HANDLE h, std::string_view data) {
  while (!data.empty()) {
    DWORD n = 0;
    if (!::WriteFile(h, data.data(), static_cast<DWORD>(data.size()), &n, nullptr)) return false;
    data.remove_prefix(n);
  }
  return true;
}

/// One ReadFile; 0 at the end of the pipe (its writers gone: ERROR_BROKEN_PIPE) or on an error.
std::size_t read_some(HANDLE h, char* data, std::size_t size) {
  DWORD n = 0;
  while (::ReadFile(h, data, static_cast<DWORD>(size), &n, nullptr)) {
    if (n > 0) return n;  // a read of 0 bytes is a writer's empty write, not the end
  }
  return 0;
}

/// --echo: copies stdin to stdout until stdin ends, as `cat` does.
int echo() {
  HANDLE in = ::GetStdHandle(STD_INPUT_HANDLE);
  HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
  char buffer[4096];
  while (std::size_t n = read_some(in, buffer, sizeof buffer)) {
    if (!write_all(out, std::string_view(buffer, n))) return 1;
  }
  return 0;
}

/// The raw floor on Windows: this program started again with --echo (CreateProcessW, its
/// stdin and stdout anonymous pipes), one line written and read back per round trip.
std::vector<double> echo_floor(int iterations) {
  std::wstring self(32768, L'\0');
  self.resize(::GetModuleFileNameW(nullptr, self.data(), static_cast<DWORD>(self.size())));
  if (self.empty()) fail("GetModuleFileNameW");
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  Handle child_in, to_child, from_child, child_out;
  if (!::CreatePipe(&child_in.h, &to_child.h, &inherit, 0) ||
      !::CreatePipe(&from_child.h, &child_out.h, &inherit, 0)) {
    fail("CreatePipe");
  }
  // Only the child's ends are inherited: our ends open in the child would keep its stdin from
  // ever ending.
  if (!::SetHandleInformation(to_child.h, HANDLE_FLAG_INHERIT, 0) ||
      !::SetHandleInformation(from_child.h, HANDLE_FLAG_INHERIT, 0)) {
    fail("SetHandleInformation");
  }
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = child_in.h;
  startup.hStdOutput = child_out.h;
  startup.hStdError = ::GetStdHandle(STD_ERROR_HANDLE);
  std::wstring command = L"\"" + self + L"\" --echo";
  PROCESS_INFORMATION info{};
  if (!::CreateProcessW(self.c_str(), command.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW,
                        nullptr, nullptr, &startup, &info)) {
    fail("CreateProcessW (the echo child)");
  }
  Handle process(info.hProcess), thread(info.hThread);
  child_in.reset();
  child_out.reset();

  std::string buffer;
  char chunk[4096];
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations + b::kWarmup; ++i) {
    auto t0 = b::Clock::now();
    if (!write_all(to_child.h, b::kExecuteLine)) fail("write to the echo child");
    std::size_t nl;
    while ((nl = buffer.find('\n')) == std::string::npos) {
      std::size_t n = read_some(from_child.h, chunk, sizeof chunk);
      if (n == 0) throw std::runtime_error("the echo child ended");
      buffer.append(chunk, n);
    }
    double d = b::micros_since(t0);
    buffer.erase(0, nl + 1);
    if (i >= b::kWarmup) us.push_back(d);
  }
  to_child.reset();  // the child reads the end of its input and exits
  ::WaitForSingleObject(process.h, INFINITE);
  return us;
}

#else

/// --echo: copies stdin to stdout until stdin ends, as `cat` does.
int echo() {
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n == 0) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(STDOUT_FILENO, buffer + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno != EINTR) return 1;
      if (w > 0) off += w;
    }
  }
}

/// The raw floor on POSIX: this program started again with --echo.
std::vector<double> echo_floor(int iterations) {
  b::Child process =
      b::Child::spawn({std::filesystem::read_symlink("/proc/self/exe").string(), "--echo"});
  return b::echo_round_trips(process, std::string(b::kExecuteLine), iterations);
}

#endif

struct Row {
  std::string id, what, unit;
  std::optional<b::Stats> stats;
  std::string error;
};

Row measure(std::string id, std::string what, std::string unit,
            const std::function<b::Stats()>& run) {
  Row row{std::move(id), std::move(what), std::move(unit), std::nullopt, {}};
  fmt::print(stderr, "  {} {} ...\n", row.id, row.what);
  try {
    row.stats = run();
  } catch (const std::exception& e) {
    row.error = e.what();
    fmt::print(stderr, "  {} n/a: {}\n", row.id, row.error);
  }
  return row;
}

std::string number(double value, const Row& row) {
  if (row.unit == "ms") return fmt::format("{:.1f}", value / 1000);
  if (row.unit == "tasks/s") return fmt::format("{:.0f}", value);
  return fmt::format("{:.1f}", value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--echo") return echo();
  if (argc < 2 || argc > 5) {
    std::fprintf(stderr,
                 "usage: %s <worker_ops> [round trips (2000)] [start-ups (20)] "
                 "[in-flight windows (50)]\n",
                 argv[0]);
    return 2;
  }
  const std::string worker_ops = argv[1];
  try {
    const int rtt = argc > 2 ? std::stoi(argv[2]) : 2000;
    const int startups = argc > 3 ? std::stoi(argv[3]) : 20;
    const int windows = argc > 4 ? std::stoi(argv[4]) : 50;
    if (rtt < 1 || startups < 1 || windows < 1) throw std::invalid_argument("counts must be > 0");

    fmt::print(stderr, "bench/wine_rows: measuring ({} round trips, {} start-ups, {} windows)\n",
               rtt, startups, windows);
    std::vector<Row> rows;
    rows.push_back(measure("2a", "raw pipe floor: a line through an echo child and back", "µs",
                           [&] { return b::stats(echo_floor(rtt)); }));
    rows.push_back(measure("2c", "appose-cpp service → C++ worker", "µs", [&] {
      appose::Service service = b::cpp_worker_service(worker_ops);
      auto us = b::round_trips(service, "noop", rtt);
      b::stop(service);
      return b::stats(us);
    }));
    rows.push_back(measure("3e", "appose-cpp service → C++ worker: start + first task", "ms", [&] {
      return b::stats(
          b::startup_times([&] { return b::cpp_worker_service(worker_ops); }, "noop", startups));
    }));
    rows.push_back(measure("6h", "64 in flight: appose-cpp → C++ worker", "tasks/s", [&] {
      appose::Service service = b::cpp_worker_service(worker_ops);
      // Two more windows than measured: in_flight() leaves out the first and the last.
      auto rates = b::in_flight(service, "noop", (windows + 2) * kWindow, kWindow);
      b::stop(service);
      return b::rate_stats(rates);
    }));

    const std::optional<b::Stats>& floor = rows.front().stats;
    fmt::print("\n| # | what | n | median | p99 | unit | ratio (this / floor 2a) |\n");
    fmt::print("|---|---|--:|--:|--:|---|---|\n");
    for (const Row& row : rows) {
      if (!row.stats) {
        fmt::print("| {} | {} | | n/a | n/a | {} | |\n", row.id, row.what, row.unit);
        continue;
      }
      std::string ratio;
      if (floor && row.id == "2c") {
        ratio = fmt::format("{:.2f}× (p99 {:.2f}×)", row.stats->median / floor->median,
                            row.stats->p99 / floor->p99);
      } else if (floor && row.id == "6h") {
        // Against the round trips per second the floor allows one at a time.
        ratio = fmt::format("{:.2f}× the floor's {:.0f} round trips/s",
                            row.stats->median / (1e6 / floor->median), 1e6 / floor->median);
      }
      fmt::print("| {} | {} | {} | {} | {} | {} | {} |\n", row.id, row.what, row.stats->n,
                 number(row.stats->median, row), number(row.stats->p99, row), row.unit, ratio);
    }
    fmt::print(
        "\nTimes: lower is better, p99 is the 99th percentile. Rates (tasks/s): higher is "
        "better, the p99 column is the 1st percentile (the slowest 1% of windows of {} "
        "completions). Round trips: {} ({} warm-up untimed); start-up: {} (one untimed); in "
        "flight: {} windows of {}.\n",
        kWindow, rtt, b::kWarmup, startups, windows, kWindow);
    bool any_na = false;
    for (const Row& row : rows) {
      if (row.stats) continue;
      if (!any_na) fmt::print("n/a rows:\n");
      any_na = true;
      fmt::print("- {}: {}\n", row.id, row.error);
    }
    return any_na ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wine_rows: %s\n", e.what());
    return 1;
  }
}
