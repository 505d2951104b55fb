// A process's start time on macOS, which has no /proc: sysctl(KERN_PROC_PID) fills a kinfo_proc,
// whose p_starttime is when the process started. Any user's process can be looked up.

#include <sys/sysctl.h>
#include <sys/types.h>

#include "platform/posix/shm_registry_rules.hpp"

namespace appose::detail::platform::shm_registry {

std::optional<unsigned long long> process_start_time(pid_t pid) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, static_cast<int>(pid)};
  struct kinfo_proc info {};
  std::size_t size = sizeof info;
  // A pid with no process gives success and size 0.
  if (::sysctl(mib, 4, &info, &size, nullptr, 0) != 0 || size == 0) return std::nullopt;
  const struct timeval& started = info.kp_proc.p_starttime;
  return start_time_from_timeval(started.tv_sec, started.tv_usec);
}

}  // namespace appose::detail::platform::shm_registry
