#pragma once

// How the scheduler treats a helper thread of the library's own. A thread that only moves
// bytes for another (the host's request writer) is woken by that thread; on one CPU, the
// scheduler used to run it at once, interrupting its waker after every line instead of after
// the batch the waker was still adding to (docs/benchmarks.md, issue 18: the request writer's
// wake-ups). Implementations: platform/linux/thread_policy.cpp (SCHED_BATCH),
// platform/macos/thread_policy.cpp and platform/windows/thread_policy.cpp (nothing: see there).

namespace appose::detail::platform {

/// Asks that the calling thread, when woken, wait for the running thread to block or use up
/// its time slice rather than interrupt it. Its share of the CPU stays the same (no lower
/// priority, nothing it could starve on), and on a machine with an idle CPU it still runs at
/// once there. Best effort: where the system has no such setting, or refuses it, nothing
/// changes.
void let_waker_run_on() noexcept;

}  // namespace appose::detail::platform
