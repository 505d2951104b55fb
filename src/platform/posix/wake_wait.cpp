// Both wake events are descriptors that become readable once set (an eventfd on Linux, a
// pipe's read end on macOS) and stay so: one poll() on the two.

#include "platform/wake_wait.hpp"

#include <poll.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "appose/error.hpp"

namespace appose::detail::platform {

bool wait_either(const WakeEvent& first, const WakeEvent& second) {
  std::array<pollfd, 2> fds{{{static_cast<int>(first.native_handle()), POLLIN, 0},
                             {static_cast<int>(second.native_handle()), POLLIN, 0}}};
  while (::poll(fds.data(), fds.size(), -1) < 0) {
    if (errno != EINTR) {
      throw Error("cannot wait for a wake-up event",
                  std::error_code(errno, std::generic_category()));
    }
  }
  return fds[0].revents != 0 || first.is_set();
}

}  // namespace appose::detail::platform
