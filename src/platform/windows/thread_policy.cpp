#include "platform/thread_policy.hpp"

namespace appose::detail::platform {

void let_waker_run_on() noexcept {
  // Windows' nearest setting, SetThreadPriorityBoost(thread, TRUE), turns off the priority
  // boost a thread gets when its wait ends, which is not the same thing, and its effect could
  // not be measured here (Wine does not schedule as Windows does). Nothing is changed.
}

}  // namespace appose::detail::platform
