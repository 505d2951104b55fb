#pragma once

// A child process: spawn a command with piped stdio in a group of its own, write its stdin,
// learn its exit status, stop its whole group, and (optionally) have it die with this process.
// Neutral: the platform's handles (POSIX: pid and descriptors; Windows: process and job
// handles) live in Process::Native, which only the platform's own code sees. Reading the
// child's output is platform/output_pump.hpp.
// Errors inside this layer are std::error_code; spawn() throws appose::Error with the command.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace appose::detail::platform {

/// What to start, and how.
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
  /// Whether the child's group is killed when this process dies, however it dies (SIGKILL
  /// included), for workers that do not watch their host themselves: the lifeline. On POSIX one
  /// small `/bin/sh` per process reads the groups to guard on a pipe only this process can
  /// write to, and EOF there means we are gone; reaping the child takes its group off. On Windows
  /// the child's job kills its processes when its last handle, held by this process alone, is
  /// closed.
  bool kill_with_host = false;
};

/// A child process with its stdin/stdout/stderr piped to us. Move-only. Destroying it reaps the
/// child if it has exited; otherwise it leaves the child running (the Service decides when to
/// kill), unless a lifeline guards it: then its group is killed, as the lifeline would if this
/// process died.
class Process {
 public:
  /// The platform's handles (platform/posix/process_native.hpp,
  /// platform/windows/process_native.hpp).
  struct Native;

  /// Starts the command. Only the standard streams are inherited (everything else is closed in
  /// the child); the child leads a new process group (POSIX) or job (Windows), so that
  /// kill_group() reaches what it starts too; it gets default signal dispositions and an empty
  /// signal mask. This process's own signal handling is untouched.
  static Process spawn(const SpawnOptions& options);

  /// No child (pid() is -1).
  Process() noexcept;
  /// Moves leave the source empty, so that its destructor cannot reap the child behind the
  /// new owner's back.
  Process(Process&& other) noexcept;
  /// Lets go of our child as the destructor would, then takes `other`'s.
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  /// Reaps the child if it has exited; a lifeline still armed kills the child's group.
  ~Process();

  /// The child's process id; -1 when there is no child.
  [[nodiscard]] std::int64_t pid() const noexcept;

  /// Writes all of `data` to the child's stdin. Never raises SIGPIPE in this process: a dead
  /// reader yields EPIPE. Thread-compatible (callers serialise writes).
  std::error_code write_stdin(std::string_view data) noexcept;
  /// Closes our end of the child's stdin: the child reads EOF.
  void close_stdin() noexcept;
  /// Closes our ends of stdout/stderr (after the readers are done).
  void close_output() noexcept;

  /// Reaps the child if it has exited; returns its exit code (or -signal). Never blocks.
  std::optional<int> try_reap() noexcept;
  /// Blocks until the child exits and returns its exit code (or -signal).
  int wait() noexcept;
  /// Whether the child has exited, without reaping it: until it is reaped, its id still names
  /// its group, so kill_group() cannot hit a stranger.
  [[nodiscard]] bool exited_unreaped() const noexcept;
  /// Asks the child's whole group to stop (SIGTERM; the child itself too, in case it left the
  /// group). No-op once the child has been reaped (its id may be reused). On Windows, where no
  /// such request reaches a job, it kills as kill_group() does.
  void terminate_group() noexcept;
  /// Kills the child's whole group at once (SIGKILL; on Windows TerminateJobObject with exit
  /// code 1, what Python's and Java's kill() report), as terminate_group().
  void kill_group() noexcept;

  /// Whether the child has been reaped.
  [[nodiscard]] bool reaped() const noexcept { return exit_code().has_value(); }
  /// The exit code (or -signal) once reaped.
  [[nodiscard]] std::optional<int> exit_code() const noexcept;
  /// Whether a lifeline guards the child (SpawnOptions::kill_with_host, and it could be
  /// started). False once the child is reaped.
  [[nodiscard]] bool has_lifeline() const noexcept;

  /// The platform's handles, for the platform layer's own code and its tests; null when there
  /// is no child.
  [[nodiscard]] Native* native() noexcept { return native_.get(); }
  /// As above, read-only.
  [[nodiscard]] const Native* native() const noexcept { return native_.get(); }

 private:
  std::unique_ptr<Native> native_;
};

/// This process's id, as Process::pid() gives a child's.
std::int64_t current_process_id() noexcept;

/// The first executable regular file named `name` under `dirs`, in order. An absolute `name` is
/// checked as is; a relative one (even `bin/python`) is looked for under each directory, as the
/// peers' find_exe does. Returns an empty string if not found.
std::string find_executable(std::string_view name, const std::vector<std::string>& dirs);

/// Why `path` cannot be started as a program ("does not exist", "is a directory, not the
/// executable", ...: spelled out, since the user has to fix it), or an empty string if it can.
std::string executable_problem(const std::string& path);

/// The directories of a PATH-style list (empty entries kept, as a shell would see them).
std::vector<std::string> split_path(std::string_view path);
/// The directories of this process's PATH.
std::vector<std::string> path_dirs();

}  // namespace appose::detail::platform
