// The per-environment build lock (src/platform/posix/dir_lock.cpp): its file goes when the lock
// is let go, so that the environments root does not fill with `.<name>.appose-lock` files, and
// it still lets one holder in at a time although waiters may hold the deleted file open.
// Builds use the micromamba stand-in (tests/support/standins/): no real tool runs.

#include <gtest/gtest.h>

#include <appose/builder.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "platform/dir_lock.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using appose::test::ScopedEnv;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST(BuildLock, BuildThenRemoveLeavesNothingOfTheEnvironment) {
  appose::test::TempDir root("appose-lock-test");
  ScopedEnv envs("APPOSE_ENVS_DIR", root.path.string());
  auto mamba = appose::mamba()
                   .executable(std::string(APPOSE_STANDIN_DIR) + "/micromamba")
                   .content("name: locked\ndependencies:\n  - appose\n");
  (void)mamba.build();
  EXPECT_EQ(listing(root.path), std::vector<std::string>{"locked"});
  (void)mamba.build();  // up to date: locks and unlocks again
  EXPECT_EQ(listing(root.path), std::vector<std::string>{"locked"});
  mamba.remove();
  EXPECT_EQ(listing(root.path), std::vector<std::string>{});
}

TEST(BuildLock, ALockFileLeftByADeadHolderIsReusedAndThenRemoved) {
  appose::test::TempDir root("appose-lock-test");
  const fs::path stale = root.path / ".env.appose-lock";
  std::ofstream(stale).put('\n');
  {
    appose::detail::platform::DirLock lock(root.path / "env");
    EXPECT_TRUE(fs::exists(stale));
  }
  EXPECT_FALSE(fs::exists(stale));
}

TEST(BuildLock, OneHolderAtATimeWhileTheFileComesAndGoes) {
  appose::test::TempDir root("appose-lock-test");
  const fs::path dir = root.path / "contended";
  // Every thread opens its own descriptor, so flock(2) treats them as separate holders, as it
  // would separate processes. Holders delete the file as they leave while others wait on it:
  // exactly the window in which two could otherwise get in at once.
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> entries{0};
  std::atomic<int> waits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        appose::detail::platform::DirLock lock(dir, [&] { ++waits; });
        if (inside.fetch_add(1) != 0) ++overlaps;
        ++entries;
        std::this_thread::sleep_for(100us);
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(entries.load(), 8 * 40);
  EXPECT_GT(waits.load(), 0);  // the waiting path really ran
  EXPECT_EQ(listing(root.path), std::vector<std::string>{});
}
