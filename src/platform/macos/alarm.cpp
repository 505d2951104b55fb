// The alarm on macOS: a kqueue holding one timer event. Adding the timer again replaces the
// earlier setting; EV_ONESHOT removes it once retrieved, so it rings once per setting.

#include "platform/alarm.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "appose/error.hpp"
#include "platform/macos/kqueue.hpp"

namespace appose::detail::platform {

namespace {

/// The identifier of the one timer in each Alarm's kqueue.
constexpr uintptr_t kAlarmIdent = 1;

}  // namespace

Alarm::Alarm() {
  UniqueFd kq = new_kqueue();
  if (!kq.valid()) {
    throw Error(
        "cannot create a timer (kqueue): close some files or raise the limit of open files "
        "(ulimit -n)",
        std::error_code(errno, std::generic_category()));
  }
  handle_ = kq.release();
}

Alarm::~Alarm() {
  ::close(static_cast<int>(handle_));
}

void Alarm::set(std::chrono::nanoseconds delay) noexcept {
  const std::int64_t ns = delay.count() > 0 ? delay.count() : 1;
  struct kevent timer {};
  EV_SET(&timer, kAlarmIdent, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, ns, nullptr);
  // Fails only for a bad descriptor or a kernel out of memory; the worker then simply keeps
  // its reader busy until the task ends, which is what Dispatch::immediate does anyway.
  (void)kqueue_change(static_cast<int>(handle_), timer);
}

bool Alarm::wait() noexcept {
  while (!stopped_.load()) {
    struct kevent out {};
    const int n = ::kevent(static_cast<int>(handle_), nullptr, 0, &out, 1, nullptr);
    if (n > 0) break;
    if (n < 0 && errno != EINTR) return false;
  }
  return !stopped_.load();
}

}  // namespace appose::detail::platform
