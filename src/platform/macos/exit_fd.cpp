// The exit descriptor on macOS: a kqueue of its own holding one EVFILT_PROC/NOTE_EXIT event for
// the process. macOS has no pidfd, but a kqueue descriptor is itself pollable: poll() and
// select() report it readable while it holds a pending event (xnu's kqueue implements select,
// and poll() registers EVFILT_READ on each descriptor, which a kqueue supports), so the POSIX
// code waits on it exactly as on a pidfd. Nothing calls kevent() to retrieve the event: it stays
// pending, and the descriptor readable, until the descriptor is closed.

#include <cerrno>

#include "platform/macos/kqueue.hpp"
#include "platform/posix/exit_fd.hpp"

namespace appose::detail::platform {

UniqueFd open_exit_fd(pid_t pid) noexcept {
  UniqueFd kq = new_kqueue();
  if (!kq.valid()) return {};
  struct kevent exit_event {};
  EV_SET(&exit_event, static_cast<uintptr_t>(pid), EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, nullptr);
  const int err = kqueue_change(kq.get(), exit_event);
  if (err == 0) return kq;
  if (err != ESRCH) {
    errno = err;
    return {};
  }
  // ESRCH: the process is exiting or gone (xnu refuses to attach to those, zombies included,
  // and one it attached to is sure to report its exit), so the descriptor must be readable now:
  // a user event, triggered at once and never retrieved, makes it so.
  struct kevent gone {};
  EV_SET(&gone, 0, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, nullptr);
  if (const int gone_err = kqueue_change(kq.get(), gone); gone_err != 0) {
    errno = gone_err;
    return {};
  }
  return kq;
}

}  // namespace appose::detail::platform
