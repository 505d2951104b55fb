// The Windows process layer (src/platform/windows/process.cpp) with real processes: exit
// codes, the command line as the child's C runtime and shell parse it, the environment and
// working directory, the pipes and what is inherited, the job (kill, lifeline), and the
// executable lookup. The child is appose_win_child.exe (child_main.cpp).

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "appose/error.hpp"
#include "platform/process.hpp"
#include "platform/windows/process_native.hpp"
#include "win_child.hpp"

namespace appose::test::win {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using platform::Process;
using platform::SpawnOptions;

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

/// The arguments that are hard to pass on Windows: empty, white space, quotes, backslashes
/// before quotes and at the end, parentheses (appose issue #21), cmd metacharacters, a line
/// break, JSON, non-ASCII.
const std::vector<std::string> kHardArguments = {
    "",
    "plain",
    "with space",
    "tab\there",
    "quote\"inside",
    "\"",
    "\"\"",
    "trailing\\",
    "trailing space\\",
    "two\\\\",
    "\\\\server\\share\\",
    "back\\\\\"quote",
    "C:\\Users\\foo\\Fiji(1)\\bin\\pixi.exe",
    "C:\\Program Files (x86)\\Fiji (1)\\",
    "%PATH%",
    "&|<>^!",
    "line\nbreak",
    "{\"json\": [1, \"two\"]}",
    "\xc3\xbc"
    "n"
    "\xc3\xaf"
    "c"
    "\xc3\xb6"
    "d"
    "\xc3\xa9"
    " \xe2\x9c\x93",
};

TEST(WinProcess, ExitCodesAreTheDwordAsInt) {
  for (unsigned code : {0U, 1U, 7U, 255U, 256U, 0xC0000005U}) {
    Process p = Process::spawn(child({"exit", std::to_string(code)}));
    EXPECT_GT(p.pid(), 0);
    EXPECT_EQ(p.wait(), static_cast<int>(code)) << code;
    EXPECT_TRUE(p.reaped());
    EXPECT_EQ(p.exit_code(), static_cast<int>(code));
    EXPECT_EQ(p.wait(), static_cast<int>(code));  // again: the same
  }
}

TEST(WinProcess, PidIsTheChildsAndOursIsOurs) {
  Process p = Process::spawn(child({"sleep"}));
  EXPECT_EQ(p.pid(), static_cast<std::int64_t>(::GetProcessId(platform::process_handle(p))));
  EXPECT_EQ(platform::current_process_id(), static_cast<std::int64_t>(::GetCurrentProcessId()));
  p.kill_group();
  p.wait();
  EXPECT_EQ(Process().pid(), -1);
}

TEST(WinProcess, HardArgumentsReachTheChildUnchanged) {
  std::vector<std::string> args = {"echo-args"};
  args.insert(args.end(), kHardArguments.begin(), kHardArguments.end());
  Outcome r = run(child(args));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(decode_args(r.out), kHardArguments) << "as the C runtime parsed them";

  args[0] = "echo-args-shell";
  r = run(child(args));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(decode_args(r.out), kHardArguments) << "as CommandLineToArgvW parsed them";
}

// appose issue #21: a program under a path with spaces and parentheses starts directly (no
// cmd.exe, which would read the parentheses), absolute, or by bare name through PATH.
TEST(WinProcess, ProgramUnderPathWithSpacesAndParentheses) {
  TempDir dir("Fiji (1) app");
  const fs::path bin = dir.path / "bin (x86)";
  fs::create_directories(bin);
  fs::copy_file(win32::to_wide(child_path()), bin / "appose_win_child.exe");

  SpawnOptions o;
  o.argv = {TempDir::str(bin / "appose_win_child.exe"), "echo-args", "a (b)", "c&d"};
  Outcome r = run(o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(decode_args(r.out), (std::vector<std::string>{"a (b)", "c&d"}));

  // A bare name, without .exe: looked up in the child's PATH (set here as "Path", in another
  // case than this process's), with PATHEXT.
  o.argv = {"appose_win_child", "echo-args", "x y"};
  o.env["Path"] = TempDir::str(dir.path) + ";" + TempDir::str(bin);
  r = run(o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(decode_args(r.out), (std::vector<std::string>{"x y"}));
}

/// A folder under the temporary directory named `name`-<random> holding a copy of the child
/// program and launcher.bat, which runs the copy with the script's arguments.
fs::path make_launcher(const TempDir& dir) {
  fs::copy_file(win32::to_wide(child_path()), dir.path / "appose_win_child.exe");
  std::ofstream bat(dir.path / "launcher.bat", std::ios::binary);
  bat << "@\"%~dp0appose_win_child.exe\" %*\r\n";
  return dir.path / "launcher.bat";
}

// A batch script (found as no .exe) runs through cmd.exe, and the arguments still arrive
// unchanged, even with cmd's metacharacters; those it cannot pass are refused up front.
TEST(WinProcess, BatchScriptRunsThroughCmdWithArgumentsUnchanged) {
  TempDir dir("batch (1)");
  make_launcher(dir);
  const std::vector<std::string> args = {"a b",   "(paren)",    "c&d",        "e|f",    "g^h",
                                         "x<y>z", "trailing\\", "semi;colon", "eq=ual", ""};
  SpawnOptions o;
  o.argv = {"launcher", "echo-args"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env["PATH"] = TempDir::str(dir.path);
  Outcome r = run(o);
  // Under Wine, exit 9009 with "Can't recognize '<the child's command>'" is Wine's cmd.exe
  // failing to start the child (a failed CreateProcessW, reported as if the program were not
  // found): Wine now and then fails a process start (scripts/windows.sh).
  EXPECT_EQ(r.exit_code, 0) << (r.err.empty() ? "" : r.err.front());
  EXPECT_EQ(decode_args(r.out), args);

  // By absolute path too.
  o.argv[0] = TempDir::str(dir.path / "launcher.bat");
  r = run(o);
  EXPECT_EQ(decode_args(r.out), args);

  for (const char* bad : {"50%", "say \"hi\"", "two\nlines"}) {
    o.argv = {"launcher", "echo-args", bad};
    try {
      Process::spawn(o);
      ADD_FAILURE() << "a batch script was given " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cmd.exe"), std::string::npos) << e.what();
    }
  }
}

// A script under a folder whose name has cmd's metacharacters and no space: its path is
// quoted all the same, or cmd would split the command at the '&'.
TEST(WinProcess, BatchScriptUnderFolderWithCmdMetacharacters) {
  TempDir dir("a&b(1)^c");
  const fs::path script = make_launcher(dir);
  SpawnOptions o;
  o.argv = {TempDir::str(script), "echo-args", "x y"};
  Outcome r = run(o);
  EXPECT_EQ(r.exit_code, 0) << (r.err.empty() ? "" : r.err.front());
  EXPECT_EQ(decode_args(r.out), (std::vector<std::string>{"x y"}));
}

// A relative program path is taken from the child's working directory, as on POSIX.
TEST(WinProcess, RelativeProgramIsFoundFromTheWorkingDirectory) {
  TempDir dir;
  fs::create_directories(dir.path / "sub");
  fs::copy_file(win32::to_wide(child_path()), dir.path / "sub" / "appose_win_child.exe");
  SpawnOptions o;
  o.argv = {"sub/appose_win_child", "cwd"};
  o.cwd = TempDir::str(dir.path);
  Outcome r = run(o);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.out.size(), 1U);
  EXPECT_TRUE(fs::equivalent(win32::to_wide(r.out[0]), dir.path)) << r.out[0];
}

TEST(WinProcess, WorkingDirectoryIsSet) {
  TempDir dir("cwd with space (1)");
  SpawnOptions o = child({"cwd"});
  o.cwd = TempDir::str(dir.path);
  Outcome r = run(o);
  ASSERT_EQ(r.out.size(), 1U);
  EXPECT_TRUE(fs::equivalent(win32::to_wide(r.out[0]), dir.path)) << r.out[0];

  o.cwd = TempDir::str(dir.path / "missing");
  try {
    Process::spawn(o);
    FAIL() << "spawn should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

TEST(WinProcess, EnvironmentIsSetAndUnsetIgnoringCase) {
  ASSERT_TRUE(::SetEnvironmentVariableW(L"APPOSE_WIN_INHERITED", L"kept"));
  ASSERT_TRUE(::SetEnvironmentVariableW(L"APPOSE_WIN_UNSET", L"gone"));
  ASSERT_TRUE(::SetEnvironmentVariableW(L"APPOSE_WIN_CASE", L"old"));
  auto env_of = [](const std::string& name, const SpawnOptions& base) {
    SpawnOptions o = base;
    o.argv = {child_path(), "env", name};
    return run(o).out;
  };
  SpawnOptions o;
  o.env["APPOSE_WIN_NEW"] = "new value \xe2\x9c\x93";
  o.env["appose_win_unset"] = std::nullopt;  // unset, named in another case
  o.env["Appose_Win_Case"] = "new";          // replaces APPOSE_WIN_CASE
  EXPECT_EQ(env_of("APPOSE_WIN_INHERITED", o),
            (std::vector<std::string>{"APPOSE_WIN_INHERITED=kept"}));
  EXPECT_EQ(env_of("APPOSE_WIN_NEW", o),
            (std::vector<std::string>{"APPOSE_WIN_NEW=new value \xe2\x9c\x93"}));
  EXPECT_TRUE(env_of("APPOSE_WIN_UNSET", o).empty());
  EXPECT_EQ(env_of("APPOSE_WIN_CASE", o), (std::vector<std::string>{"Appose_Win_Case=new"}));

  // Setting `Path` replaces PATH: the child has one such variable.
  o.env["Path"] = "C:\\nowhere";
  EXPECT_EQ(env_of("PATH", o), (std::vector<std::string>{"Path=C:\\nowhere"}));

  // A name Windows cannot hold is refused, not passed on as a broken block.
  SpawnOptions bad = child({"exit", "0"});
  bad.env["A=B"] = "x";
  EXPECT_THROW(Process::spawn(bad), Error);
  ::SetEnvironmentVariableW(L"APPOSE_WIN_INHERITED", nullptr);
  ::SetEnvironmentVariableW(L"APPOSE_WIN_UNSET", nullptr);
  ::SetEnvironmentVariableW(L"APPOSE_WIN_CASE", nullptr);
}

TEST(WinProcess, MissingProgramThrowsNamingIt) {
  SpawnOptions o;
  o.argv = {"C:\\nonexistent dir\\appose-no-such-program.exe"};
  try {
    Process::spawn(o);
    FAIL() << "spawn should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("C:\\nonexistent dir\\appose-no-such-program.exe"),
              std::string::npos)
        << e.what();
  }
  o.argv = {"appose-no-such-program-on-path"};
  try {
    Process::spawn(o);
    FAIL() << "spawn should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("appose-no-such-program-on-path"), std::string::npos)
        << e.what();
  }
  o.argv = {};
  EXPECT_THROW(Process::spawn(o), Error);
}

TEST(WinProcess, StdinReachesTheChildAndComesBack) {
  std::string input;
  for (int i = 0; i < 2000; ++i)
    input += "line " + std::to_string(i) + "\n";
  Outcome r = run(child({"cat"}), input);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.out.size(), 2000U);
  EXPECT_EQ(r.out.front(), "line 0");
  EXPECT_EQ(r.out.back(), "line 1999");
  EXPECT_TRUE(r.drained);
}

// Under Wine the dead child's stdin may stay open for a moment: Wine starts a console host
// (conhost.exe) for a child created with CREATE_NO_WINDOW, and that host inherits the child's
// handles and exits a little after it. So the write is retried until the pipe breaks (Windows
// starts the console host without the child's handles: there it breaks at once).
TEST(WinProcess, WriteToDeadChildGivesBrokenPipe) {
  Process p = Process::spawn(child({"exit", "0"}));
  EXPECT_EQ(p.wait(), 0);
  std::error_code ec;
  const auto start = Clock::now();
  int writes = 0;
  while (!(ec = p.write_stdin("x")) && Clock::now() - start < 10s) {
    ++writes;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ec, std::errc::broken_pipe);
  std::cout << "[ wine ] the dead child's stdin broke after " << writes << " write(s), "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
            << " ms\n";
  p.close_stdin();
  EXPECT_EQ(p.write_stdin("x\n"), std::errc::broken_pipe);
}

TEST(WinProcess, TryReapAndExitedUnreaped) {
  Process p = Process::spawn(child({"cat"}));
  EXPECT_FALSE(p.try_reap().has_value());
  EXPECT_FALSE(p.exited_unreaped());
  p.close_stdin();
  ASSERT_EQ(::WaitForSingleObject(platform::process_handle(p), 10000), WAIT_OBJECT_0);
  EXPECT_TRUE(p.exited_unreaped());
  EXPECT_FALSE(p.reaped());
  EXPECT_EQ(p.try_reap(), 0);
  EXPECT_TRUE(p.reaped());
  EXPECT_FALSE(p.exited_unreaped());
  EXPECT_EQ(platform::process_handle(p), nullptr);
}

TEST(WinProcess, MoveKeepsTheChild) {
  Process a = Process::spawn(child({"exit", "5"}));
  const auto pid = a.pid();
  Process b;
  b = std::move(a);
  EXPECT_EQ(a.pid(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  Process c = std::move(b);
  EXPECT_EQ(c.pid(), pid);
  EXPECT_EQ(c.wait(), 5);
}

// An inheritable handle of ours (as a careless library would leave one) does not reach the
// child: only the three pipe ends are inherited.
TEST(WinProcess, OnlyThePipesAreInherited) {
  HANDLE read = nullptr, write = nullptr;
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  ASSERT_TRUE(::CreatePipe(&read, &write, &inherit, 0));
  win32::UniqueHandle r(read), w(write);
  Process p = Process::spawn(child({"sleep"}));
  w.reset();
  // With no writer left anywhere, the pipe is broken; a child that inherited it keeps it whole.
  DWORD avail = 0;
  EXPECT_FALSE(::PeekNamedPipe(r.get(), nullptr, 0, nullptr, &avail, nullptr));
  EXPECT_EQ(::GetLastError(), static_cast<DWORD>(ERROR_BROKEN_PIPE));
  // Our ends of the child's pipes are not inheritable either.
  for (HANDLE h :
       {platform::stdin_handle(p), platform::stdout_handle(p), platform::stderr_handle(p)}) {
    DWORD flags = 0;
    ASSERT_TRUE(::GetHandleInformation(h, &flags));
    EXPECT_EQ(flags & HANDLE_FLAG_INHERIT, 0U);
  }
  p.kill_group();
  p.wait();
}

/// Reads the first line `tree <then>` prints, the grandchild's pid, and leaves the pump by
/// throwing (which must cancel the reads still outstanding).
std::int64_t grandchild_of(Process& p) {
  struct FirstLine : platform::PumpHandler {
    std::int64_t pid = -1;
    void line(platform::OutputStream, std::string& line, std::size_t) override {
      pid = std::stoll(line);
      throw std::runtime_error("got it");
    }
  } first;
  try {
    platform::pump_output(p, {}, first);
  } catch (const std::runtime_error&) {
  }
  return first.pid;
}

TEST(WinProcess, KillGroupKillsTheChildAndItsGrandchild) {
  Process p = Process::spawn(child({"tree", "stay"}));
  const std::int64_t grandchild = grandchild_of(p);
  ASSERT_GT(grandchild, 0);
  EXPECT_FALSE(process_gone(grandchild, 200ms));
  p.kill_group();
  EXPECT_EQ(p.wait(), 1) << "a killed child reports 1, as Python's and Java's do";
  const bool gone = process_gone(grandchild, 5s);
  if (!gone) kill_pid(grandchild);
  EXPECT_TRUE(gone) << "the grandchild outlived kill_group()";
  p.kill_group();  // after reaping: a no-op
}

TEST(WinProcess, TerminateGroupKillsTheTreeToo) {
  Process p = Process::spawn(child({"tree", "stay"}));
  const std::int64_t grandchild = grandchild_of(p);
  ASSERT_GT(grandchild, 0);
  p.terminate_group();
  EXPECT_EQ(p.wait(), 1);
  const bool gone = process_gone(grandchild, 5s);
  if (!gone) kill_pid(grandchild);
  EXPECT_TRUE(gone);
}

// After the child exits by itself, kill_group() still reaches what it left in its job, until
// the child is reaped (what the service does after a worker's exit).
TEST(WinProcess, KillGroupAfterTheExitReachesTheLeftovers) {
  Process p = Process::spawn(child({"tree", "exit"}));
  const std::int64_t grandchild = grandchild_of(p);
  ASSERT_GT(grandchild, 0);
  ASSERT_EQ(::WaitForSingleObject(platform::process_handle(p), 10000), WAIT_OBJECT_0);
  EXPECT_FALSE(process_gone(grandchild, 100ms));
  p.kill_group();
  EXPECT_EQ(p.wait(), 0) << "the child's own exit code stands";
  const bool gone = process_gone(grandchild, 5s);
  if (!gone) kill_pid(grandchild);
  EXPECT_TRUE(gone);
}

TEST(WinProcess, DroppedProcessWithLifelineTakesItsTreeAlong) {
  SpawnOptions o = child({"tree", "stay"});
  o.kill_with_host = true;
  std::int64_t pid = -1, grandchild = -1;
  {
    Process p = Process::spawn(o);
    EXPECT_TRUE(p.has_lifeline());
    pid = p.pid();
    grandchild = grandchild_of(p);
  }
  ASSERT_GT(grandchild, 0);
  const bool gone = process_gone(pid, 5s) && process_gone(grandchild, 5s);
  kill_pid(pid);
  kill_pid(grandchild);
  EXPECT_TRUE(gone);
}

TEST(WinProcess, WithoutLifelineADroppedProcessLivesOn) {
  std::int64_t pid = -1;
  {
    Process p = Process::spawn(child({"sleep"}));
    EXPECT_FALSE(p.has_lifeline());
    pid = p.pid();
  }
  const bool gone = process_gone(pid, 500ms);
  kill_pid(pid);
  EXPECT_FALSE(gone);
}

// Reaping disarms the lifeline: what the child left running is not killed when the Process
// goes, as on POSIX.
TEST(WinProcess, ReapingDisarmsTheLifeline) {
  SpawnOptions o = child({"tree", "exit"});
  o.kill_with_host = true;
  std::int64_t grandchild = -1;
  {
    Process p = Process::spawn(o);
    ASSERT_TRUE(p.has_lifeline());
    grandchild = grandchild_of(p);
    EXPECT_EQ(p.wait(), 0);
    EXPECT_FALSE(p.has_lifeline());
  }
  ASSERT_GT(grandchild, 0);
  const bool gone = process_gone(grandchild, 500ms);
  kill_pid(grandchild);
  EXPECT_FALSE(gone) << "the disarmed lifeline killed the grandchild";
}

/// Runs `host [flag]`: a host that spawns a sleeping child and kills itself. Returns the
/// child's pid and whether the host said a lifeline guarded it.
std::pair<std::int64_t, std::string> orphan_a_child(std::vector<std::string> host_args) {
  host_args.insert(host_args.begin(), "host");
  Outcome r = run(child(host_args));
  EXPECT_EQ(r.exit_code, 3) << (r.err.empty() ? "" : r.err.front());
  if (r.out.empty()) return {-1, ""};
  const auto space = r.out[0].find(' ');
  return {std::stoll(r.out[0].substr(0, space)), r.out[0].substr(space + 1)};
}

// The lifeline: a child started with kill_with_host dies when its host is killed (here by
// TerminateProcess on itself: no destructor runs), because the system closes the host's
// handle to the job, the last one.
TEST(WinProcess, KillWithHostChildDiesWithItsHost) {
  const auto [pid, guard] = orphan_a_child({});
  ASSERT_GT(pid, 0);
  EXPECT_EQ(guard, "lifeline");
  const bool gone = process_gone(pid, 5s);
  if (!gone) kill_pid(pid);
  EXPECT_TRUE(gone) << "child " << pid << " outlived its killed host";
}

// The control: without kill_with_host the child outlives its killed host.
TEST(WinProcess, WithoutKillWithHostChildOutlivesItsHost) {
  const auto [pid, guard] = orphan_a_child({"--no-lifeline"});
  ASSERT_GT(pid, 0);
  EXPECT_EQ(guard, "none");
  const bool gone = process_gone(pid, 500ms);
  kill_pid(pid);
  EXPECT_FALSE(gone);
}

TEST(WinProcess, FindExecutableUsesPathextAndDirectoryOrder) {
  TempDir a, b;
  auto touch = [](const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
  };
  touch(a.path / "tool.exe");
  touch(b.path / "tool.exe");
  touch(b.path / "only-b.EXE");
  touch(b.path / "bin" / "python.exe");
  touch(a.path / "script.cmd");
  touch(a.path / "notes.txt");
  touch(a.path / "noext");
  fs::create_directories(a.path / "dir.exe");
  const std::vector<std::string> dirs = {"", TempDir::str(a.path), TempDir::str(b.path)};
  const auto in = [](const TempDir& d, const char* rel) { return TempDir::str(d.path / rel); };

  EXPECT_EQ(platform::find_executable("tool", dirs), in(a, "tool.exe"));
  EXPECT_EQ(platform::find_executable("tool.exe", dirs), in(a, "tool.exe"));
  EXPECT_EQ(lower(platform::find_executable("only-b", dirs)), lower(in(b, "only-b.EXE")));
  EXPECT_EQ(platform::find_executable("bin/python", dirs), in(b, "bin\\python.exe"));
  EXPECT_EQ(platform::find_executable("bin\\python.exe", dirs), in(b, "bin\\python.exe"));
  EXPECT_EQ(platform::find_executable("script", dirs), in(a, "script.cmd"));
  EXPECT_EQ(platform::find_executable("notes.txt", dirs), "");
  EXPECT_EQ(platform::find_executable("noext", dirs), "");
  EXPECT_EQ(platform::find_executable("dir", dirs), "");
  EXPECT_EQ(platform::find_executable("missing", dirs), "");
  EXPECT_EQ(platform::find_executable("", dirs), "");
  EXPECT_EQ(platform::find_executable(in(b, "only-b.EXE"), {}), in(b, "only-b.EXE"));
  EXPECT_EQ(platform::find_executable(in(a, "tool"), {}), in(a, "tool.exe"));
  EXPECT_EQ(platform::find_executable(in(a, "missing"), dirs), "");

  EXPECT_EQ(platform::executable_problem(in(a, "tool.exe")), "");
  EXPECT_EQ(platform::executable_problem(in(a, "missing.exe")), "does not exist");
  EXPECT_EQ(platform::executable_problem(in(a, "dir.exe")), "is a directory, not the executable");
  EXPECT_NE(platform::executable_problem(in(a, "notes.txt")).find("PATHEXT"), std::string::npos);
  EXPECT_EQ(platform::executable_problem(child_path()), "");
}

TEST(WinProcess, PathIsSplitAtSemicolons) {
  EXPECT_EQ(platform::split_path("C:\\a;D:\\b;;C:\\c"),
            (std::vector<std::string>{"C:\\a", "D:\\b", "", "C:\\c"}));
  EXPECT_EQ(platform::split_path("\"C:\\semi;colon\";C:\\x"),
            (std::vector<std::string>{"C:\\semi;colon", "C:\\x"}));
  EXPECT_EQ(platform::split_path("C:\\only"), (std::vector<std::string>{"C:\\only"}));
  EXPECT_TRUE(platform::split_path("").empty());

  const auto saved = platform::path_dirs();
  std::wstring old(32768, L'\0');
  old.resize(::GetEnvironmentVariableW(L"PATH", old.data(), static_cast<DWORD>(old.size())));
  ASSERT_TRUE(::SetEnvironmentVariableW(L"PATH", L"C:\\one;C:\\two \u2713"));
  EXPECT_EQ(platform::path_dirs(), (std::vector<std::string>{"C:\\one", "C:\\two \xe2\x9c\x93"}));
  ::SetEnvironmentVariableW(L"PATH", old.c_str());
  EXPECT_EQ(platform::path_dirs(), saved);
}

}  // namespace
}  // namespace appose::test::win
