#pragma once

// What a Process is on POSIX: a pid, three pipe ends, an exit descriptor and the lifeline. For
// the platform's POSIX code (the spawner, the output pump) and the tests of the process layer;
// everything above the platform layer uses platform/process.hpp only.

#include <sys/types.h>

#include <optional>
#include <utility>

#include "platform/posix/unique_fd.hpp"
#include "platform/process.hpp"

namespace appose::detail::platform {

/// One child's place on the lifeline (SpawnOptions::kill_with_host). The lifeline itself is one
/// `/bin/sh` per host process, started with the first child it guards and shared by all: it
/// reads group ids on a pipe only this process writes to ("+pgid" to guard, "-pgid" to let go)
/// and, at EOF (this process is gone, even by SIGKILL), kills every group still guarded. One per
/// host rather than one per child: a worker's start then costs a line on a pipe, not a process
/// (docs/service.md, "No orphans"). It is our own child, so that it is reaped (no zombie where
/// PID 1 does not reap) if it dies before us. Move-only.
class Lifeline {
 public:
  /// Guards nothing.
  Lifeline() = default;
  /// Puts group `pgid` on the lifeline, starting the lifeline if none runs; an empty Lifeline
  /// if none could be started (the caller carries on without).
  static Lifeline guard(pid_t pgid) noexcept;
  /// Leaves `other` empty.
  Lifeline(Lifeline&& other) noexcept : pgid_(std::exchange(other.pgid_, -1)) {}
  /// Releases ours as the destructor does, then takes `other`'s.
  Lifeline& operator=(Lifeline&& other) noexcept;
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;
  /// Still armed: kills the group (as the lifeline would if this process died), then lets go.
  ~Lifeline() { release(false); }

  /// Takes the group off the lifeline, to be called once the child is reaped: its pid may then
  /// be reused, and the lifeline must no longer signal it.
  void disarm() noexcept { release(true); }
  /// Whether the lifeline guards a group for us.
  [[nodiscard]] bool valid() const noexcept { return pgid_ > 0; }

 private:
  explicit Lifeline(pid_t pgid) noexcept : pgid_(pgid) {}
  void release(bool quietly) noexcept;

  pid_t pgid_ = -1;
};

/// The pid of this process's lifeline, or -1 while none runs. For the tests.
pid_t lifeline_pid() noexcept;

/// A child on POSIX.
struct Process::Native {
  pid_t pid = -1;
  UniqueFd stdin_pipe, stdout_pipe, stderr_pipe;
  /// Readable once the child exits (open_exit_fd(): a pidfd on Linux, a kqueue on macOS);
  /// invalid where there is none (Linux before 5.3), and then exits are checked with
  /// Process::exited_unreaped().
  UniqueFd exit_fd;
  Lifeline lifeline;
  std::optional<int> exit_code;
};

/// Our end of the child's stdin; -1 when closed or there is no child.
inline int stdin_fd(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stdin_pipe.get() : -1;
}
/// Our end of the child's stdout; -1 when closed or there is no child.
inline int stdout_fd(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stdout_pipe.get() : -1;
}
/// Our end of the child's stderr; -1 when closed or there is no child.
inline int stderr_fd(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stderr_pipe.get() : -1;
}
/// A descriptor that becomes readable when the child exits (open_exit_fd()), or -1 where
/// there is none and once the child is reaped.
inline int exit_fd(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->exit_fd.get() : -1;
}

}  // namespace appose::detail::platform
