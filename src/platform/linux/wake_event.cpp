// The wake event on Linux: an eventfd that is written once and never read, so that it stays
// readable for every poll() that includes it.

#include "platform/wake_event.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "appose/error.hpp"

namespace appose::detail::platform {

WakeEvent::WakeEvent() : handle_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (handle_ < 0) {
    throw Error("cannot create a wake-up event", std::error_code(errno, std::generic_category()));
  }
}

WakeEvent::~WakeEvent() {
  ::close(static_cast<int>(handle_));
}

void WakeEvent::set() noexcept {
  if (set_.exchange(true)) return;
  const int saved = errno;
  const std::uint64_t one = 1;
  while (::write(static_cast<int>(handle_), &one, sizeof one) < 0 && errno == EINTR) {
  }
  errno = saved;
}

}  // namespace appose::detail::platform
