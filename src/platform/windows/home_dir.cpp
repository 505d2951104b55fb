// The home directory as appose-python finds it on Windows: Path.home() is
// os.path.expanduser("~"), which reads USERPROFILE, else HOMEDRIVE + HOMEPATH, and ignores HOME
// (since Python 3.8). Where Python gives up (none is set) this asks the OS for the user's
// profile directory instead of failing; an empty value counts as not set, as HOME does on
// POSIX.

#include "platform/home_dir.hpp"

#include <optional>

#include "platform/windows/win32.hpp"

// After <windows.h>, which it needs.
#include <userenv.h>

namespace appose::detail::platform {

namespace {

std::optional<std::wstring> non_empty_var(const wchar_t* name) {
  auto value = win32::env_var(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

/// The profile directory of this process's user, from its token (userenv).
std::wstring profile_directory() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return {};
  const win32::UniqueHandle owned(token);
  DWORD size = 0;
  ::GetUserProfileDirectoryW(token, nullptr, &size);
  if (size == 0) return {};
  std::wstring dir(size, L'\0');
  if (!::GetUserProfileDirectoryW(token, dir.data(), &size)) return {};
  dir.resize(dir.find(L'\0'));
  return dir;
}

}  // namespace

std::string home_dir() {
  if (auto profile = non_empty_var(L"USERPROFILE")) return win32::to_utf8(*profile);
  // Python joins the two with ntpath.join, which for a drive ("C:") and a rooted path
  // ("\Users\me") is plain concatenation.
  if (auto path = non_empty_var(L"HOMEPATH")) {
    return win32::to_utf8(non_empty_var(L"HOMEDRIVE").value_or(L"") + *path);
  }
  return win32::to_utf8(profile_directory());
}

}  // namespace appose::detail::platform
