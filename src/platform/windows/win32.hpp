#pragma once

// What every Win32 implementation of the platform layer needs: <windows.h> included one way
// (lean, without the min/max macros), UTF-8 <-> UTF-16 at the boundary (the library speaks
// UTF-8; the W functions take UTF-16), Win32 errors as std::error_code with the conditions the
// portable layers compare against, and an owning HANDLE. Only files under
// src/platform/windows/ include this.

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace appose::detail::platform::win32 {

/// `text` (UTF-8) as UTF-16. Invalid UTF-8 becomes U+FFFD, as Windows' own conversion does.
std::wstring to_wide(std::string_view text);
/// `text` (UTF-16) as UTF-8. Unpaired surrogates become U+FFFD.
std::string to_utf8(std::wstring_view text);

/// A Win32 error code as std::error_code: the errors the portable code tells apart
/// (not found, exists, access denied, no space, invalid argument, broken pipe) as their
/// std::errc conditions, every other one in std::system_category() with its system message.
std::error_code error_code(DWORD error) noexcept;
/// error_code(GetLastError()).
std::error_code last_error() noexcept;

/// The value of the environment variable `name` in this process's (the OS's) environment, as
/// child processes would inherit it; nullopt when it is not set (an empty value is a value).
std::optional<std::wstring> env_var(const wchar_t* name);

/// Writes all `size` bytes to `h` with as many WriteFile calls as it takes (each is capped at
/// 1 GiB, as a DWORD count must be). The error of the first call that fails.
std::error_code write_all(HANDLE h, const void* data, std::size_t size) noexcept;

/// One ReadFile of up to `size` bytes (capped at 1 GiB); returns how many arrived, 0 at the
/// end. The end of a pipe (its writers all gone: ERROR_BROKEN_PIPE) is the end, not an error.
/// A successful read of 0 bytes from a pipe is a writer's empty write, not the end: it is read
/// again. Sets `ec` on a real error (and returns 0), clears it otherwise.
std::size_t read_some(HANDLE h, void* data, std::size_t size, std::error_code& ec) noexcept;

/// Owns one HANDLE (or none: null or INVALID_HANDLE_VALUE) and closes it.
class UniqueHandle {
 public:
  UniqueHandle() noexcept = default;
  explicit UniqueHandle(HANDLE h) noexcept : h_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) reset(std::exchange(o.h_, nullptr));
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  [[nodiscard]] HANDLE get() const noexcept { return h_; }
  [[nodiscard]] bool valid() const noexcept { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE release() noexcept { return std::exchange(h_, nullptr); }
  void reset(HANDLE h = nullptr) noexcept {
    if (valid()) ::CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

}  // namespace appose::detail::platform::win32
