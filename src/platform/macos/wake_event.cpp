// The wake event on macOS: a kqueue holding one user event (EVFILT_USER) that set() triggers and
// nothing retrieves, so that the kqueue descriptor stays readable for every poll() that includes
// it (platform/macos/kqueue.hpp). One descriptor, as the eventfd is on Linux: a self-pipe would
// need a second one for its write end, which WakeEvent has no place for.

#include "platform/wake_event.hpp"

#include <unistd.h>

#include <system_error>

#include "appose/error.hpp"
#include "platform/macos/kqueue.hpp"

namespace appose::detail::platform {

namespace {

/// The identifier of the one user event in each WakeEvent's kqueue.
constexpr uintptr_t kWakeIdent = 1;

}  // namespace

WakeEvent::WakeEvent() {
  UniqueFd kq = new_kqueue();
  if (!kq.valid()) {
    throw Error(
        "cannot create a wake-up event (kqueue): close some files or raise the limit of "
        "open files (ulimit -n)",
        std::error_code(errno, std::generic_category()));
  }
  struct kevent add {};
  EV_SET(&add, kWakeIdent, EVFILT_USER, EV_ADD, 0, 0, nullptr);
  if (const int err = kqueue_change(kq.get(), add); err != 0) {
    throw Error("cannot create a wake-up event (kqueue user event)",
                std::error_code(err, std::generic_category()));
  }
  handle_ = kq.release();
}

WakeEvent::~WakeEvent() {
  ::close(static_cast<int>(handle_));
}

void WakeEvent::set() noexcept {
  if (set_.exchange(true)) return;
  struct kevent trigger {};
  EV_SET(&trigger, kWakeIdent, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  // kqueue_change() leaves errno as it was.
  (void)kqueue_change(static_cast<int>(handle_), trigger);
}

}  // namespace appose::detail::platform
