#pragma once

// The exit notification of a process as one descriptor, for everything that waits for a
// process to exit without polling: a service watching its worker (the output pump), a worker
// watching its host (the parent watch). The POSIX code puts it in its poll() sets beside pipes
// and never reads it. Implementations: platform/linux/pidfd.cpp (a pidfd) and
// platform/macos/exit_fd.cpp (a kqueue holding an EVFILT_PROC/NOTE_EXIT event for the process;
// a kqueue descriptor polls readable while an event is pending, and nothing here retrieves it).

#include <sys/types.h>

#include "platform/posix/unique_fd.hpp"

namespace appose::detail::platform {

/// A close-on-exec descriptor that becomes readable once process `pid` has exited and stays
/// readable. For a process already exiting or gone it is readable at once on macOS (zombies
/// included); on Linux a zombie's pidfd is readable at once and a reaped process has none
/// (ESRCH). Invalid, errno saying why, where the system offers none: Linux before 5.3
/// (ENOSYS), a full descriptor table. Callers then check the process on a timer.
UniqueFd open_exit_fd(pid_t pid) noexcept;

}  // namespace appose::detail::platform
