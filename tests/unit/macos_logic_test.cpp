// What the platform layer does differently on macOS, tested on Linux where it can be: the rules
// are functions of their inputs (platform/posix/shm_name.hpp, shm_registry_rules.hpp), and the
// contracts the macOS implementations share with Linux's (an exit descriptor that stays
// readable, close-on-exec pipes) are checked here against Linux's. The macOS code itself is
// compiled by scripts/macos.sh and never run (docs/macos.md).

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "appose/shared_memory.hpp"
#include "platform/posix/exit_fd.hpp"
#include "platform/posix/process_native.hpp"
#include "platform/posix/shm_name.hpp"
#include "platform/posix/shm_registry_rules.hpp"
#include "platform/posix/unique_fd.hpp"
#include "platform/process.hpp"
#include "platform/shm.hpp"
#include "platform/wake_event.hpp"

namespace appose::detail::platform {
namespace {

namespace fs = std::filesystem;

bool readable(int fd, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN) != 0;
}

// ---- shared-memory names -------------------------------------------------------------------

TEST(MacosShmName, SlashCountsAgainstPshmnamlen) {
  EXPECT_EQ(kMacosShmNameLimit, 31u);
  EXPECT_EQ(kMacosShmNameMax, 30u);
  EXPECT_TRUE(shm_name_fits(std::string(30, 'a'), kMacosShmNameMax));
  EXPECT_FALSE(shm_name_fits(std::string(31, 'a'), kMacosShmNameMax));
  EXPECT_TRUE(shm_name_fits(std::string(31, 'a'), kLinuxShmNameMax));
  EXPECT_FALSE(shm_name_fits(std::string(256, 'a'), kLinuxShmNameMax));
}

TEST(MacosShmName, NulInsideNeverFits) {
  EXPECT_FALSE(shm_name_fits(std::string("psm_\0abc", 8), kMacosShmNameMax));
}

TEST(MacosShmName, ThisSystemReportsItsLimit) {
  EXPECT_EQ(shm_name_max(), kShmNameMax);
}

TEST(MacosShmName, GeneratedNamesFitMacos) {
  // The names appose-cpp makes (and Python's: psm_ + 8 hex digits) cross to a Mac unchanged.
  for (int i = 0; i < 8; ++i) {
    SharedMemory block = SharedMemory::create(64);
    EXPECT_TRUE(shm_name_fits(block.name(), kMacosShmNameMax)) << block.name();
    EXPECT_EQ(block.name().rfind(shm_name_prefix(), 0), 0u) << block.name();
  }
  EXPECT_TRUE(shm_name_fits("psm_4812f794", kMacosShmNameMax));
}

TEST(MacosShmName, TooLongForMacosIsRefusedBeforeTheSystemCall) {
  // A 31-character name cannot reach shm_open on a Mac; here it shows the check works at all:
  // a name over this system's limit fails at the open step with invalid_argument.
  ShmMapping mapping;
  ShmStep step = ShmStep::none;
  const auto ec = shm_create(std::string(kShmNameMax + 1, 'a'), 16, mapping, step);
  EXPECT_EQ(ec, std::errc::invalid_argument);
  EXPECT_EQ(step, ShmStep::open);
}

// ---- the crash registry's directory --------------------------------------------------------

TEST(MacosRegistry, OverrideWins) {
  shm_registry::Places p;
  p.override_dir = "/somewhere/reg";
  p.dev_shm = true;
  p.user_temp_dir = "/var/folders/xy/abc/T/";
  p.temp_dir = "/tmp";
  p.uid = 501;
  EXPECT_EQ(shm_registry::choose_directory(p), fs::path("/somewhere/reg"));
}

TEST(MacosRegistry, LinuxBesideTheBlocks) {
  shm_registry::Places p;
  p.dev_shm = true;
  p.temp_dir = "/tmp";
  p.uid = 1000;
  EXPECT_EQ(shm_registry::choose_directory(p), fs::path("/dev/shm/.appose-1000"));
}

TEST(MacosRegistry, MacosInTheUsersTemporaryDirectoryWhateverTmpdirSays) {
  // No /dev/shm on macOS; confstr(_CS_DARWIN_USER_TEMP_DIR) ends with a slash.
  shm_registry::Places shell;
  shell.user_temp_dir = "/var/folders/xy/abc/T/";
  shell.temp_dir = "/var/folders/xy/abc/T/";
  shell.uid = 501;
  shm_registry::Places cron = shell;
  cron.temp_dir = "/tmp";  // another TMPDIR: the same registry all the same
  const fs::path expected("/var/folders/xy/abc/T/.appose-501");
  EXPECT_EQ(shm_registry::choose_directory(shell).lexically_normal(), expected);
  EXPECT_EQ(shm_registry::choose_directory(cron).lexically_normal(), expected);
}

TEST(MacosRegistry, TemporaryDirectoryAsLastResort) {
  shm_registry::Places p;
  p.temp_dir = "/tmp";
  p.uid = 7;
  EXPECT_EQ(shm_registry::choose_directory(p), fs::path("/tmp/.appose-7"));
}

// ---- process start times -------------------------------------------------------------------

std::string proc_stat_line(const std::string& comm, unsigned long long start) {
  // Fields 3..21 are placeholders; field 22 is the start time.
  std::string line = "4242 (" + comm + ") S";
  for (int field = 4; field <= 21; ++field)
    line += " " + std::to_string(field);
  return line + " " + std::to_string(start) + " 23 24\n";
}

TEST(MacosStartTime, ProcStatFieldCountedAfterTheLastParenthesis) {
  EXPECT_EQ(shm_registry::start_time_from_proc_stat(proc_stat_line("python3", 98765)), 98765u);
  EXPECT_EQ(shm_registry::start_time_from_proc_stat(proc_stat_line("a) b (c) 1 2", 555)), 555u);
}

TEST(MacosStartTime, ProcStatMalformed) {
  EXPECT_FALSE(shm_registry::start_time_from_proc_stat(""));
  EXPECT_FALSE(shm_registry::start_time_from_proc_stat("4242 (short) S 1 2 3"));
  EXPECT_FALSE(shm_registry::start_time_from_proc_stat("4242 (x)"));
  EXPECT_FALSE(shm_registry::start_time_from_proc_stat("no parenthesis at all"));
}

TEST(MacosStartTime, TimevalInMicroseconds) {
  // kinfo_proc's p_starttime: processes started in the same second still differ.
  EXPECT_EQ(shm_registry::start_time_from_timeval(1700000000, 123456), 1700000000123456ULL);
  EXPECT_NE(shm_registry::start_time_from_timeval(1700000000, 1),
            shm_registry::start_time_from_timeval(1700000000, 2));
  EXPECT_LT(shm_registry::start_time_from_timeval(1700000000, 999999),
            shm_registry::start_time_from_timeval(1700000001, 0));
}

TEST(MacosStartTime, ThisProcessHasOne) {
  const auto self = shm_registry::process_start_time(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(shm_registry::process_start_time(::getpid()), self);
}

// ---- descriptors both systems' waits rely on ------------------------------------------------

TEST(MacosDescriptors, PipeEndsAreCloseOnExec) {
  UniqueFd read, write;
  ASSERT_FALSE(open_pipe(read, write));
  ASSERT_TRUE(read.valid() && write.valid());
  EXPECT_NE(::fcntl(read.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(write.get(), F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(::write(write.get(), "x", 1), 1);
  EXPECT_TRUE(readable(read.get(), 0));
}

TEST(MacosDescriptors, ExitFdStaysReadableAndLeavesTheStatusToWait) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "exit 3"};
  Process p = Process::spawn(options);
  const int fd = exit_fd(p);
  ASSERT_GE(fd, 0) << "no exit descriptor on this kernel";
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_TRUE(readable(fd, 10000));
  // Never read, so every later wait sees it too (the pump and the service both look).
  EXPECT_TRUE(readable(fd, 0));
  EXPECT_TRUE(p.exited_unreaped());
  EXPECT_EQ(p.wait(), 3);
  EXPECT_FALSE(p.exited_unreaped());
}

TEST(MacosDescriptors, ExitFdOfAProcessAlreadyGone) {
  // Linux: pidfd_open fails for a reaped process (macOS gives a descriptor readable at once);
  // either way no caller waits forever on it.
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "exit 0"};
  Process p = Process::spawn(options);
  const auto pid = static_cast<pid_t>(p.pid());
  ASSERT_EQ(p.wait(), 0);
  UniqueFd gone = open_exit_fd(pid);
  if (gone.valid()) {
    EXPECT_TRUE(readable(gone.get(), 0));
  }
}

TEST(MacosDescriptors, WakeEventStaysSetForEveryWait) {
  WakeEvent wake;
  const int fd = static_cast<int>(wake.native_handle());
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_FALSE(readable(fd, 0));
  wake.set();
  wake.set();
  EXPECT_TRUE(wake.is_set());
  EXPECT_TRUE(readable(fd, 0));
  EXPECT_TRUE(readable(fd, 0));
}

}  // namespace
}  // namespace appose::detail::platform
