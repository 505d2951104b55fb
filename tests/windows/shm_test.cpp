// Shared memory on Windows, under Wine: named file mappings (platform/windows/shm.cpp) seen from
// another process, their errors, their size, and the absent crash registry (shm_registry.cpp).
// Children are this program again (test_child.hpp).

#include <gtest/gtest.h>

#include <appose/error.hpp>
#include <appose/shared_memory.hpp>
#include <cstring>
#include <string>

#include "platform/shm.hpp"
#include "platform/shm_registry.hpp"
#include "test_child.hpp"
#include "util/random.hpp"

namespace platform = appose::detail::platform;
using appose::test::win::Child;
using appose::test::win::start_child;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kFromParent = "written by the creator";
constexpr std::string_view kFromChild = "written by the attacher";
/// Where the child writes: past the first page, so that the whole mapping is shared.
constexpr std::size_t kChildOffset = 5000;

std::string fresh_name() {
  return std::string(platform::shm_name_prefix()) + appose::detail::random_hex(16);
}

/// Attaches to `args[0]`, checks the creator's bytes, writes its own; 0 when all went well.
int attach_and_write(const std::vector<std::string>& args) {
  platform::ShmMapping m;
  auto step = platform::ShmStep::none;
  if (platform::shm_attach(args.at(0), m, step)) return 2;
  if (m.size < kChildOffset + kFromChild.size()) return 3;
  if (std::memcmp(m.address, kFromParent.data(), kFromParent.size()) != 0) return 4;
  std::memcpy(static_cast<char*>(m.address) + kChildOffset, kFromChild.data(), kFromChild.size());
  return platform::shm_unmap(m) ? 5 : 0;
}

}  // namespace

int appose::test::win::child_main(std::string_view mode, const std::vector<std::string>& args) {
  if (mode == "attach-and-write") return attach_and_write(args);
  return 99;
}

TEST(Shm, ABlockCreatedHereIsOpenedByNameInAnotherProcessWhoseWritesAreSeenHere) {
  const std::string name = fresh_name();
  EXPECT_EQ(name.rfind("wnsm_", 0), 0u);  // Python's prefix on Windows
  platform::ShmMapping m;
  auto step = platform::ShmStep::none;
  ASSERT_FALSE(platform::shm_create(name, 10000, m, step));
  EXPECT_EQ(step, platform::ShmStep::none);
  std::memcpy(m.address, kFromParent.data(), kFromParent.size());
  Child child = start_child("attach-and-write", {name});
  EXPECT_EQ(child.wait(10s), 0);
  EXPECT_EQ(std::string_view(static_cast<const char*>(m.address) + kChildOffset, kFromChild.size()),
            kFromChild);
  EXPECT_FALSE(platform::shm_unmap(m));
}

TEST(Shm, TheSizeIsWhatVirtualQuerySaysAndCoversTheRequest) {
  SYSTEM_INFO info{};
  ::GetSystemInfo(&info);
  for (std::size_t requested :
       {std::size_t{1}, std::size_t{4096}, std::size_t{10000}, std::size_t{3} << 20}) {
    platform::ShmMapping m;
    auto step = platform::ShmStep::none;
    ASSERT_FALSE(platform::shm_create(fresh_name(), requested, m, step)) << requested;
    EXPECT_GE(m.size, requested);
    EXPECT_EQ(m.size % info.dwPageSize, 0u) << m.size;  // whole pages, as Windows allocates
    EXPECT_LT(m.size - requested, info.dwPageSize);
    static_cast<char*>(m.address)[m.size - 1] = 1;  // all of it is usable
    EXPECT_FALSE(platform::shm_unmap(m));
  }
}

TEST(Shm, AttachingToAMissingNameFailsAtOpenAsNoSuchFile) {
  platform::ShmMapping m;
  auto step = platform::ShmStep::none;
  const auto ec = platform::shm_attach(fresh_name(), m, step);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_EQ(step, platform::ShmStep::open);
  EXPECT_EQ(m.address, nullptr);

  // And through the public API, with the message that says why.
  try {
    (void)appose::SharedMemory::attach(fresh_name(), 0);
    ADD_FAILURE() << "attached to nothing";
  } catch (const appose::Error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(e.what()).find("no shared memory block named"), std::string::npos)
        << e.what();
  }
}

TEST(Shm, CreatingATakenNameFailsAndLeavesTheBlockAlone) {
  const std::string name = fresh_name();
  platform::ShmMapping first;
  auto step = platform::ShmStep::none;
  ASSERT_FALSE(platform::shm_create(name, 4096, first, step));
  static_cast<char*>(first.address)[0] = 42;
  platform::ShmMapping second;
  const auto ec = platform::shm_create(name, 8192, second, step);
  EXPECT_EQ(ec, std::errc::file_exists);
  EXPECT_EQ(step, platform::ShmStep::open);
  EXPECT_EQ(second.address, nullptr);
  platform::ShmMapping again;
  ASSERT_FALSE(platform::shm_attach(name, again, step));
  EXPECT_EQ(again.size, first.size);  // not resized
  EXPECT_EQ(static_cast<char*>(again.address)[0], 42);
  EXPECT_FALSE(platform::shm_unmap(again));
  EXPECT_FALSE(platform::shm_unmap(first));
}

TEST(Shm, TheNameGoesWithTheLastHandleAndUnlinkHasNothingToDo) {
  const std::string name = fresh_name();
  platform::ShmMapping m;
  auto step = platform::ShmStep::none;
  ASSERT_FALSE(platform::shm_create(name, 4096, m, step));
  EXPECT_FALSE(platform::shm_unlink(name));  // a no-op: the block is still there
  platform::ShmMapping other;
  ASSERT_FALSE(platform::shm_attach(name, other, step));
  EXPECT_FALSE(platform::shm_unmap(other));
  EXPECT_FALSE(platform::shm_unmap(m));
  EXPECT_FALSE(platform::shm_unmap(m));  // twice is harmless
  EXPECT_EQ(m.address, nullptr);
  EXPECT_EQ(platform::shm_attach(name, other, step), std::errc::no_such_file_or_directory);
}

TEST(Shm, NamesWithANulOrTooLongAreRefused) {
  platform::ShmMapping m;
  auto step = platform::ShmStep::none;
  EXPECT_EQ(platform::shm_create(std::string("wnsm_a\0b", 8), 4096, m, step),
            std::errc::invalid_argument);
  EXPECT_EQ(platform::shm_attach(std::string(platform::shm_name_max() + 1, 'a'), m, step),
            std::errc::invalid_argument);
  EXPECT_EQ(m.address, nullptr);
}

TEST(ShmRegistry, ThereIsNoneBecauseNoBlockOutlivesItsLastHandle) {
  auto block = appose::SharedMemory::create(1000);
  EXPECT_EQ(block.name().rfind("wnsm_", 0), 0u);
  EXPECT_TRUE(platform::shm_registry::directory().empty());
  EXPECT_TRUE(platform::shm_registry::list().empty());
  EXPECT_TRUE(appose::owned_blocks().empty());
  EXPECT_TRUE(appose::reclaim_orphaned_blocks().empty());
  platform::shm_registry::reclaim_once();
  // The block is unaffected by all of that.
  auto attached = appose::SharedMemory::attach(block.name(), 1000);
  EXPECT_EQ(attached.size(), block.size());
}
