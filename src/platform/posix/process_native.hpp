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

/// The lifeline of one child (SpawnOptions::kill_with_host): our write end of its pipe and its
/// pid. It is our own child, so that we reap it and no zombie is left where PID 1 does not
/// reap (containers without an init). Move-only.
class Lifeline {
 public:
  /// No lifeline.
  Lifeline() = default;
  /// Owns the lifeline `pid`, which reads the other end of `pipe`.
  Lifeline(UniqueFd pipe, pid_t pid) noexcept : pipe_(std::move(pipe)), pid_(pid) {}
  /// Leaves `other` empty.
  Lifeline(Lifeline&& other) noexcept;
  /// Releases ours as the destructor does, then takes `other`'s.
  Lifeline& operator=(Lifeline&& other) noexcept;
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;
  /// Still armed: the lifeline kills the group (as if this process had died), then is reaped.
  ~Lifeline() { release(false); }

  /// Sends the newline that makes it leave quietly, and reaps it.
  void disarm() noexcept { release(true); }
  /// Whether a lifeline runs.
  [[nodiscard]] bool valid() const noexcept { return pid_ > 0; }

 private:
  void release(bool quietly) noexcept;

  UniqueFd pipe_;
  pid_t pid_ = -1;
};

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
