// The alarm on Linux: a timerfd. timerfd_settime() replaces the earlier setting and resets the
// count of rings not read yet; read() blocks until the count is not zero.

#include "platform/alarm.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "appose/error.hpp"

namespace appose::detail::platform {

Alarm::Alarm() : handle_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) {
  if (handle_ < 0) {
    throw Error("cannot create a timer: close some files or raise the limit of open files",
                std::error_code(errno, std::generic_category()));
  }
}

Alarm::~Alarm() {
  ::close(static_cast<int>(handle_));
}

void Alarm::set(std::chrono::nanoseconds delay) noexcept {
  // A zero it_value would disarm the timer instead.
  const std::int64_t ns = delay.count() > 0 ? delay.count() : 1;
  itimerspec when{};
  when.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  when.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  // Fails only for a bad descriptor or value, neither of which can be passed here.
  (void)::timerfd_settime(static_cast<int>(handle_), 0, &when, nullptr);
}

bool Alarm::wait() noexcept {
  while (!stopped_.load()) {
    std::uint64_t rings = 0;
    const ssize_t n = ::read(static_cast<int>(handle_), &rings, sizeof rings);
    if (n == static_cast<ssize_t>(sizeof rings)) break;
    if (n < 0 && errno != EINTR) return false;
  }
  return !stopped_.load();
}

}  // namespace appose::detail::platform
