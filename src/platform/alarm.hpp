#pragma once

// A one-shot alarm that one thread sets and another waits on. Setting it is one system call
// that wakes no thread, which is the point: the worker sets it for every task it runs on its
// reader thread (src/worker/worker_impl.cpp), and a condition variable would cost a wake-up,
// that is a context switch, each time. Implementations: platform/linux/alarm.cpp (a timerfd),
// platform/macos/alarm.cpp (a kqueue timer), platform/windows/alarm.cpp (a waitable timer).

#include <atomic>
#include <chrono>
#include <cstdint>

namespace appose::detail::platform {

/// See the file comment. Not copyable or movable: a waiting thread holds on to its handle.
class Alarm {
 public:
  /// Creates the OS timer; throws appose::Error when it cannot.
  Alarm();
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;
  /// Releases the OS timer. No thread may be waiting on it any more.
  ~Alarm();

  /// Makes the alarm ring once, `delay` from now, replacing any earlier setting. Callable
  /// from any thread. The ring may come late by the system's timer slack (tens of
  /// microseconds on Linux and macOS; on Windows versions without high-resolution waitable
  /// timers, up to a clock tick of about 16 ms).
  void set(std::chrono::nanoseconds delay) noexcept;
  /// Blocks until the alarm rings. Returns false once stop() has been called (at once if it
  /// already was). A ring can be stale (the alarm was set again meanwhile): the caller checks
  /// what it is waiting for.
  bool wait() noexcept;
  /// Makes every wait(), now and later, return false: a ring, at once, that wait() reads as
  /// the end.
  void stop() noexcept {
    stopped_.store(true);
    set(std::chrono::nanoseconds(1));
  }

 private:
  std::atomic<bool> stopped_{false};
  std::intptr_t handle_ = -1;
};

}  // namespace appose::detail::platform
