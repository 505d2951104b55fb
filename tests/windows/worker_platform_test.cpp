// The worker's side of the Windows platform layer, under Wine: the protocol channel
// (platform/windows/protocol_channel.cpp), the watch on the host (parent_watch.cpp), stderr,
// the environment and the home directory. Children are this program again (test_child.hpp).

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "platform/env_var.hpp"
#include "platform/home_dir.hpp"
#include "platform/parent_watch.hpp"
#include "platform/protocol_channel.hpp"
#include "platform/stderr.hpp"
#include "test_child.hpp"

namespace win32 = appose::detail::platform::win32;
using appose::test::win::Child;
using appose::test::win::ChildStdio;
using appose::test::win::make_pipe;
using appose::test::win::read_all;
using appose::test::win::start_child;
using appose::test::win::unique_name;
using appose::test::win::UniqueHandle;
using namespace std::chrono_literals;

namespace {

/// What the parent watch ends a worker with (parent_watch.cpp).
constexpr long kHostGoneExit = 137;
/// A child that is never told to stop gives up after this, so that no test leaves one behind.
constexpr DWORD kChildPatienceMs = 30000;

/// The request line of the binary test: CR, Ctrl-Z (the end of a text-mode stream), NUL and a
/// byte that is not UTF-8, ending in CR so that the "\r\n" of the request reaches the worker
/// whole.
const std::string kBinaryPayload = std::string("bin\r\x1a\x00\xff end\r", 12);

UniqueHandle open_event(const std::string& name) {
  return UniqueHandle(
      ::OpenEventW(SYNCHRONIZE | EVENT_MODIFY_STATE, FALSE, win32::to_wide(name).c_str()));
}

UniqueHandle create_event(const std::wstring& name) {
  return UniqueHandle(::CreateEventW(nullptr, TRUE, FALSE, name.c_str()));
}

/// Waits for the event named `name` (created by the test) to be set; false after the patience.
bool await_event(const std::string& name) {
  UniqueHandle event = open_event(name);
  return event.valid() && ::WaitForSingleObject(event.get(), kChildPatienceMs) == WAIT_OBJECT_0;
}

void set_event(const std::string& name) {
  UniqueHandle event = open_event(name);
  ::SetEvent(event.get());
}

/// Grandchild of the channel test: started with every inheritable handle of the shielded
/// worker and its standard handles. Writes to its stdout both ways, tries the handle value the
/// worker's stdout had before shielding, then stays alive until told to go.
int grandchild(const std::vector<std::string>& args) {
  std::printf("grandchild printf\n");
  std::fflush(stdout);
  const std::string direct = "grandchild WriteFile\n";
  DWORD wrote = 0;
  ::WriteFile(::GetStdHandle(STD_OUTPUT_HANDLE), direct.data(), static_cast<DWORD>(direct.size()),
              &wrote, nullptr);
  const auto original = reinterpret_cast<HANDLE>(std::strtoull(args.at(1).c_str(), nullptr, 10));
  const std::string stray = "grandchild through the original stdout\n";
  ::WriteFile(original, stray.data(), static_cast<DWORD>(stray.size()), &wrote, nullptr);
  return await_event(args.at(0)) ? 0 : 4;
}

/// The shielded worker of the channel test. args: the event that releases the grandchild.
int channel_worker(const std::vector<std::string>& args) {
  const HANDLE original_out = ::GetStdHandle(STD_OUTPUT_HANDLE);
  auto channel = appose::detail::platform::ProtocolChannel::take_stdio(true);
  std::printf("printf to stdout\n");
  std::cout << "cout to stdout" << std::endl;

  // Every inheritable handle, and the standard handles as they are now, go to the grandchild.
  std::wstring self(MAX_PATH, L'\0');
  self.resize(::GetModuleFileNameW(nullptr, self.data(), MAX_PATH));
  std::wstring command = L"\"" + self + L"\" --child grandchild " + win32::to_wide(args.at(0)) +
                         L" " + std::to_wstring(reinterpret_cast<std::uintptr_t>(original_out));
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!::CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si,
                        &pi)) {
    return 10;
  }
  ::CloseHandle(pi.hThread);
  ::CloseHandle(pi.hProcess);

  auto request = channel.read_line();
  if (!request) return 11;
  if (!channel.write_line("echo:" + std::string(*request))) return 12;
  if (channel.read_line()) return 13;  // the test closed its end: the end of the input
  if (!channel.write_line("eof")) return 14;
  return 0;
}

/// The channel's failures: no input, and no reader. Exits 0 when both are seen as such.
int broken_worker() {
  auto channel = appose::detail::platform::ProtocolChannel::take_stdio(false);
  if (channel.read_line()) return 2;
  // The first write may still fit in the pipe's buffer on some systems; a reader that is gone
  // makes every write fail on Windows, but ask twice all the same.
  if (channel.write_line("after the end") && channel.write_line("again")) return 3;
  return 0;
}

/// Watches `args[0]` (a pid, or "parent"), sets the event `args[1]`, then waits to be killed.
int watcher(const std::vector<std::string>& args) {
  std::optional<long> host;
  if (args.at(0) != "parent") host = std::strtol(args.at(0).c_str(), nullptr, 10);
  appose::detail::platform::ParentWatch watch(host);
  set_event(args.at(1));
  ::Sleep(kChildPatienceMs);
  return 3;  // not killed
}

/// Starts a watcher of itself, prints its pid, then waits to be killed.
int middle(const std::vector<std::string>& args) {
  Child w = start_child("watcher", {"parent", args.at(0)});
  const std::string line = std::to_string(w.pid) + "\n";
  DWORD wrote = 0;
  ::WriteFile(::GetStdHandle(STD_OUTPUT_HANDLE), line.data(), static_cast<DWORD>(line.size()),
              &wrote, nullptr);
  ::CloseHandle(::GetStdHandle(STD_OUTPUT_HANDLE));
  ::Sleep(kChildPatienceMs);
  return 5;
}

/// Waits for the event `args[0]`, or for the patience.
int sleeper(const std::vector<std::string>& args) {
  return await_event(args.at(0)) ? 0 : 5;
}

/// Prints the variable `args[0]` as this process sees it (OS and C runtime), or "<unset>".
int print_env(const std::vector<std::string>& args) {
  const auto os = win32::env_var(win32::to_wide(args.at(0)).c_str());
  const wchar_t* crt = ::_wgetenv(win32::to_wide(args.at(0)).c_str());
  std::printf("%s|%s", os ? win32::to_utf8(*os).c_str() : "<unset>",
              crt ? win32::to_utf8(crt).c_str() : "<unset>");
  return 0;
}

/// Reads a pipe on a thread of its own, so that the test can wait for text with a deadline.
class PipeReader {
 public:
  explicit PipeReader(HANDLE h) : thread_([this, h] { run(h); }) {}
  PipeReader(const PipeReader&) = delete;
  PipeReader& operator=(const PipeReader&) = delete;
  ~PipeReader() {
    if (thread_.joinable()) thread_.join();
  }

  /// Whether `text` has arrived within `timeout`.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return data_.find(text) != std::string::npos; });
  }
  /// Whether the end arrived within `timeout`.
  bool wait_end(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return data_;
  }

 private:
  void run(HANDLE h) {
    char buf[4096];
    for (;;) {
      std::error_code ec;
      const std::size_t n = win32::read_some(h, buf, sizeof buf, ec);
      std::lock_guard lock(mu_);
      if (n == 0) {
        ended_ = true;
        cv_.notify_all();
        return;
      }
      data_.append(buf, n);
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string data_;
  bool ended_ = false;
  std::thread thread_;
};

/// Runs `f` when destroyed.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> f) : f_(std::move(f)) {}
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() { f_(); }

 private:
  std::function<void()> f_;
};

/// Sets (or with nullopt removes) a variable in the OS's environment for one test.
class ScopedWinEnv {
 public:
  ScopedWinEnv(const wchar_t* name, std::optional<std::wstring> value)
      : name_(name), old_(win32::env_var(name)) {
    ::SetEnvironmentVariableW(name, value ? value->c_str() : nullptr);
  }
  ScopedWinEnv(const ScopedWinEnv&) = delete;
  ScopedWinEnv& operator=(const ScopedWinEnv&) = delete;
  ~ScopedWinEnv() { ::SetEnvironmentVariableW(name_, old_ ? old_->c_str() : nullptr); }

 private:
  const wchar_t* name_;
  std::optional<std::wstring> old_;
};

}  // namespace

int appose::test::win::child_main(std::string_view mode, const std::vector<std::string>& args) {
  if (mode == "channel") return channel_worker(args);
  if (mode == "grandchild") return grandchild(args);
  if (mode == "broken") return broken_worker();
  if (mode == "watcher") return watcher(args);
  if (mode == "middle") return middle(args);
  if (mode == "sleeper") return sleeper(args);
  if (mode == "print-env") return print_env(args);
  if (mode == "stderr") {
    appose::detail::platform::write_stderr("one piece to stderr\n");
    return 0;
  }
  return 99;
}

TEST(ProtocolChannel, ShieldedWorkerKeepsTheChannelToItselfAndBytesPassUnchanged) {
  auto in = make_pipe(true, false);
  auto out = make_pipe(false, true);
  auto err = make_pipe(false, true);
  const std::wstring release_name = unique_name("release");
  UniqueHandle release = create_event(release_name);
  ASSERT_TRUE(release.valid());
  Child worker = start_child("channel", {win32::to_utf8(release_name)},
                             ChildStdio{in.read.get(), out.write.get(), err.write.get()});
  in.read.reset();
  out.write.reset();
  err.write.reset();
  PipeReader channel(out.read.get());
  PipeReader errors(err.read.get());
  // Destroyed before the readers, which wait for their pipes' ends: whatever failed, nothing
  // is left to hold a pipe open.
  const Cleanup cleanup([&] {
    ::TerminateProcess(worker.process.get(), 1);
    ::SetEvent(release.get());
  });

  // The worker's prints reach stderr as they are printed, before the worker is asked anything,
  // with no CR added (binary mode); the grandchild's C runtime is in text mode, as usual.
  EXPECT_TRUE(errors.wait_for("printf to stdout\n", 10s)) << errors.text();
  EXPECT_TRUE(errors.wait_for("cout to stdout\n", 10s)) << errors.text();
  EXPECT_TRUE(errors.wait_for("grandchild printf", 10s)) << errors.text();
  EXPECT_TRUE(errors.wait_for("grandchild WriteFile", 10s)) << errors.text();

  const std::string request = kBinaryPayload + "\n";
  ASSERT_FALSE(win32::write_all(in.write.get(), request.data(), request.size()));
  in.write.reset();  // the end of the input

  // The channel ends when the worker exits although the grandchild still runs: the grandchild
  // holds no handle to it.
  EXPECT_TRUE(channel.wait_end(10s)) << "the grandchild holds the channel open";
  EXPECT_EQ(worker.wait(10s), 0);
  ::SetEvent(release.get());
  EXPECT_TRUE(errors.wait_end(10s));
  EXPECT_EQ(channel.text(), "echo:" + kBinaryPayload + "\neof\n");
  EXPECT_EQ(errors.text().find("grandchild through the original stdout"), std::string::npos);
}

TEST(ProtocolChannel, AGoneHostIsTheEndOfInputAndAFailedWriteNotACrash) {
  auto in = make_pipe(true, false);
  auto out = make_pipe(false, true);
  Child worker = start_child("broken", {}, ChildStdio{in.read.get(), out.write.get(), nullptr});
  in = {};
  out = {};
  EXPECT_EQ(worker.wait(10s), 0);
}

TEST(ProtocolChannel, ADefaultChannelIsClosed) {
  appose::detail::platform::ProtocolChannel channel;
  EXPECT_FALSE(channel.read_line());
  EXPECT_FALSE(channel.write_line("x"));
}

TEST(ParentWatch, WorkerDiesWithinASecondOfItsNamedHost) {
  const std::wstring host_gone = unique_name("host");
  const std::wstring ready_name = unique_name("ready");
  UniqueHandle never = create_event(host_gone);
  UniqueHandle ready = create_event(ready_name);
  Child host = start_child("sleeper", {win32::to_utf8(host_gone)});
  Child worker = start_child("watcher", {std::to_string(host.pid), win32::to_utf8(ready_name)});
  ASSERT_EQ(::WaitForSingleObject(ready.get(), 10000), WAIT_OBJECT_0);
  EXPECT_EQ(worker.wait(300ms), -1);  // alive while the host is
  ASSERT_TRUE(::TerminateProcess(host.process.get(), 1));
  EXPECT_EQ(worker.wait(1s), kHostGoneExit);
  ::TerminateProcess(worker.process.get(), 1);
}

TEST(ParentWatch, WorkerDiesWithinASecondOfItsParent) {
  const std::wstring ready_name = unique_name("ready");
  UniqueHandle ready = create_event(ready_name);
  auto out = make_pipe(false, true);
  Child parent =
      start_child("middle", {win32::to_utf8(ready_name)}, ChildStdio{nullptr, out.write.get()});
  out.write.reset();
  const DWORD worker_pid = std::stoul(read_all(out.read.get()));
  Child worker{
      UniqueHandle(::OpenProcess(
          SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE, FALSE, worker_pid)),
      worker_pid};
  ASSERT_TRUE(worker.process.valid());
  ASSERT_EQ(::WaitForSingleObject(ready.get(), 10000), WAIT_OBJECT_0);
  EXPECT_EQ(worker.wait(300ms), -1);
  ASSERT_TRUE(::TerminateProcess(parent.process.get(), 1));
  EXPECT_EQ(worker.wait(1s), kHostGoneExit);
  ::TerminateProcess(worker.process.get(), 1);
}

TEST(ParentWatch, AHostAlreadyGoneEndsTheWorkerBeforeTheWatchIsSetUp) {
  const std::wstring go = unique_name("go");
  const std::wstring ready_name = unique_name("ready");
  UniqueHandle go_event = create_event(go);
  UniqueHandle ready = create_event(ready_name);
  Child host = start_child("sleeper", {win32::to_utf8(go)});
  ::SetEvent(go_event.get());
  ASSERT_EQ(host.wait(10s), 0);
  // Our handle keeps the ended host's id from being reused, and lets the worker open it.
  Child worker = start_child("watcher", {std::to_string(host.pid), win32::to_utf8(ready_name)});
  EXPECT_EQ(worker.wait(10s), kHostGoneExit);
  EXPECT_EQ(::WaitForSingleObject(ready.get(), 0), static_cast<DWORD>(WAIT_TIMEOUT));
}

TEST(ParentWatch, AHostIdThatNamesNoProcessEndsTheWorker) {
  const std::wstring ready_name = unique_name("ready");
  UniqueHandle ready = create_event(ready_name);
  // The largest id a 32-bit long names; Windows hands out ids far below it (multiples of 4).
  Child worker = start_child("watcher", {"2147483644", win32::to_utf8(ready_name)});
  EXPECT_EQ(worker.wait(10s), kHostGoneExit);
  EXPECT_EQ(::WaitForSingleObject(ready.get(), 0), static_cast<DWORD>(WAIT_TIMEOUT));
}

TEST(ParentWatch, StopsWhenDestroyedWhileTheHostLives) {
  // This process as its own host: alive throughout; the destructor must stop and join.
  appose::detail::platform::ParentWatch watch(static_cast<long>(::GetCurrentProcessId()));
  appose::detail::platform::ParentWatch moved(std::move(watch));
  appose::detail::platform::ParentWatch none;
  none = std::move(moved);
}

TEST(Stderr, OneWriteToTheStandardErrorHandle) {
  auto err = make_pipe(false, true);
  Child child = start_child("stderr", {}, ChildStdio{nullptr, nullptr, err.write.get()});
  err.write.reset();
  EXPECT_EQ(read_all(err.read.get()), "one piece to stderr\n");
  EXPECT_EQ(child.wait(10s), 0);
}

namespace {

std::string child_sees(const std::string& name) {
  auto out = make_pipe(false, true);
  Child child = start_child("print-env", {name}, ChildStdio{nullptr, out.write.get()});
  out.write.reset();
  std::string seen = read_all(out.read.get());
  child.wait(10s);
  return seen;
}

}  // namespace

TEST(EnvVar, ATakenVariableIsGoneHereAndForChildrenStartedAfterwards) {
  ASSERT_EQ(::_wputenv_s(L"APPOSE_TEST_TAKEN", L"v\u00e4lue"), 0);  // the OS's and the runtime's
  ASSERT_EQ(::_wputenv_s(L"APPOSE_TEST_KEPT", L"kept"), 0);
  EXPECT_EQ(child_sees("APPOSE_TEST_TAKEN"), "v\u00e4lue|v\u00e4lue");  // inherited until taken

  EXPECT_EQ(appose::detail::platform::take_env_var("APPOSE_TEST_TAKEN"), "v\u00e4lue");
  EXPECT_EQ(appose::detail::platform::take_env_var("APPOSE_TEST_TAKEN"), std::nullopt);
  EXPECT_EQ(std::getenv("APPOSE_TEST_TAKEN"), nullptr);
  EXPECT_EQ(child_sees("APPOSE_TEST_TAKEN"), "<unset>|<unset>");
  EXPECT_EQ(child_sees("APPOSE_TEST_KEPT"), "kept|kept");
  ::_wputenv_s(L"APPOSE_TEST_KEPT", L"");
}

TEST(EnvVar, AnEmptyVariableIsTakenAsEmpty) {
  ::SetEnvironmentVariableW(L"APPOSE_TEST_EMPTY", L"");
  EXPECT_EQ(appose::detail::platform::take_env_var("APPOSE_TEST_EMPTY"), "");
  EXPECT_FALSE(win32::env_var(L"APPOSE_TEST_EMPTY"));
}

TEST(EnvVar, EnvironmentNamesListsAVariableSetHereAndNoDriveEntries) {
  ScopedWinEnv set(L"APPOSE_TEST_N\u00c4ME", L"1");
  const auto names = appose::detail::platform::environment_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "APPOSE_TEST_N\u00c4ME"), names.end());
  for (const auto& name : names) {
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name.front(), '=') << name;
    EXPECT_EQ(name.find('='), std::string::npos) << name;
  }
}

TEST(HomeDir, FollowsPythonsPathHomeAndThenTheProfile) {
  ScopedWinEnv home(L"HOME", L"C:\\not-this");  // Python ignores HOME on Windows, so do we
  {
    ScopedWinEnv profile(L"USERPROFILE", L"C:\\Users\\appose-t\u00e9st");
    EXPECT_EQ(appose::detail::platform::home_dir(), "C:\\Users\\appose-t\u00e9st");
  }
  ScopedWinEnv no_profile(L"USERPROFILE", std::nullopt);
  {
    ScopedWinEnv drive(L"HOMEDRIVE", L"D:");
    ScopedWinEnv path(L"HOMEPATH", L"\\home\\me");
    EXPECT_EQ(appose::detail::platform::home_dir(), "D:\\home\\me");
  }
  ScopedWinEnv no_drive(L"HOMEDRIVE", std::nullopt);
  ScopedWinEnv no_path(L"HOMEPATH", std::nullopt);
  const std::string fallback = appose::detail::platform::home_dir();
  EXPECT_FALSE(fallback.empty());
  EXPECT_NE(fallback, "C:\\not-this");
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::u8path(fallback))) << fallback;
}
