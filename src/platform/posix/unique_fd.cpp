#include "platform/posix/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace appose::detail::platform {

void close_fd(int fd) noexcept {
  ::close(fd);
}

std::error_code open_pipe(UniqueFd& read, UniqueFd& write) noexcept {
  int fds[2] = {-1, -1};
#if defined(__APPLE__)
  if (::pipe(fds) != 0) return {errno, std::generic_category()};
  UniqueFd r(fds[0]), w(fds[1]);
  for (int fd : fds) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return {errno, std::generic_category()};
  }
#else
  if (::pipe2(fds, O_CLOEXEC) != 0) return {errno, std::generic_category()};
  UniqueFd r(fds[0]), w(fds[1]);
#endif
  read = std::move(r);
  write = std::move(w);
  return {};
}

}  // namespace appose::detail::platform
