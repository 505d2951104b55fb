#include "platform/thread_policy.hpp"

namespace appose::detail::platform {

void let_waker_run_on() noexcept {
  // macOS has no policy that keeps a woken thread's share and only forgoes preempting its
  // waker: its QoS classes lower the thread's share (a utility thread can wait behind the
  // user's work), which would let a busy caller hold back its own requests. Nothing is
  // changed; this is unmeasured there (no macOS machine).
}

}  // namespace appose::detail::platform
