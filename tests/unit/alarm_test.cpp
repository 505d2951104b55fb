// platform::Alarm: the timer that has a pool thread take over reading from a worker thread that
// runs a task too long (src/worker/worker_impl.cpp), on every system (it runs under Wine too).
// The waits are bounded from above only: a loaded machine may ring late, never early.

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "platform/alarm.hpp"

namespace appose::detail::platform {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Alarm, RingsAfterItsDelay) {
  Alarm alarm;
  const auto t0 = Clock::now();
  alarm.set(2ms);
  EXPECT_TRUE(alarm.wait());
  EXPECT_GE(Clock::now() - t0, 2ms);
}

TEST(Alarm, SettingAgainReplacesTheEarlierSetting) {
  Alarm alarm;
  alarm.set(1h);
  alarm.set(1ms);
  auto rang = std::async(std::launch::async, [&] { return alarm.wait(); });
  ASSERT_EQ(rang.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(rang.get());
}

TEST(Alarm, StopEndsAWaitInProgressAndEveryLaterOne) {
  Alarm alarm;
  auto waiting = std::async(std::launch::async, [&] { return alarm.wait(); });
  EXPECT_EQ(waiting.wait_for(20ms), std::future_status::timeout);
  alarm.stop();
  ASSERT_EQ(waiting.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(waiting.get());
  EXPECT_FALSE(alarm.wait());
}

}  // namespace
}  // namespace appose::detail::platform
