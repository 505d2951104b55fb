#pragma once

// What the Windows process and pump tests share: where the child program (child_main.cpp) is,
// a pump handler that collects what it is told, running a child to its end, temporary
// directories, and watching processes by pid.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "platform/output_pump.hpp"
#include "platform/process.hpp"
#include "platform/windows/process_native.hpp"
#include "platform/windows/win32.hpp"
#include "util/random.hpp"

namespace appose::test::win {

namespace platform = appose::detail::platform;
namespace win32 = appose::detail::platform::win32;
namespace fs = std::filesystem;

/// The child program: APPOSE_WIN_CHILD (a Windows path) when the build defines it, else
/// appose_win_child.exe beside the test program.
inline std::string child_path() {
#ifdef APPOSE_WIN_CHILD
  return APPOSE_WIN_CHILD;
#else
  std::wstring self(32768, L'\0');
  self.resize(::GetModuleFileNameW(nullptr, self.data(), static_cast<DWORD>(self.size())));
  return win32::to_utf8((fs::path(self).parent_path() / L"appose_win_child.exe").wstring());
#endif
}

/// The options that start the child with `args` (its mode first).
inline platform::SpawnOptions child(std::vector<std::string> args) {
  platform::SpawnOptions o;
  o.argv = {child_path()};
  for (auto& a : args)
    o.argv.push_back(std::move(a));
  return o;
}

/// Collects what the pump reports; `on_line` (if set) runs for each line after it is stored.
class Collector : public platform::PumpHandler {
 public:
  void line(platform::OutputStream stream, std::string& line, std::size_t dropped) override {
    auto& lines = stream == platform::OutputStream::out ? out : err;
    lines.push_back(line);
    (stream == platform::OutputStream::out ? out_dropped : err_dropped).push_back(dropped);
    if (on_line) on_line(stream, lines.back());
  }
  void closed(platform::OutputStream stream) override {
    ++(stream == platform::OutputStream::out ? out_closed : err_closed);
  }
  void exited() override {
    ++exits;
    exit_time = Clock::now();
  }
  void woken() override {
    ++wakes;
    if (on_woken) on_woken();
  }

  std::vector<std::string> out, err;
  std::vector<std::size_t> out_dropped, err_dropped;
  int out_closed = 0, err_closed = 0, exits = 0, wakes = 0;
  Clock::time_point exit_time;
  std::function<void(platform::OutputStream, const std::string&)> on_line;
  std::function<void()> on_woken;
};

/// What a child did, run to its end.
struct Outcome {
  std::vector<std::string> out, err;
  int exit_code = -1;
  bool drained = false;
};

/// Starts `options`, writes `input` to its stdin and closes it, reads its output until it
/// exits, and reaps it.
inline Outcome run(const platform::SpawnOptions& options, const std::string& input = {}) {
  platform::Process p = platform::Process::spawn(options);
  if (!input.empty()) {
    EXPECT_FALSE(p.write_stdin(input));
  }
  p.close_stdin();
  Collector c;
  Outcome r;
  // The drain ends at EOF only (within 10 s): under Wine, on a busy machine, the EOF can come
  // more than the default 20 ms after the exit is seen.
  platform::PumpOptions o;
  o.drain_quiet = o.drain_cap = std::chrono::seconds(10);
  r.drained = platform::pump_output(p, o, c).drained;
  r.exit_code = p.wait();
  r.out = std::move(c.out);
  r.err = std::move(c.err);
  return r;
}

/// The arguments echo-args printed (hex lines "arg:...") decoded.
inline std::vector<std::string> decode_args(const std::vector<std::string>& lines) {
  std::vector<std::string> args;
  for (const auto& line : lines) {
    if (line.rfind("arg:", 0) != 0) continue;
    std::string a;
    for (std::size_t i = 4; i + 1 < line.size(); i += 2)
      a += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
    args.push_back(a);
  }
  return args;
}

/// A new directory under the temporary directory, its last component starting with `name`
/// (which may hold spaces and parentheses); removed with what it holds.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "appose-test") {
    std::wstring tmp(MAX_PATH + 1, L'\0');
    tmp.resize(::GetTempPathW(static_cast<DWORD>(tmp.size()), tmp.data()));
    path = fs::path(tmp) / win32::to_wide(name + "-" + detail::random_hex(8));
    fs::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  /// `p` as the UTF-8 the platform layer takes.
  static std::string str(const fs::path& p) { return win32::to_utf8(p.wstring()); }

  fs::path path;
};

/// Whether process `pid` has exited within `timeout` (or no longer exists).
inline bool process_gone(std::int64_t pid, std::chrono::milliseconds timeout) {
  win32::UniqueHandle h(::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid)));
  if (!h.valid()) return true;
  return ::WaitForSingleObject(h.get(), static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
}

/// Kills process `pid` if it still runs (a test's clean-up).
inline void kill_pid(std::int64_t pid) {
  win32::UniqueHandle h(::OpenProcess(PROCESS_TERMINATE, FALSE, static_cast<DWORD>(pid)));
  if (h.valid()) ::TerminateProcess(h.get(), 9);
}

}  // namespace appose::test::win
