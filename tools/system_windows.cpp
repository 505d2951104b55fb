// The CLI's system calls on Windows. The library's own Windows code is in src/platform/windows/;
// the CLI uses the public API only, so the little it needs is here.

// WIN32_LEAN_AND_MEAN and NOMINMAX come from tools/CMakeLists.txt.
#include <io.h>
#include <windows.h>
// After <windows.h>, whose types it uses: CommandLineToArgvW.
#include <shellapi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cwctype>
#include <string>

#include "system.hpp"

namespace appose::cli {

namespace {

/// `text` (UTF-8) as UTF-16, for the W functions.
std::wstring wide(const std::string& text) {
  if (text.empty()) return {};
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(std::max(n, 0)), L'\0');
  if (n > 0) {
    ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
  }
  return out;
}

/// `text` (UTF-16) as UTF-8.
std::string narrow(std::wstring_view text) {
  if (text.empty()) return {};
  const int size = static_cast<int>(text.size());
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), size, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(std::max(n, 0)), '\0');
  if (n > 0) ::WideCharToMultiByte(CP_UTF8, 0, text.data(), size, out.data(), n, nullptr, nullptr);
  return out;
}

HANDLE console_handle(std::FILE* stream) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): _get_osfhandle returns the HANDLE as intptr_t.
  return reinterpret_cast<HANDLE>(::_get_osfhandle(::_fileno(stream)));
}

}  // namespace

std::string executable_name(std::string_view name) {
  std::string out(name);
  std::string tail = out.size() >= 4 ? out.substr(out.size() - 4) : "";
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (tail != ".exe") out += ".exe";
  return out;
}

bool is_terminal(std::FILE* stream) {
  DWORD mode = 0;
  // A console, not merely a character device (NUL is one too, and _isatty says yes to it).
  return ::GetConsoleMode(console_handle(stream), &mode) != 0;
}

std::size_t terminal_columns(std::FILE* stream) {
  CONSOLE_SCREEN_BUFFER_INFO info{};
  if (::GetConsoleScreenBufferInfo(console_handle(stream), &info) != 0) {
    const int columns = info.srWindow.Right - info.srWindow.Left + 1;
    if (columns > 0) return static_cast<std::size_t>(columns);
  }
  return 80;
}

void prepare_console() {
  ::SetConsoleOutputCP(CP_UTF8);
}

std::vector<std::string> utf8_arguments(int argc, char** argv) {
  int count = 0;
  wchar_t** wide_argv = ::CommandLineToArgvW(::GetCommandLineW(), &count);
  if (wide_argv == nullptr) return {argv, argv + argc};  // out of memory: the ANSI ones
  std::vector<std::string> args;
  args.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    args.push_back(narrow(wide_argv[i]));
  ::LocalFree(wide_argv);
  return args;
}

std::optional<std::string> env_var(const char* name) {
  const std::wstring wide_name = wide(name);
  DWORD n = ::GetEnvironmentVariableW(wide_name.c_str(), nullptr, 0);
  if (n == 0) {
    if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
    return std::string();
  }
  std::wstring value(n, L'\0');
  n = ::GetEnvironmentVariableW(wide_name.c_str(), value.data(), n);
  value.resize(n < value.size() ? n : 0);
  return narrow(value);
}

bool runnable(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return false;
  std::wstring ext = p.extension().wstring();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](wchar_t c) { return static_cast<wchar_t>(std::towlower(c)); });
  return ext == L".exe" || ext == L".com" || ext == L".bat" || ext == L".cmd";
}

bool writable_dir(const std::filesystem::path& dir) {
  // Access control lists decide, and only trying tells: a file that deletes itself on close.
  const std::filesystem::path probe = dir / L".appose-write-probe.tmp";
  HANDLE h = ::CreateFileW(probe.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                           FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  if (h == INVALID_HANDLE_VALUE) return ::GetLastError() == ERROR_FILE_EXISTS;
  ::CloseHandle(h);
  return true;
}

void set_env(const char* name, const std::string& value) {
  // The C runtime's copy (getenv) and the process's (inherited by children) both change.
  ::_wputenv_s(wide(name).c_str(), wide(value).c_str());
}

std::optional<SharedMemorySpace> shared_memory_space(std::string& why) {
  MEMORYSTATUSEX status{};
  status.dwLength = sizeof status;
  if (::GlobalMemoryStatusEx(&status) == 0) {
    why = "cannot read the commit limit (GlobalMemoryStatusEx failed)";
    return std::nullopt;
  }
  SharedMemorySpace space;
  space.what = "commit space";
  space.free = status.ullAvailPageFile;
  space.total = status.ullTotalPageFile;
  space.grow_advice = "close programs holding memory, or let Windows grow the page file";
  return space;
}

}  // namespace appose::cli
