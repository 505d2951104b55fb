#pragma once

// The OS process layer: spawn a worker with piped stdio in its own process group, watch for its
// exit without polling, kill its whole group. Platform code lives in src/platform/<os>/.
// Errors inside this layer are std::error_code; spawn() throws appose::Error with the command.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "platform/unique_fd.hpp"

namespace appose::detail {

struct SpawnOptions {
  /// argv[0] is a path (absolute, or relative to `cwd` when set, as with Python's Popen) or a
  /// bare name such as a launcher (`pixi`), which is looked up in the child's PATH (env's PATH
  /// if it sets one, else this process's). The Environment resolves workers against its own
  /// bin paths and passes absolute paths.
  std::vector<std::string> argv;
  /// Working directory of the child; empty: the caller's.
  std::string cwd;
  /// Variables to set (value) or unset (nullopt) on top of this process's environment.
  std::map<std::string, std::optional<std::string>> env;
  /// Whether the child's process group is killed when this process dies, however it dies
  /// (SIGKILL included), for workers that do not watch their host themselves. A small
  /// `/bin/sh` (the lifeline) blocks reading a pipe only this process can write to: EOF there
  /// means we are gone. Reaping the child disarms it.
  bool kill_with_host = false;
};

/// The lifeline of one child (SpawnOptions::kill_with_host): our write end of its pipe and its
/// pid. It is our own child, so that we reap it and no zombie is left where PID 1 does not
/// reap (containers without an init). Move-only.
class Lifeline {
 public:
  Lifeline() = default;
  Lifeline(UniqueFd pipe, pid_t pid) noexcept : pipe_(std::move(pipe)), pid_(pid) {}
  Lifeline(Lifeline&& other) noexcept;
  Lifeline& operator=(Lifeline&& other) noexcept;
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;
  /// Still armed: the lifeline kills the group (as if this process had died), then is reaped.
  ~Lifeline() { release(false); }

  /// Sends the newline that makes it leave quietly, and reaps it.
  void disarm() noexcept { release(true); }
  [[nodiscard]] bool valid() const noexcept { return pid_ > 0; }

 private:
  void release(bool quietly) noexcept;

  UniqueFd pipe_;
  pid_t pid_ = -1;
};

/// A child process with its stdin/stdout/stderr piped to us. Move-only. Destroying it reaps the
/// child if it has exited; otherwise it leaves the child running (the Service decides when to
/// kill), unless a lifeline guards it: then the lifeline kills the child's group, as it would
/// if this process died.
class Process {
 public:
  /// Spawns with posix_spawn: only fds 0-2 are inherited (everything else is closed in the
  /// child), the child leads a new process group, default signal dispositions and an empty
  /// signal mask in the child. The host's own signal handling is untouched.
  static Process spawn(const SpawnOptions& options);

  Process() = default;
  /// Moves leave the source empty (pid -1): a defaulted move would copy the pid, and the
  /// source's destructor would then reap the child behind the new owner's back.
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] int stdin_fd() const noexcept { return stdin_.get(); }
  [[nodiscard]] int stdout_fd() const noexcept { return stdout_.get(); }
  [[nodiscard]] int stderr_fd() const noexcept { return stderr_.get(); }
  /// A descriptor that becomes readable when the child exits (a pidfd), or -1 on kernels
  /// without pidfd support (then exit_fd_fallback() provides one).
  [[nodiscard]] int exit_fd() const noexcept { return exit_fd_.get(); }

  /// Writes all of `data` to the child's stdin. Never raises SIGPIPE in this process: a dead
  /// reader yields EPIPE. Thread-compatible (callers serialise writes).
  std::error_code write_stdin(std::string_view data) noexcept;
  /// Closes our end of the child's stdin: the worker reads EOF.
  void close_stdin() noexcept;
  /// Closes our ends of stdout/stderr (after the readers are done).
  void close_output() noexcept;

  /// Reaps the child if it has exited; returns its exit code (or -signal). Never blocks.
  std::optional<int> try_reap() noexcept;
  /// Blocks until the child exits and returns its exit code (or -signal).
  int wait() noexcept;
  /// Sends `signal` to the child's whole process group (and the child itself, in case it left
  /// the group). No-op once the child has been reaped (its pid may be reused).
  void kill_group(int signal) noexcept;
  /// Whether the child has been reaped.
  [[nodiscard]] bool reaped() const noexcept { return exit_code_.has_value(); }
  [[nodiscard]] std::optional<int> exit_code() const noexcept { return exit_code_; }
  /// Whether a lifeline guards the child (SpawnOptions::kill_with_host, and /bin/sh could be
  /// started). False once the child is reaped.
  [[nodiscard]] bool has_lifeline() const noexcept { return lifeline_.valid(); }

 private:
  void reaped_with(int code) noexcept;

  pid_t pid_ = -1;
  UniqueFd stdin_, stdout_, stderr_, exit_fd_;
  Lifeline lifeline_;
  std::optional<int> exit_code_;
};

/// The first executable regular file named `name` under `dirs`, in order. An absolute `name` is
/// checked as is; a relative one (even `bin/python`) is looked for under each directory, as the
/// peers' find_exe does. Returns an empty string if not found.
std::string find_executable(std::string_view name, const std::vector<std::string>& dirs);

/// The directories of a PATH-style list (empty entries kept, as a shell would see them).
std::vector<std::string> split_path(std::string_view path);
/// The directories of this process's PATH.
std::vector<std::string> path_dirs();

}  // namespace appose::detail
