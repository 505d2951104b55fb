// The OS process layer (src/platform/posix/process.cpp): spawning, descriptors, process groups,
// signals, exit watching, executable lookup.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
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
#include "platform/process.hpp"

#include "support/test_support.hpp"

namespace appose::detail {
namespace {

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

SpawnOptions sh(const std::string& script) {
  SpawnOptions o;
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
  Process p = Process::spawn(sh("exit 7"));
  EXPECT_GT(p.pid(), 0);
  EXPECT_EQ(p.wait(), 7);
  EXPECT_TRUE(p.reaped());
  EXPECT_EQ(p.exit_code(), 7);
  EXPECT_EQ(p.wait(), 7);  // waiting again returns the same code
}

TEST(Process, BareProgramNameIsLookedUpInPath) {
  SpawnOptions o;
  o.argv = {"true"};
  EXPECT_EQ(Process::spawn(o).wait(), 0);
}

TEST(Process, MissingProgramThrowsNamingIt) {
  SpawnOptions o;
  o.argv = {"/nonexistent/appose-no-such-program"};
  try {
    Process::spawn(o);
    FAIL() << "spawn should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/appose-no-such-program"), std::string::npos)
        << e.what();
  }
  o.argv = {"appose-no-such-program-on-path"};
  EXPECT_THROW(Process::spawn(o), Error);
  o.argv = {};
  EXPECT_THROW(Process::spawn(o), Error);
}

TEST(Process, DeathBySignalGivesNegativeSignal) {
  Process p = Process::spawn(sh("kill -KILL $$"));
  EXPECT_EQ(p.wait(), -SIGKILL);
}

TEST(Process, TryReapDoesNotBlock) {
  Process p = Process::spawn(sh("read x"));
  EXPECT_FALSE(p.try_reap().has_value());
  p.close_stdin();
  EXPECT_EQ(p.wait(), 1);  // `read` fails at EOF
}

TEST(Process, MoveKeepsTheChild) {
  // A moved-from Process must not reap the child behind the new owner's back.
  Process a = Process::spawn(sh("exit 5"));
  pid_t pid = a.pid();
  Process b;
  b = std::move(a);
  EXPECT_EQ(a.pid(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  {
    Process c = std::move(b);
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

  // `ls` itself opens /proc/self/fd to list it: that one descriptor (3) is its own.
  Process p = Process::spawn(sh("ls /proc/self/fd"));
  std::string out = read_all(p.stdout_fd());
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
  // Field 5 of /proc/<pid>/stat is the process group id; the command name (field 2) is in
  // parentheses and may hold spaces, so parse from the last ')'.
  Process p = Process::spawn(sh("read -r line < /proc/$$/stat; echo \"$line\""));
  std::string stat = read_all(p.stdout_fd());
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
}

TEST(Process, WorkingDirectoryIsSet) {
  TempDir dir;
  SpawnOptions o = sh("pwd -P");
  o.cwd = dir.path.string();
  Process p = Process::spawn(o);
  std::string out = read_all(p.stdout_fd());
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(out, std::filesystem::canonical(dir.path).string() + "\n");
}

TEST(Process, MissingWorkingDirectoryThrows) {
  SpawnOptions o = sh("true");
  o.cwd = "/nonexistent/appose-no-such-dir";
  EXPECT_THROW(Process::spawn(o), Error);
}

TEST(Process, EnvironmentVariablesAreSetAndUnset) {
  ASSERT_EQ(::setenv("APPOSE_PROCESS_TEST_INHERITED", "kept", 1), 0);
  ASSERT_EQ(::setenv("APPOSE_PROCESS_TEST_UNSET", "present", 1), 0);
  SpawnOptions o =
      sh("echo \"${APPOSE_PROCESS_TEST_SET-none}:${APPOSE_PROCESS_TEST_UNSET-none}:"
         "${APPOSE_PROCESS_TEST_INHERITED-none}\"");
  o.env["APPOSE_PROCESS_TEST_SET"] = "hello world";
  o.env["APPOSE_PROCESS_TEST_UNSET"] = std::nullopt;
  Process p = Process::spawn(o);
  std::string out = read_all(p.stdout_fd());
  EXPECT_EQ(p.wait(), 0);
  ::unsetenv("APPOSE_PROCESS_TEST_INHERITED");
  ::unsetenv("APPOSE_PROCESS_TEST_UNSET");
  EXPECT_EQ(out, "hello world:none:kept\n");
}

TEST(Process, PathOfTheChildEnvironmentFindsTheProgram) {
  TempDir dir;
  make_executable(dir.path / "appose-fake-launcher");
  SpawnOptions o;
  o.argv = {"appose-fake-launcher"};
  o.env["PATH"] = dir.path.string();
  EXPECT_EQ(Process::spawn(o).wait(), 0);
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

  Process p = Process::spawn(sh("exit 0"));
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

TEST(Process, WriteReachesTheChild) {
  Process p = Process::spawn(sh("read -r line; echo \"got $line\""));
  EXPECT_FALSE(p.write_stdin("hello\n"));
  EXPECT_EQ(read_all(p.stdout_fd()), "got hello\n");
  EXPECT_EQ(p.wait(), 0);
}

TEST(Process, KillGroupReachesGrandchild) {
  Process p = Process::spawn(sh("sleep 100 & echo $!; wait"));
  std::string line = read_all(p.stdout_fd(), "\n");
  pid_t grandchild = static_cast<pid_t>(std::stol(line));
  ASSERT_GT(grandchild, 0);
  // A pidfd on the grandchild says when it has exited, whoever reaps it.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  ASSERT_GE(pidfd, 0) << "pidfd_open: " << std::strerror(errno);

  p.kill_group(SIGTERM);
  EXPECT_EQ(p.wait(), -SIGTERM);
  pollfd pfd{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1) << "the grandchild survived the group kill";
  ::close(pidfd);

  p.kill_group(SIGKILL);  // after reaping: a no-op (the pid may be reused)
}

TEST(Process, ExitFdBecomesReadableOnExit) {
  Process p = Process::spawn(sh("cat > /dev/null"));
  ASSERT_GE(p.exit_fd(), 0) << "no pidfd support on this kernel";
  pollfd pfd{p.exit_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "readable while the child is running";
  p.close_stdin();
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1);
  EXPECT_TRUE(pfd.revents & POLLIN);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(p.exit_fd(), -1);  // closed once reaped
}

TEST(Process, OutputDescriptorsAreCloseOnExec) {
  // So that a second worker spawned by this host does not hold the first one's pipes open.
  Process p = Process::spawn(sh("cat > /dev/null"));
  for (int fd : {p.stdin_fd(), p.stdout_fd(), p.stderr_fd()}) {
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
  EXPECT_EQ(find_executable("tool", dirs), (a.path / "tool").string());
  EXPECT_EQ(find_executable("only-b", dirs), (b.path / "only-b").string());
  EXPECT_EQ(find_executable("bin/nested", dirs), (b.path / "bin" / "nested").string());
  EXPECT_EQ(find_executable("dir-not-file", dirs), "");
  EXPECT_EQ(find_executable("missing", dirs), "");
  EXPECT_EQ(find_executable("", dirs), "");
  EXPECT_EQ(find_executable((a.path / "tool").string(), {}), (a.path / "tool").string());
  EXPECT_EQ(find_executable((a.path / "missing").string(), dirs), "");

  std::string sh_path = find_executable("sh", path_dirs());
  ASSERT_FALSE(sh_path.empty());
  EXPECT_EQ(sh_path.front(), '/');
}

TEST(Process, PathDirsSplitsPath) {
  EXPECT_EQ(split_path("/a:/b::/c"), (std::vector<std::string>{"/a", "/b", "", "/c"}));
  EXPECT_EQ(split_path("/only"), (std::vector<std::string>{"/only"}));
  EXPECT_TRUE(split_path("").empty());

  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  ASSERT_EQ(::setenv("PATH", "/x/bin:/y/bin", 1), 0);
  auto dirs = path_dirs();
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(dirs, (std::vector<std::string>{"/x/bin", "/y/bin"}));
}

}  // namespace
}  // namespace appose::detail
