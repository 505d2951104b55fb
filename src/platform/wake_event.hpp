#pragma once

// A wakeable event: one thread (or a signal handler) sets it, and a wait elsewhere that
// includes it wakes up. Level-triggered and never reset: once set, it stays set, so a wait
// that starts after set() returns at once. Used to cancel a build (the output pump, a lock
// wait, a download all include it in their waits), without any polling loop.

#include <atomic>
#include <cstdint>

namespace appose::detail::platform {

/// See the file comment. Not copyable or movable: waits hold on to its native handle.
class WakeEvent {
 public:
  /// Creates the OS object; throws appose::Error when it cannot.
  WakeEvent();
  WakeEvent(const WakeEvent&) = delete;
  WakeEvent& operator=(const WakeEvent&) = delete;
  /// Releases the OS object. No wait may include it any more.
  ~WakeEvent();

  /// Sets the event (idempotent). Only an atomic and one system call: callable from any
  /// thread and from a signal handler; errno is preserved.
  void set() noexcept;
  /// Whether set() has been called.
  [[nodiscard]] bool is_set() const noexcept { return set_.load(); }
  /// The OS object a wait includes, readable/signalled once set: a descriptor on POSIX (an
  /// eventfd on Linux, a kqueue with a user event on macOS), an event HANDLE on Windows.
  [[nodiscard]] std::intptr_t native_handle() const noexcept { return handle_; }

 private:
  std::atomic<bool> set_{false};
  std::intptr_t handle_ = -1;
};

}  // namespace appose::detail::platform
