// The crash registry of owned shared-memory blocks: what it records, and that the blocks of a
// SIGKILLed host are reclaimed while kept blocks, live owners' blocks and other programs'
// blocks are left alone.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <appose/environment.hpp>
#include <appose/service.hpp>
#include <appose/shared_memory.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

using appose::test::shm_block_exists;

bool registered(const std::string& name) {
  auto blocks = appose::owned_blocks();
  return std::any_of(blocks.begin(), blocks.end(),
                     [&](const appose::OwnedBlock& b) { return b.name == name; });
}

/// Each test gets its own registry directory, so that tests running in parallel (and other
/// appose-cpp processes of this user) never see each other's entries.
class ShmRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("appose-registry-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ::setenv("APPOSE_SHM_REGISTRY", dir_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("APPOSE_SHM_REGISTRY");
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

/// Starts shm_host and reads the names it prints.
struct Host {
  pid_t pid = -1;
  std::vector<std::string> names;
};

Host start_host(int owned) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string count = std::to_string(owned);
  char* argv[] = {const_cast<char*>(APPOSE_SHM_HOST), count.data(), nullptr};
  Host host;
  EXPECT_EQ(posix_spawn(&host.pid, APPOSE_SHM_HOST, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  char line[256];
  while (static_cast<int>(host.names.size()) < owned + 1 && std::fgets(line, sizeof line, f)) {
    std::string s(line);
    while (!s.empty() && s.back() == '\n')
      s.pop_back();
    host.names.push_back(s);
  }
  std::fclose(f);
  return host;
}

void kill_host(const Host& host) {
  ::kill(host.pid, SIGKILL);
  int status = 0;
  ::waitpid(host.pid, &status, 0);
}

}  // namespace

TEST_F(ShmRegistry, RecordsExactlyWhatThisProcessWillUnlink) {
  auto owned = appose::SharedMemory::create(100);
  EXPECT_TRUE(registered(owned.name()));
  auto blocks = appose::owned_blocks();
  auto it = std::find_if(blocks.begin(), blocks.end(),
                         [&](const appose::OwnedBlock& b) { return b.name == owned.name(); });
  ASSERT_NE(it, blocks.end());
  EXPECT_EQ(it->pid, ::getpid());
  EXPECT_TRUE(it->owner_alive);

  // Kept on purpose: no longer ours to reclaim.
  owned.unlink_on_close(false);
  EXPECT_FALSE(registered(owned.name()));
  owned.unlink_on_close(true);
  EXPECT_TRUE(registered(owned.name()));
  owned.unlink();
  EXPECT_FALSE(registered(owned.name()));

  // Attached blocks belong to their creator, unless this process takes them over (as a service
  // does with task outputs).
  auto made = appose::SharedMemory::create(100);
  made.unlink_on_close(false);
  auto attached = appose::SharedMemory::attach(made.name());
  EXPECT_FALSE(registered(made.name()));
  attached.unlink_on_close(true);
  EXPECT_TRUE(registered(made.name()));
  attached.close();
  EXPECT_FALSE(registered(made.name()));
  EXPECT_FALSE(shm_block_exists(made.name()));
}

TEST_F(ShmRegistry, BlocksOfAKilledHostAreReclaimedAndNothingElse) {
  Host host = start_host(3);
  ASSERT_EQ(host.names.size(), 4U);
  const std::vector<std::string> owned(host.names.begin(), host.names.begin() + 3);
  const std::string kept = host.names.back();

  // Another program's block (not made through Appose, so not registered) and one of ours.
  const std::string foreign = "psm_foreign" + std::to_string(::getpid());
  int fd = ::shm_open(("/" + foreign).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto mine = appose::SharedMemory::create(100);

  // While the host lives, nothing is reclaimed.
  EXPECT_TRUE(appose::reclaim_orphaned_blocks().empty());
  for (const auto& n : owned)
    EXPECT_TRUE(shm_block_exists(n)) << n;

  kill_host(host);
  auto blocks = appose::owned_blocks();
  for (const auto& n : owned) {
    auto it = std::find_if(blocks.begin(), blocks.end(),
                           [&](const appose::OwnedBlock& b) { return b.name == n; });
    ASSERT_NE(it, blocks.end()) << n;
    EXPECT_FALSE(it->owner_alive) << n;
  }

  auto reclaimed = appose::reclaim_orphaned_blocks();
  std::sort(reclaimed.begin(), reclaimed.end());
  auto expected = owned;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(reclaimed, expected);
  for (const auto& n : owned)
    EXPECT_FALSE(shm_block_exists(n)) << n;
  EXPECT_TRUE(shm_block_exists(kept));
  EXPECT_TRUE(shm_block_exists(foreign));
  EXPECT_TRUE(shm_block_exists(mine.name()));
  EXPECT_TRUE(registered(mine.name()));
  // Reclaiming again finds nothing.
  EXPECT_TRUE(appose::reclaim_orphaned_blocks().empty());

  ::shm_unlink(("/" + kept).c_str());
  ::shm_unlink(("/" + foreign).c_str());
}

TEST_F(ShmRegistry, StartingAServiceReclaimsOrphans) {
  Host host = start_host(2);
  ASSERT_EQ(host.names.size(), 3U);
  kill_host(host);
  ASSERT_TRUE(shm_block_exists(host.names[0]));
  // Any worker will do: the reclaim happens when the first one of this process starts.
  appose::Environment env("/");
  appose::Service service = env.service({"cat"}, {});
  service.start();
  EXPECT_FALSE(shm_block_exists(host.names[0]));
  EXPECT_FALSE(shm_block_exists(host.names[1]));
  EXPECT_TRUE(shm_block_exists(host.names[2]));  // kept on purpose
  service.close();
  (void)service.wait_for();
  ::shm_unlink(("/" + host.names[2]).c_str());
}

TEST_F(ShmRegistry, AnUnwritableRegistryNeverBreaksABlock) {
  ::setenv("APPOSE_SHM_REGISTRY", "/proc/appose-cannot-be-here", 1);
  auto block = appose::SharedMemory::create(64);
  block.bytes()[0] = std::byte{7};
  EXPECT_TRUE(appose::owned_blocks().empty());
  block.close();
  EXPECT_FALSE(shm_block_exists(block.name()));
}
