#include "platform/thread_policy.hpp"

#include <pthread.h>
#include <sched.h>

namespace appose::detail::platform {

void let_waker_run_on() noexcept {
  // SCHED_BATCH: the fair class and the thread's nice value, so the same share of the CPU as
  // SCHED_OTHER, but the fair class's wake-up check never lets a woken SCHED_BATCH thread
  // preempt the running one: it waits for that thread to block, or for the tick. Choosing it
  // needs no privilege.
  sched_param param{};
  param.sched_priority = 0;
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

}  // namespace appose::detail::platform
