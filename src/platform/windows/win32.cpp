#include "platform/windows/win32.hpp"

#include <algorithm>
#include <climits>

namespace appose::detail::platform::win32 {

std::wstring to_wide(std::string_view text) {
  if (text.empty()) return {};
  // Sizes past INT_MAX cannot be converted in one call; no path or argument gets near.
  const int in = static_cast<int>(std::min<std::size_t>(text.size(), INT_MAX));
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), in, nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, text.data(), in, out.data(), n);
  return out;
}

std::string to_utf8(std::wstring_view text) {
  if (text.empty()) return {};
  const int in = static_cast<int>(std::min<std::size_t>(text.size(), INT_MAX));
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), in, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text.data(), in, out.data(), n, nullptr, nullptr);
  return out;
}

std::error_code error_code(DWORD error) noexcept {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return std::make_error_code(std::errc::no_such_file_or_directory);
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return std::make_error_code(std::errc::file_exists);
    case ERROR_ACCESS_DENIED:
      return std::make_error_code(std::errc::permission_denied);
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_DISK_FULL:
      return std::make_error_code(std::errc::no_space_on_device);
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
      return std::make_error_code(std::errc::invalid_argument);
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
      return std::make_error_code(std::errc::broken_pipe);
    default:
      return {static_cast<int>(error), std::system_category()};
  }
}

std::error_code last_error() noexcept {
  return error_code(::GetLastError());
}

std::optional<std::wstring> env_var(const wchar_t* name) {
  std::wstring value;
  // The needed size includes the terminating NUL; the variable may grow between the calls.
  DWORD n = ::GetEnvironmentVariableW(name, nullptr, 0);
  while (n != 0) {
    value.resize(n);
    ::SetLastError(ERROR_SUCCESS);
    const DWORD got = ::GetEnvironmentVariableW(name, value.data(), n);
    if (got == 0 && ::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
    if (got < n) {
      value.resize(got);
      return value;
    }
    n = got;
  }
  if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
  return std::wstring();
}

namespace {

/// The most one ReadFile/WriteFile is asked for: DWORD counts, and pipes take big writes in
/// pieces anyway.
constexpr std::size_t kMaxIo = std::size_t{1} << 30;

}  // namespace

std::error_code write_all(HANDLE h, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    DWORD wrote = 0;
    if (!::WriteFile(h, p, static_cast<DWORD>(std::min(size, kMaxIo)), &wrote, nullptr)) {
      return last_error();
    }
    p += wrote;
    size -= wrote;
  }
  return {};
}

std::size_t read_some(HANDLE h, void* data, std::size_t size, std::error_code& ec) noexcept {
  ec.clear();
  for (;;) {
    DWORD got = 0;
    if (!::ReadFile(h, data, static_cast<DWORD>(std::min(size, kMaxIo)), &got, nullptr)) {
      const DWORD err = ::GetLastError();
      if (err != ERROR_BROKEN_PIPE && err != ERROR_HANDLE_EOF) ec = error_code(err);
      return 0;
    }
    if (got > 0 || size == 0 || ::GetFileType(h) != FILE_TYPE_PIPE) return got;
  }
}

}  // namespace appose::detail::platform::win32
