// The lifeline (SpawnOptions::kill_with_host): a worker's process group dies with its host,
// even when the host is SIGKILLed, and is left alone when the worker ends normally. The
// Python and Groovy workers are covered by their interop suites; here the worker is a plain
// command with a child of its own, as a launcher (`pixi run`) would have.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "platform/posix/process_native.hpp"
#include "platform/process.hpp"
#include "support/orphans.hpp"

#ifndef APPOSE_ORPHAN_HOST
#error "APPOSE_ORPHAN_HOST must name tests/support/orphan_host"
#endif

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using detail::platform::lifeline_pid;
using detail::platform::Process;
using detail::platform::SpawnOptions;

// A worker that ignores EOF on stdin and has a child in its group: nothing but a group kill
// ends both.
const std::vector<std::string> kLauncherLike = {"/bin/sh", "-c", "sleep 600 & wait"};

TEST(Lifeline, CommandWorkerAndItsChildDieWithTheHost) {
  std::vector<std::string> args = {"command"};
  args.insert(args.end(), kLauncherLike.begin(), kLauncherLike.end());
  Clock::time_point killed_at;
  pid_t worker = test::orphan_a_worker(APPOSE_ORPHAN_HOST, args, {}, &killed_at);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = test::time_until_group_gone(worker, 1s, killed_at);
  if (!took) test::kill_group(worker);
  ASSERT_TRUE(took.has_value()) << "worker group " << worker << " outlived its host by over 1 s";
  std::cout << "[ no orphans ] plain command with a child: group gone " << took->count()
            << " ms after the host's SIGKILL\n";
}

// One lifeline guards all of a host's workers: at the host's death it kills every group still
// guarded, and not the group of a worker that ended before (its pid may belong to anyone by
// then), though that worker left a child running in it.
TEST(Lifeline, EveryLiveGroupOfTheHostDiesWithIt) {
  std::vector<std::string> args = {"commands", "3"};
  args.insert(args.end(), kLauncherLike.begin(), kLauncherLike.end());
  Clock::time_point killed_at;
  std::vector<pid_t> pids = test::orphan_workers(APPOSE_ORPHAN_HOST, args, &killed_at);
  ASSERT_EQ(pids.size(), 4U) << "orphan_host printed no pids";
  for (std::size_t i = 1; i < pids.size(); ++i) {
    auto took = test::time_until_group_gone(pids[i], 1s, killed_at);
    if (!took) test::kill_group(pids[i]);
    EXPECT_TRUE(took.has_value()) << "worker group " << pids[i] << " outlived its host";
  }
  auto took = test::time_until_group_gone(pids[0], 500ms);
  test::kill_group(pids[0]);
  EXPECT_FALSE(took.has_value()) << "the lifeline killed the group of a worker that had ended";
}

// Negative control: opted out (APPOSE_PARENT_PID unset), the same worker outlives its host.
TEST(Lifeline, OptedOutCommandWorkerOutlivesTheHost) {
  std::vector<std::string> args = {"--no-parent-pid", "command"};
  args.insert(args.end(), kLauncherLike.begin(), kLauncherLike.end());
  pid_t worker = test::orphan_a_worker(APPOSE_ORPHAN_HOST, args);
  ASSERT_GT(worker, 0) << "orphan_host printed no worker pid";
  auto took = test::time_until_group_gone(worker, 1500ms);
  test::kill_group(worker);
  EXPECT_FALSE(took.has_value()) << "an opted-out worker was expected to survive its host";
}

/// Spawns the launcher-like child, checks whether a lifeline guards it, drops the Process while
/// the child runs, and returns the child's pid (its process group).
pid_t spawn_and_drop(bool kill_with_host) {
  SpawnOptions options;
  options.argv = kLauncherLike;
  options.kill_with_host = kill_with_host;
  Process p = Process::spawn(options);
  EXPECT_EQ(p.has_lifeline(), kill_with_host);
  return static_cast<pid_t>(p.pid());
}

// Dropping the Process while the child runs closes the lifeline's pipe, as the host's death
// would: the group is killed.
TEST(Lifeline, DroppedProcessTakesItsGroupAlong) {
  pid_t pid = spawn_and_drop(true);
  auto took = test::time_until_group_gone(pid, 1s);
  if (!took) test::kill_group(pid);
  EXPECT_TRUE(took.has_value());
}

// Without kill_with_host nothing watches: the dropped child lives on (the control for the
// test above).
TEST(Lifeline, WithoutItADroppedProcessLivesOn) {
  pid_t pid = spawn_and_drop(false);
  auto took = test::time_until_group_gone(pid, 500ms);
  test::kill_group(pid);
  EXPECT_FALSE(took.has_value());
}

// A worker that exits normally disarms the lifeline when reaped: what it left in its group
// (here a background sleep) is not killed, since its pid could by then belong to anyone.
TEST(Lifeline, ReapingDisarmsIt) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "sleep 600 >/dev/null 2>&1 & exit 0"};
  options.kill_with_host = true;
  Process p = Process::spawn(options);
  ASSERT_TRUE(p.has_lifeline());
  EXPECT_EQ(p.wait(), 0);
  EXPECT_FALSE(p.has_lifeline());
  pid_t group = static_cast<pid_t>(p.pid());
  auto took = test::time_until_group_gone(group, 500ms);
  test::kill_group(group);
  EXPECT_FALSE(took.has_value()) << "the disarmed lifeline killed the group";
}

// A lifeline that died (killed by hand) is replaced when the next worker starts, and the
// workers guarded before are guarded again.
TEST(Lifeline, ALifelineKilledIsReplaced) {
  SpawnOptions options;
  options.argv = kLauncherLike;
  options.kill_with_host = true;
  Process first = Process::spawn(options);
  ASSERT_TRUE(first.has_lifeline());
  const pid_t killed = lifeline_pid();
  ASSERT_GT(killed, 0);
  ::kill(killed, SIGKILL);
  ASSERT_TRUE(test::time_until_group_gone(killed, 2s).has_value());

  Process second = Process::spawn(options);
  EXPECT_TRUE(second.has_lifeline());
  const pid_t replacement = lifeline_pid();
  EXPECT_GT(replacement, 0);
  EXPECT_NE(replacement, killed);
  EXPECT_FALSE(test::group_gone(replacement)) << "the replacement is not running";
  const auto groups = {static_cast<pid_t>(first.pid()), static_cast<pid_t>(second.pid())};
  first = Process();
  second = Process();
  for (pid_t g : groups)
    EXPECT_TRUE(test::time_until_group_gone(g, 1s).has_value());
}

}  // namespace
}  // namespace appose
