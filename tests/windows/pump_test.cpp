// The Windows output pump (src/platform/windows/output_pump.cpp) and wake event, with real
// processes: lines of both streams, the cap on a line, the bounded drain when a grandchild
// holds the pipes, waking, the handler's timer, and a handler that throws.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "appose/error.hpp"
#include "platform/output_pump.hpp"
#include "platform/wake_event.hpp"
#include "platform/windows/process_native.hpp"
#include "win_child.hpp"

namespace appose::test::win {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using platform::OutputStream;
using platform::Process;
using platform::PumpOptions;

/// Options whose drain after the exit ends only at EOF (within 10 s), for the tests that are
/// about what is read rather than when reading stops: under Wine, on a busy machine, the EOF
/// can come more than the default 20 ms after the exit is seen.
PumpOptions patient() {
  PumpOptions o;
  o.drain_quiet = o.drain_cap = 10s;
  return o;
}

TEST(WinWakeEvent, StaysSetAndKeepsTheLastError) {
  platform::WakeEvent e;
  const auto h = reinterpret_cast<HANDLE>(e.native_handle());
  EXPECT_FALSE(e.is_set());
  EXPECT_EQ(::WaitForSingleObject(h, 0), static_cast<DWORD>(WAIT_TIMEOUT));
  ::SetLastError(ERROR_FILE_NOT_FOUND);
  e.set();
  EXPECT_EQ(::GetLastError(), static_cast<DWORD>(ERROR_FILE_NOT_FOUND));
  EXPECT_TRUE(e.is_set());
  e.set();  // idempotent
  // Manual reset: every wait sees it, however many came before.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(::WaitForSingleObject(h, 0), WAIT_OBJECT_0);
}

TEST(WinWakeEvent, SetFromAnotherThreadEndsAWait) {
  platform::WakeEvent e;
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    e.set();
  });
  const auto h = reinterpret_cast<HANDLE>(e.native_handle());
  EXPECT_EQ(::WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
  setter.join();
  EXPECT_TRUE(e.is_set());
}

TEST(WinPump, LinesOfBothStreamsInOrder) {
  Process p = Process::spawn(child({"lines"}));
  Collector c;
  const auto result = platform::pump_output(p, patient(), c);
  EXPECT_TRUE(result.drained);
  // CR before LF removed; the unfinished last line given at the end.
  EXPECT_EQ(c.out, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(c.err, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(c.out_closed, 1);
  EXPECT_EQ(c.err_closed, 1);
  EXPECT_EQ(c.exits, 1);
  EXPECT_FALSE(p.reaped()) << "the pump never reaps";
  EXPECT_TRUE(p.exited_unreaped());
  EXPECT_EQ(p.wait(), 0);
}

TEST(WinPump, OutputOfAChildThatHasAlreadyExitedIsRead) {
  Process p = Process::spawn(child({"lines"}));
  ASSERT_EQ(::WaitForSingleObject(platform::process_handle(p), 10000), WAIT_OBJECT_0);
  Collector c;
  EXPECT_TRUE(platform::pump_output(p, patient(), c).drained);
  EXPECT_EQ(c.out, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(c.err, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(c.exits, 1);
}

TEST(WinPump, LongLineIsCapped) {
  Process p = Process::spawn(child({"long", "300000"}));
  PumpOptions o = patient();
  o.out.max_line = 1000;
  Collector c;
  EXPECT_TRUE(platform::pump_output(p, o, c).drained);
  ASSERT_EQ(c.out.size(), 2U);
  EXPECT_EQ(c.out[0], std::string(1000, 'x'));
  EXPECT_EQ(c.out_dropped[0], 299000U);
  EXPECT_EQ(c.out[1], "short");
  EXPECT_EQ(c.out_dropped[1], 0U);
  EXPECT_EQ(p.wait(), 0);
}

/// Runs `tree <grandchild>`, which exits at once while its grandchild holds the pipes, and
/// returns how long the pump ran after the exit; kills the grandchild (through the job) after.
Clock::duration drain_after_exit(const char* grandchild, const PumpOptions& o, Collector& c) {
  Process p = Process::spawn(child({"tree", grandchild}));
  const auto result = platform::pump_output(p, o, c);
  const auto took = Clock::now() - c.exit_time;
  EXPECT_FALSE(result.drained) << "the grandchild still holds the pipes";
  EXPECT_EQ(c.exits, 1);
  EXPECT_EQ(c.out_closed, 0);
  // The grandchild's pid, written before the exit (among its ticks, if it ticks).
  const auto pid = std::find_if(c.out.begin(), c.out.end(), [](const std::string& line) {
    return !line.empty() && line.find_first_not_of("0123456789") == std::string::npos;
  });
  EXPECT_NE(pid, c.out.end());
  p.kill_group();
  EXPECT_EQ(p.wait(), 0);
  if (pid != c.out.end()) {
    EXPECT_TRUE(process_gone(std::stoll(*pid), 5s));
  }
  return took;
}

// A silent grandchild: the drain ends when nothing has come for drain_cap (no idle limit).
TEST(WinPump, SilentGrandchildHoldingThePipeEndsTheDrainAtTheCap) {
  PumpOptions o;
  o.drain_quiet = o.drain_cap = 300ms;
  Collector c;
  const auto took = drain_after_exit("exit", o, c);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1500ms);
}

// A grandchild that keeps writing: the quiet period never comes, the cap ends the drain, and
// what came meanwhile was read.
TEST(WinPump, WritingGrandchildHoldingThePipeEndsTheDrainAtTheCap) {
  PumpOptions o;
  o.drain_quiet = 100ms;
  o.drain_cap = 400ms;
  Collector c;
  const auto took = drain_after_exit("tick", o, c);
  EXPECT_GE(took, 390ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_GT(c.out.size(), 3U) << "ticks during the drain";
}

// The default quiet period ends the drain of a silent grandchild's pipe early.
TEST(WinPump, QuietPeriodEndsTheDrain) {
  PumpOptions o;  // 20 ms quiet, 250 ms cap
  Collector c;
  const auto took = drain_after_exit("exit", o, c);
  EXPECT_LT(took, 240ms);
}

TEST(WinPump, WakeEventWakesThePump) {
  Process p = Process::spawn(child({"sleep"}));
  platform::WakeEvent wake;
  PumpOptions o;
  o.wake = &wake;
  Collector c;
  c.on_woken = [&] { p.kill_group(); };
  std::thread setter([&] {
    std::this_thread::sleep_for(100ms);
    wake.set();
  });
  const auto start = Clock::now();
  const auto result = platform::pump_output(p, o, c);
  setter.join();
  EXPECT_TRUE(result.drained);
  EXPECT_EQ(c.wakes, 1) << "reported once, then not watched";
  EXPECT_EQ(c.exits, 1);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(p.wait(), 1);
}

TEST(WinPump, TimerRunsAtTheDeadline) {
  struct Timer : Collector {
    Process* p = nullptr;
    std::optional<Clock::time_point> due;
    int timers = 0;
    std::optional<Clock::time_point> deadline() override { return due; }
    void timer() override {
      ++timers;
      due.reset();
      p->kill_group();
    }
  } t;
  Process p = Process::spawn(child({"sleep"}));
  t.p = &p;
  const auto start = Clock::now();
  t.due = start + 150ms;
  EXPECT_TRUE(platform::pump_output(p, {}, t).drained);
  const auto took = Clock::now() - start;
  EXPECT_EQ(t.timers, 1);
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(p.wait(), 1);
}

// An exception from the handler ends the pump (with reads outstanding on both pipes, which
// must be cancelled, not left writing into freed memory) and leaves the child as it is.
TEST(WinPump, HandlerExceptionPropagates) {
  Process p = Process::spawn(child({"tick"}));
  Collector c;
  c.on_line = [](OutputStream, const std::string&) { throw std::runtime_error("stop"); };
  EXPECT_THROW(platform::pump_output(p, {}, c), std::runtime_error);
  EXPECT_FALSE(p.exited_unreaped());
  // The pipes still work: a second pump reads on.
  Collector d;
  d.on_line = [&](OutputStream, const std::string&) {
    if (d.out.size() == 3) p.kill_group();
  };
  platform::pump_output(p, {}, d);
  EXPECT_GE(d.out.size(), 3U);
  EXPECT_EQ(d.out[0], "tick");
  EXPECT_EQ(p.wait(), 1);
}

TEST(WinPump, ProcessNotStartedIsAnError) {
  Process p;
  Collector c;
  EXPECT_THROW(platform::pump_output(p, {}, c), Error);
}

}  // namespace
}  // namespace appose::test::win
