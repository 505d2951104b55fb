// The exit descriptor on Linux: a pidfd (pidfd_open(2), Linux 5.3), which polls readable once
// the process has exited.

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "platform/posix/exit_fd.hpp"

namespace appose::detail::platform {

UniqueFd open_exit_fd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));  // pidfds are close-on-exec already
#else
  (void)pid;
  errno = ENOSYS;
#endif
  return UniqueFd();
}

}  // namespace appose::detail::platform
