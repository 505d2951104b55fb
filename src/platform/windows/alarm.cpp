// The alarm on Windows: an auto-reset waitable timer, high-resolution where the system has
// them (Windows 10 1803 and later); older systems ring on the next clock tick (about 16 ms).
// SetWaitableTimer() replaces the earlier setting and unsignals the timer.

#include "platform/alarm.hpp"

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"

#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#endif

namespace appose::detail::platform {

Alarm::Alarm() {
  // Not inheritable (null attributes); auto-reset: one ring wakes one wait.
  HANDLE timer = ::CreateWaitableTimerExW(nullptr, nullptr, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION,
                                          TIMER_ALL_ACCESS);
  if (timer == nullptr) timer = ::CreateWaitableTimerExW(nullptr, nullptr, 0, TIMER_ALL_ACCESS);
  if (timer == nullptr) throw Error("cannot create a timer", win32::last_error());
  handle_ = reinterpret_cast<std::intptr_t>(timer);
}

Alarm::~Alarm() {
  ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
}

void Alarm::set(std::chrono::nanoseconds delay) noexcept {
  // Negative: relative to now, in units of 100 ns.
  const auto units = delay.count() / 100;
  LARGE_INTEGER due;
  due.QuadPart = -(units > 0 ? units : 1);
  (void)::SetWaitableTimer(reinterpret_cast<HANDLE>(handle_), &due, 0, nullptr, nullptr, FALSE);
}

bool Alarm::wait() noexcept {
  if (stopped_.load()) return false;
  if (::WaitForSingleObject(reinterpret_cast<HANDLE>(handle_), INFINITE) != WAIT_OBJECT_0) {
    return false;
  }
  return !stopped_.load();
}

}  // namespace appose::detail::platform
