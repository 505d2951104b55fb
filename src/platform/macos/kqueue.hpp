#pragma once

// The two kqueue calls macOS's exit descriptor and wake event share. A kqueue descriptor polls
// readable while one of its events is pending, which is what both rely on.

#include <fcntl.h>
#include <sys/event.h>

#include <cerrno>

#include "platform/posix/unique_fd.hpp"

namespace appose::detail::platform {

/// A new kqueue, close-on-exec (it is not inherited by fork(2) anyway); invalid, errno saying
/// why, on failure.
inline UniqueFd new_kqueue() noexcept {
  UniqueFd kq(::kqueue());
  if (kq.valid()) (void)::fcntl(kq.get(), F_SETFD, FD_CLOEXEC);
  return kq;
}

/// Applies `change` to `kq` without retrieving any event (a pending event must stay pending),
/// retrying interruptions. Returns 0, or the error number. One system call when not
/// interrupted, and errno is left alone: callable from a signal handler.
inline int kqueue_change(int kq, const struct kevent& change) noexcept {
  const int saved = errno;
  const timespec zero{};
  int rc;
  do {
    rc = ::kevent(kq, &change, 1, nullptr, 0, &zero);
  } while (rc < 0 && errno == EINTR);
  const int err = rc < 0 ? errno : 0;
  errno = saved;
  return err;
}

}  // namespace appose::detail::platform
