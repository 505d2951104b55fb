#pragma once

// A move-only owner of a POSIX file descriptor, for the POSIX implementations of the platform
// layer (other layers hold OS handles only through the neutral platform headers). Closing is
// out of line so that this header needs no system header.

#include <system_error>
#include <utility>

namespace appose::detail::platform {

/// Closes `fd`; not retried on EINTR (on Linux the descriptor is released either way).
void close_fd(int fd) noexcept;

/// Owns one descriptor (or none: -1) and closes it when destroyed or reset.
class UniqueFd {
 public:
  /// Owns nothing.
  UniqueFd() noexcept = default;
  /// Owns `fd` (-1: nothing).
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  /// Takes `o`'s descriptor; `o` owns nothing afterwards.
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  /// Closes ours, then takes `o`'s.
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  /// Closes the descriptor.
  ~UniqueFd() { reset(); }

  /// The descriptor, still owned; -1 when none.
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Whether a descriptor is owned.
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  /// Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the descriptor owned, then owns `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) close_fd(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// A pipe whose ends are both close-on-exec, so that no child process inherits them: `read` and
/// `write` are set on success, left alone on failure. Linux creates it so (pipe2); macOS has no
/// pipe2 and sets the flag right after pipe(), which leaves a window in which a fork by another
/// thread could copy the ends. appose-cpp's own spawns close every descriptor they do not hand
/// over (POSIX_SPAWN_CLOEXEC_DEFAULT), so only a fork made by other code in the same process,
/// at that instant, could inherit one (docs/macos.md).
std::error_code open_pipe(UniqueFd& read, UniqueFd& write) noexcept;

}  // namespace appose::detail::platform
