#pragma once

// The benchmarks' own child processes with piped stdio, for what the public API does not do
// because it is not Appose: the floors (a line through a bare pipe and back), the C++ worker
// fed by hand, and the peers' benchmark programs. POSIX (posix_spawn); the library's own
// process layer is internal and is not used here.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace appose::bench {

/// A child process with its stdin, stdout and stderr piped to this one, leading its own
/// process group. Move-only. Destroying it kills the group and reaps the child if it is still
/// running, so that a benchmark that throws leaves nothing behind.
class Child {
 public:
  /// Starts `argv` (argv[0] looked up in PATH) with `env` set on top of this process's
  /// environment, default signal dispositions and an empty signal mask. Throws
  /// std::system_error naming the program if it cannot be started.
  static Child spawn(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env = {});

  /// An empty child: nothing to kill or reap.
  Child() = default;
  /// Takes over `other`'s process and pipes; `other` is left empty.
  Child(Child&& other) noexcept;
  /// Releases this child (as the destructor does), then takes over `other`'s.
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  /// Kills and reaps the child unless wait() already reaped it; closes the pipes.
  ~Child();

  /// Our end of the child's stdout (-1 when empty).
  [[nodiscard]] int stdout_fd() const noexcept { return stdout_; }
  /// Our end of the child's stderr (-1 when empty).
  [[nodiscard]] int stderr_fd() const noexcept { return stderr_; }

  /// Writes all of `data` to the child's stdin; false if it cannot (the child is gone). Never
  /// raises SIGPIPE in this process.
  bool write_stdin(std::string_view data) noexcept;
  /// Closes our end of the child's stdin: the child reads EOF.
  void close_stdin() noexcept;
  /// SIGKILLs the child's whole process group. No-op once the child has been reaped.
  void kill() noexcept;
  /// Blocks until the child exits; returns its exit code, or -signal if a signal ended it.
  int wait() noexcept;

 private:
  void release() noexcept;

  int pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
};

}  // namespace appose::bench
