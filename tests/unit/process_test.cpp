// The OS process layer (src/platform/posix/process.cpp): spawning, descriptors, process groups,
// signals, exit watching, executable lookup.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "appose/error.hpp"
#include "platform/posix/process_native.hpp"
#include "platform/process.hpp"

#include "support/test_support.hpp"

namespace appose::detail {
namespace {

using appose::test::ExitWatch;
using appose::test::TempDir;

/// Reads the child's stdout to EOF (or until `until` appears, if given).
std::string read_all(int fd, std::string_view until = {}) {
  std::string out;
  char buf[4096];
  while (until.empty() || out.find(until) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

platform::SpawnOptions sh(const std::string& script) {
  platform::SpawnOptions o;
  o.argv = {"sh", "-c", script};
  return o;
}

void make_executable(const std::filesystem::path& p) {
  std::filesystem::create_directories(p.parent_path());
  FILE* f = std::fopen(p.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("#!/bin/sh\nexit 0\n", f);
  std::fclose(f);
  std::filesystem::permissions(p, std::filesystem::perms::owner_all);
}

TEST(Process, ExitCode) {
  platform::Process p = platform::Process::spawn(sh("exit 7"));
  EXPECT_GT(p.pid(), 0);
  EXPECT_EQ(p.wait(), 7);
  EXPECT_TRUE(p.reaped());
  EXPECT_EQ(p.exit_code(), 7);
  EXPECT_EQ(p.wait(), 7);  // waiting again returns the same code
}

TEST(Process, BareProgramNameIsLookedUpInPath) {
  platform::SpawnOptions o;
  o.argv = {"true"};
  EXPECT_EQ(platform::Process::spawn(o).wait(), 0);
}

TEST(Process, MissingProgramThrowsNamingIt) {
  platform::SpawnOptions o;
  o.argv = {"/nonexistent/appose-no-such-program"};
  try {
    platform::Process::spawn(o);
    FAIL() << "spawn should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/appose-no-such-program"), std::string::npos)
        << e.what();
  }
  o.argv = {"appose-no-such-program-on-path"};
  EXPECT_THROW(platform::Process::spawn(o), Error);
  o.argv = {};
  EXPECT_THROW(platform::Process::spawn(o), Error);
}

TEST(Process, DeathBySignalGivesNegativeSignal) {
  platform::Process p = platform::Process::spawn(sh("kill -KILL $$"));
  EXPECT_EQ(p.wait(), -SIGKILL);
}

TEST(Process, TryReapDoesNotBlock) {
  platform::Process p = platform::Process::spawn(sh("read x"));
  EXPECT_FALSE(p.try_reap().has_value());
  p.close_stdin();
  EXPECT_EQ(p.wait(), 1);  // `read` fails at EOF
}

TEST(Process, MoveKeepsTheChild) {
  // A moved-from Process must not reap the child behind the new owner's back.
  platform::Process a = platform::Process::spawn(sh("exit 5"));
  pid_t pid = static_cast<pid_t>(a.pid());
  platform::Process b;
  b = std::move(a);
  EXPECT_EQ(a.pid(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  {
    platform::Process c = std::move(b);
    EXPECT_EQ(c.pid(), pid);
    EXPECT_EQ(c.wait(), 5);
  }
}

TEST(Process, OnlyStandardDescriptorsAreInherited) {
  // A descriptor without O_CLOEXEC, as a careless library in the host would leave one.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  int high = ::dup2(leaky, 57);
  ASSERT_EQ(high, 57);
  ::close(leaky);
  ASSERT_EQ(::fcntl(high, F_GETFD) & FD_CLOEXEC, 0);

  // `ls` itself opens the folder to list it: that one descriptor (3) is its own. macOS has no
  // /proc; its /dev/fd lists every descriptor of the process reading it.
#ifdef __APPLE__
  platform::Process p = platform::Process::spawn(sh("ls /dev/fd"));
#else
  platform::Process p = platform::Process::spawn(sh("ls /proc/self/fd"));
#endif
  std::string out = read_all(stdout_fd(p));
  EXPECT_EQ(p.wait(), 0);
  ::close(high);

  std::set<int> fds;
  std::istringstream in(out);
  for (int fd; in >> fd;)
    fds.insert(fd);
  EXPECT_TRUE(fds.count(0) && fds.count(1) && fds.count(2)) << out;
  EXPECT_EQ(fds.count(57), 0u) << "the non-CLOEXEC descriptor leaked into the child:\n" << out;
  for (int fd : fds)
    EXPECT_LE(fd, 3) << "unexpected descriptor " << fd << " in:\n" << out;
}

TEST(Process, ChildLeadsItsOwnProcessGroup) {
#ifdef __APPLE__
  // No /proc: the group is asked of the running child itself.
  platform::Process p = platform::Process::spawn(sh("echo $$; exec cat >/dev/null"));
  const long pid = std::stol(read_all(stdout_fd(p), "\n"));
  const pid_t pgrp = ::getpgid(static_cast<pid_t>(pid));
  p.close_stdin();
  ASSERT_EQ(p.wait(), 0);
  EXPECT_EQ(pid, p.pid());
  EXPECT_EQ(pgrp, p.pid());
  EXPECT_NE(pgrp, ::getpgrp());
#else
  // Field 5 of /proc/<pid>/stat is the process group id; the command name (field 2) is in
  // parentheses and may hold spaces, so parse from the last ')'.
  platform::Process p =
      platform::Process::spawn(sh("read -r line < /proc/$$/stat; echo \"$line\""));
  std::string stat = read_all(stdout_fd(p));
  ASSERT_EQ(p.wait(), 0);
  auto close_paren = stat.rfind(')');
  ASSERT_NE(close_paren, std::string::npos) << stat;
  std::istringstream rest(stat.substr(close_paren + 1));
  std::string state;
  long ppid = 0, pgrp = 0;
  rest >> state >> ppid >> pgrp;
  EXPECT_EQ(std::stol(stat), p.pid());
  EXPECT_EQ(pgrp, p.pid());
  EXPECT_NE(pgrp, ::getpgrp());
#endif
}

TEST(Process, WorkingDirectoryIsSet) {
  TempDir dir;
  platform::SpawnOptions o = sh("pwd -P");
  o.cwd = dir.path.string();
  platform::Process p = platform::Process::spawn(o);
  std::string out = read_all(stdout_fd(p));
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(out, std::filesystem::canonical(dir.path).string() + "\n");
}

TEST(Process, MissingWorkingDirectoryThrows) {
  platform::SpawnOptions o = sh("true");
  o.cwd = "/nonexistent/appose-no-such-dir";
  EXPECT_THROW(platform::Process::spawn(o), Error);
}

TEST(Process, EnvironmentVariablesAreSetAndUnset) {
  ASSERT_EQ(::setenv("APPOSE_PROCESS_TEST_INHERITED", "kept", 1), 0);
  ASSERT_EQ(::setenv("APPOSE_PROCESS_TEST_UNSET", "present", 1), 0);
  platform::SpawnOptions o =
      sh("echo \"${APPOSE_PROCESS_TEST_SET-none}:${APPOSE_PROCESS_TEST_UNSET-none}:"
         "${APPOSE_PROCESS_TEST_INHERITED-none}\"");
  o.env["APPOSE_PROCESS_TEST_SET"] = "hello world";
  o.env["APPOSE_PROCESS_TEST_UNSET"] = std::nullopt;
  platform::Process p = platform::Process::spawn(o);
  std::string out = read_all(stdout_fd(p));
  EXPECT_EQ(p.wait(), 0);
  ::unsetenv("APPOSE_PROCESS_TEST_INHERITED");
  ::unsetenv("APPOSE_PROCESS_TEST_UNSET");
  EXPECT_EQ(out, "hello world:none:kept\n");
}

TEST(Process, PathOfTheChildEnvironmentFindsTheProgram) {
  TempDir dir;
  make_executable(dir.path / "appose-fake-launcher");
  platform::SpawnOptions o;
  o.argv = {"appose-fake-launcher"};
  o.env["PATH"] = dir.path.string();
  EXPECT_EQ(platform::Process::spawn(o).wait(), 0);
}

/// SIGPIPE's default action (termination) for the scope of a test, whatever the harness set:
/// with it, a SIGPIPE raised by the library would kill the test.
class DefaultSigpipe {
 public:
  DefaultSigpipe() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, &old_);
  }
  ~DefaultSigpipe() { ::sigaction(SIGPIPE, &old_, nullptr); }
  DefaultSigpipe(const DefaultSigpipe&) = delete;
  DefaultSigpipe& operator=(const DefaultSigpipe&) = delete;

 private:
  struct sigaction old_ {};
};

TEST(Process, WriteToDeadChildGivesEpipeWithoutSigpipe) {
  DefaultSigpipe sigpipe_kills;

  platform::Process p = platform::Process::spawn(sh("exit 0"));
  ASSERT_EQ(p.wait(), 0);
  std::error_code ec = p.write_stdin("{\"task\":\"x\"}\n");
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();
  ec = p.write_stdin(std::string(1 << 20, 'x'));  // a large write fails the same way
  EXPECT_EQ(ec, std::errc::broken_pipe) << ec.message();

  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";

  p.close_stdin();
  EXPECT_EQ(p.write_stdin("x"), std::errc::broken_pipe);
}

/// SIGPIPE blocked in this thread for the scope of a test; whatever is pending then is taken.
class BlockedSigpipe {
 public:
  BlockedSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockedSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    int taken = 0;
    if (pending()) sigwait(&set, &taken);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  BlockedSigpipe(const BlockedSigpipe&) = delete;
  BlockedSigpipe& operator=(const BlockedSigpipe&) = delete;

  static bool pending() {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
  }
  static bool blocked() {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    return sigismember(&mask, SIGPIPE) == 1;
  }

 private:
  sigset_t old_{};
};

// A thread that blocks SIGPIPE itself keeps it blocked, and a SIGPIPE it already had pending
// stays pending: only the one the library's own write raised is taken.
TEST(Process, WriteLeavesACallersBlockedSigpipeAsItWas) {
  DefaultSigpipe sigpipe_kills;
  platform::Process p = platform::Process::spawn(sh("exit 0"));
  ASSERT_EQ(p.wait(), 0);
  {
    BlockedSigpipe blocked;
    EXPECT_EQ(p.write_stdin("x\n"), std::errc::broken_pipe);
    EXPECT_TRUE(BlockedSigpipe::blocked());
    EXPECT_FALSE(BlockedSigpipe::pending()) << "the library's own SIGPIPE was left pending";

    ASSERT_EQ(pthread_kill(pthread_self(), SIGPIPE), 0);
    ASSERT_TRUE(BlockedSigpipe::pending());
    EXPECT_EQ(p.write_stdin("x\n"), std::errc::broken_pipe);
    EXPECT_TRUE(BlockedSigpipe::blocked());
    EXPECT_TRUE(BlockedSigpipe::pending()) << "the caller's pending SIGPIPE was taken";
  }
  EXPECT_FALSE(BlockedSigpipe::blocked());
  EXPECT_EQ(p.write_stdin("x\n"), std::errc::broken_pipe);
  EXPECT_FALSE(BlockedSigpipe::blocked()) << "the write left SIGPIPE blocked";
}

TEST(Process, WriteReachesTheChild) {
  platform::Process p = platform::Process::spawn(sh("read -r line; echo \"got $line\""));
  EXPECT_FALSE(p.write_stdin("hello\n"));
  EXPECT_EQ(read_all(stdout_fd(p)), "got hello\n");
  EXPECT_EQ(p.wait(), 0);
}

TEST(Process, KillGroupReachesGrandchild) {
  platform::Process p = platform::Process::spawn(sh("sleep 100 & echo $!; wait"));
  std::string line = read_all(stdout_fd(p), "\n");
  pid_t grandchild = static_cast<pid_t>(std::stol(line));
  ASSERT_GT(grandchild, 0);
  // Says when the grandchild has exited, whoever reaps it.
  ExitWatch watch(grandchild);
  ASSERT_TRUE(watch.opened()) << "watching the grandchild: " << std::strerror(watch.error());

  p.terminate_group();
  EXPECT_EQ(p.wait(), -SIGTERM);
  EXPECT_TRUE(watch.exited_within(std::chrono::milliseconds(5000)))
      << "the grandchild survived the group kill";

  p.kill_group();  // after reaping: a no-op (the pid may be reused)
}

TEST(Process, ExitFdBecomesReadableOnExit) {
  platform::Process p = platform::Process::spawn(sh("cat > /dev/null"));
  ASSERT_GE(exit_fd(p), 0) << "no pidfd support on this kernel";
  pollfd pfd{exit_fd(p), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "readable while the child is running";
  p.close_stdin();
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1);
  EXPECT_TRUE(pfd.revents & POLLIN);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(exit_fd(p), -1);  // closed once reaped
}

TEST(Process, OutputDescriptorsAreCloseOnExec) {
  // So that a second worker spawned by this host does not hold the first one's pipes open.
  platform::Process p = platform::Process::spawn(sh("cat > /dev/null"));
  for (int fd : {stdin_fd(p), stdout_fd(p), stderr_fd(p)}) {
    EXPECT_GT(fd, 2);
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << fd;
  }
  p.close_stdin();
  EXPECT_EQ(p.wait(), 0);
}

TEST(Process, FindExecutableSearchesDirectoriesInOrder) {
  TempDir a, b;
  make_executable(a.path / "tool");
  make_executable(b.path / "tool");
  make_executable(b.path / "only-b");
  make_executable(b.path / "bin" / "nested");
  // Present but not executable: skipped.
  FILE* f = std::fopen((a.path / "only-b").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  std::filesystem::create_directories(a.path / "dir-not-file");

  std::vector<std::string> dirs{a.path.string(), "", b.path.string()};
  EXPECT_EQ(platform::find_executable("tool", dirs), (a.path / "tool").string());
  EXPECT_EQ(platform::find_executable("only-b", dirs), (b.path / "only-b").string());
  EXPECT_EQ(platform::find_executable("bin/nested", dirs), (b.path / "bin" / "nested").string());
  EXPECT_EQ(platform::find_executable("dir-not-file", dirs), "");
  EXPECT_EQ(platform::find_executable("missing", dirs), "");
  EXPECT_EQ(platform::find_executable("", dirs), "");
  EXPECT_EQ(platform::find_executable((a.path / "tool").string(), {}), (a.path / "tool").string());
  EXPECT_EQ(platform::find_executable((a.path / "missing").string(), dirs), "");

  std::string sh_path = platform::find_executable("sh", platform::path_dirs());
  ASSERT_FALSE(sh_path.empty());
  EXPECT_EQ(sh_path.front(), '/');
}

TEST(Process, PathDirsSplitsPath) {
  EXPECT_EQ(platform::split_path("/a:/b::/c"), (std::vector<std::string>{"/a", "/b", "", "/c"}));
  EXPECT_EQ(platform::split_path("/only"), (std::vector<std::string>{"/only"}));
  EXPECT_TRUE(platform::split_path("").empty());

  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  ASSERT_EQ(::setenv("PATH", "/x/bin:/y/bin", 1), 0);
  auto dirs = platform::path_dirs();
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(dirs, (std::vector<std::string>{"/x/bin", "/y/bin"}));
}

}  // namespace
}  // namespace appose::detail
