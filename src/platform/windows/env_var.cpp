// The environment on Windows exists twice: the OS's (GetEnvironmentVariableW, what
// CreateProcessW hands to children) and the C runtime's copy (getenv, _wgetenv), taken at
// start-up and kept in step only by the runtime's own _putenv. A variable is taken out of both.

#include "platform/env_var.hpp"

#include <cstdlib>
#include <string_view>

#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

std::optional<std::string> env_var(const char* name) {
  std::optional<std::wstring> value = win32::env_var(win32::to_wide(name).c_str());
  if (!value) return std::nullopt;
  return win32::to_utf8(*value);
}

std::optional<std::string> take_env_var(const char* name) {
  std::optional<std::string> value = env_var(name);
  if (!value) return std::nullopt;
  const std::wstring wide = win32::to_wide(name);
  // An empty value removes the variable from the runtime's copy (and from the OS's, which is
  // removed explicitly all the same: _wputenv_s does so only when the copy had it).
  ::_wputenv_s(wide.c_str(), L"");
  ::SetEnvironmentVariableW(wide.c_str(), nullptr);
  return value;
}

std::vector<std::string> environment_names() {
  std::vector<std::string> names;
  wchar_t* block = ::GetEnvironmentStringsW();
  if (block == nullptr) return names;
  // "NAME=value\0NAME=value\0\0". Entries that start with '=' ("=C:=C:\dir", "=ExitCode=...")
  // are cmd.exe's per-drive directories and the like, not variables.
  for (const wchar_t* entry = block; *entry != L'\0';) {
    const std::wstring_view text(entry);
    if (text.front() != L'=') names.push_back(win32::to_utf8(text.substr(0, text.find(L'='))));
    entry += text.size() + 1;
  }
  ::FreeEnvironmentStringsW(block);
  return names;
}

}  // namespace appose::detail::platform
