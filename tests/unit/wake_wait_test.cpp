// platform::wait_either(): the wait of the download's cancel waker, on every system (it runs
// under Wine too).

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "platform/wake_event.hpp"
#include "platform/wake_wait.hpp"

namespace appose::detail::platform {
namespace {

using namespace std::chrono_literals;

TEST(WakeWait, FirstAlreadySet) {
  WakeEvent first;
  WakeEvent second;
  first.set();
  EXPECT_TRUE(wait_either(first, second));
}

TEST(WakeWait, OnlySecondSet) {
  WakeEvent first;
  WakeEvent second;
  second.set();
  EXPECT_FALSE(wait_either(first, second));
}

TEST(WakeWait, BothSetReportsFirst) {
  WakeEvent first;
  WakeEvent second;
  second.set();
  first.set();
  EXPECT_TRUE(wait_either(first, second));
}

// The wait blocks until another thread sets an event, and wakes up when it does.
TEST(WakeWait, BlocksUntilSetFromAnotherThread) {
  for (bool set_first : {true, false}) {
    WakeEvent first;
    WakeEvent second;
    auto waiting = std::async(std::launch::async, [&] { return wait_either(first, second); });
    EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout) << "returned before a set()";
    (set_first ? first : second).set();
    ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready) << "set() did not wake it";
    EXPECT_EQ(waiting.get(), set_first);
  }
}

// The event stays set: every later wait returns at once (level-triggered, as the waker needs
// when cancel() comes before the thread starts waiting).
TEST(WakeWait, StaysSet) {
  WakeEvent first;
  WakeEvent second;
  first.set();
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(wait_either(first, second));
  EXPECT_FALSE(wait_either(second, first));
}

}  // namespace
}  // namespace appose::detail::platform
