#pragma once

// Files the library writes and reads byte for byte (downloads, their checksums), with the OS's
// own error for every failure: iostreams report only that something failed, and a user whose
// disk is full or whose directory is read-only needs to be told which. Implementation:
// platform/<os>/file.cpp.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <system_error>

namespace appose::detail::platform {

/// An open file, closed when destroyed. Move-only.
class File {
 public:
  /// Creates `path`, which must not exist yet (two writers never share a file), for writing,
  /// readable by everyone and writable by this user. Sets `ec` and returns a closed File on
  /// failure.
  static File create_new(const std::filesystem::path& path, std::error_code& ec) noexcept;
  /// Opens `path` for reading. Sets `ec` and returns a closed File on failure.
  static File open_read(const std::filesystem::path& path, std::error_code& ec) noexcept;

  /// A closed file.
  File() noexcept = default;
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  /// Closes the file, ignoring errors: call close() to see them.
  ~File();

  /// Whether a file is open.
  [[nodiscard]] bool is_open() const noexcept { return handle_ != kClosed; }
  /// Writes all `size` bytes (retrying short writes); the OS's error if it cannot.
  std::error_code write_all(const void* data, std::size_t size) noexcept;
  /// Reads up to `size` bytes; returns how many (0 at the end of the file), or sets `ec`.
  std::size_t read(void* data, std::size_t size, std::error_code& ec) noexcept;
  /// Closes the file and reports what closing said: on network file systems a full disk can
  /// show up only here.
  std::error_code close() noexcept;

 private:
  static constexpr std::intptr_t kClosed = -1;
  explicit File(std::intptr_t handle) noexcept : handle_(handle) {}
  /// A descriptor on POSIX, a HANDLE on Windows.
  std::intptr_t handle_ = kClosed;
};

}  // namespace appose::detail::platform
