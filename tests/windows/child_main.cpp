// appose_win_child: the child program of the Windows process and pump tests. The first
// argument picks what it does (see usage()); everything it reports goes to stdout as lines.
// It reads its arguments the two ways Windows programs do: the C runtime's (wmain) and the
// shell's (CommandLineToArgvW), so a test sees both parsers receive the same argv.

// <windows.h> first, the one way the project includes it; then the shell's API.
#include "platform/windows/win32.hpp"

#include <shellapi.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "platform/process.hpp"

namespace {

namespace win32 = appose::detail::platform::win32;

void write(DWORD which, std::string_view text) {
  HANDLE h = ::GetStdHandle(which);
  while (!text.empty()) {
    DWORD n = 0;
    if (!::WriteFile(h, text.data(), static_cast<DWORD>(text.size()), &n, nullptr)) return;
    text.remove_prefix(n);
  }
}

void say(std::string_view text) {
  write(STD_OUTPUT_HANDLE, text);
}

/// Each argument from `first` on as the hex digits of its UTF-8, one a line: arguments may
/// hold anything, line breaks included.
void echo_hex(int argc, wchar_t** argv, int first) {
  for (int i = first; i < argc; ++i) {
    static const char digits[] = "0123456789abcdef";
    std::string line = "arg:";
    for (char ch : win32::to_utf8(argv[i])) {
      const auto c = static_cast<unsigned char>(ch);
      line += digits[c >> 4];
      line += digits[c & 15];
    }
    say(line + "\n");
  }
}

std::wstring own_path() {
  std::wstring path(32768, L'\0');
  path.resize(::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size())));
  return path;
}

/// Starts this program again in `mode`, inheriting our standard handles (and so holding our
/// stdout and stderr pipes), and returns its pid once it runs (it sets the event it is given).
DWORD start_self(const std::wstring& mode) {
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE running = ::CreateEventW(&inherit, TRUE, FALSE, nullptr);
  std::wstring line = L"\"" + own_path() + L"\" " + mode + L" " +
                      std::to_wstring(reinterpret_cast<std::uintptr_t>(running));
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = ::GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = ::GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = ::GetStdHandle(STD_ERROR_HANDLE);
  PROCESS_INFORMATION pi{};
  if (running == nullptr ||
      !::CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW, nullptr,
                        nullptr, &si, &pi) ||
      ::WaitForSingleObject(running, 30000) != WAIT_OBJECT_0) {
    write(STD_ERROR_HANDLE, "cannot start the grandchild\n");
    ::ExitProcess(90);
  }
  ::CloseHandle(running);
  ::CloseHandle(pi.hThread);
  ::CloseHandle(pi.hProcess);
  return pi.dwProcessId;
}

/// Sets the event start_self() passed as argv[2], if any: this process runs.
void report_running(int argc, wchar_t** argv) {
  if (argc == 3) ::SetEvent(reinterpret_cast<HANDLE>(std::wcstoull(argv[2], nullptr, 10)));
}

int usage() {
  write(STD_ERROR_HANDLE,
        "usage: appose_win_child MODE ...\n"
        "  exit N              exit with code N (unsigned, as a DWORD)\n"
        "  echo-args A...      each argument as the C runtime parsed it, in hex\n"
        "  echo-args-shell A.. the same as CommandLineToArgvW parsed it\n"
        "  env NAME            every variable whose name is NAME in any case: NAME=VALUE\n"
        "  cwd                 the working directory\n"
        "  cat                 stdin to stdout until EOF\n"
        "  lines               fixed lines on stdout and stderr, CRLF and LF, last unfinished\n"
        "  long N              a line of N 'x', then the line 'short'\n"
        "  sleep               sleeps for ever\n"
        "  tick                writes 'tick' every 10 ms for ever\n"
        "  tree exit|stay|tick a grandchild that sleeps (tick: ticks) holding our stdout; its "
        "pid; then exit, or sleep\n"
        "  host [--no-lifeline] spawns 'sleep' with Process::spawn(kill_with_host), prints its "
        "pid and whether a lifeline guards it, then TerminateProcess(self, 3)\n");
  return 2;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc < 2) return usage();
  const std::wstring_view mode = argv[1];
  if (mode == L"exit" && argc == 3) {
    ::ExitProcess(static_cast<UINT>(std::wcstoul(argv[2], nullptr, 10)));
  }
  if (mode == L"echo-args") {
    echo_hex(argc, argv, 2);
    return 0;
  }
  if (mode == L"echo-args-shell") {
    int n = 0;
    wchar_t** shell = ::CommandLineToArgvW(::GetCommandLineW(), &n);
    if (shell == nullptr) return 91;
    echo_hex(n, shell, 2);
    ::LocalFree(shell);
    return 0;
  }
  if (mode == L"env" && argc == 3) {
    const std::wstring_view name = argv[2];
    wchar_t* block = ::GetEnvironmentStringsW();
    for (const wchar_t* e = block; *e != L'\0'; e += std::wcslen(e) + 1) {
      std::wstring_view entry(e);
      const auto eq = entry.find(L'=', 1);
      const auto key = entry.substr(0, eq);
      if (::CompareStringOrdinal(key.data(), static_cast<int>(key.size()), name.data(),
                                 static_cast<int>(name.size()), TRUE) == CSTR_EQUAL) {
        say(win32::to_utf8(entry) + "\n");
      }
    }
    ::FreeEnvironmentStringsW(block);
    return 0;
  }
  if (mode == L"cwd") {
    std::wstring dir(32768, L'\0');
    dir.resize(::GetCurrentDirectoryW(static_cast<DWORD>(dir.size()), dir.data()));
    say(win32::to_utf8(dir) + "\n");
    return 0;
  }
  if (mode == L"cat") {
    char buf[4096];
    DWORD n = 0;
    while (::ReadFile(::GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &n, nullptr) && n > 0)
      say(std::string_view(buf, n));
    return 0;
  }
  if (mode == L"lines") {
    say("one\r\ntwo\nthree");
    write(STD_ERROR_HANDLE, "e1\r\ne2\n");
    return 0;
  }
  if (mode == L"long" && argc == 3) {
    say(std::string(std::wcstoul(argv[2], nullptr, 10), 'x') + "\nshort\n");
    return 0;
  }
  if (mode == L"sleep") {
    report_running(argc, argv);
    ::Sleep(INFINITE);
    return 0;
  }
  if (mode == L"tick") {
    say("tick\n");
    report_running(argc, argv);
    while (true) {
      say("tick\n");
      ::Sleep(10);
    }
  }
  if (mode == L"tree" && argc == 3) {
    const std::wstring_view then = argv[2];
    const DWORD pid = start_self(then == L"tick" ? L"tick" : L"sleep");
    say(std::to_string(pid) + "\n");
    if (then == L"stay") ::Sleep(INFINITE);
    return 0;
  }
  if (mode == L"host") {
    namespace platform = appose::detail::platform;
    platform::SpawnOptions options;
    options.argv = {win32::to_utf8(own_path()), "sleep"};
    options.kill_with_host = !(argc == 3 && std::wstring_view(argv[2]) == L"--no-lifeline");
    try {
      platform::Process child = platform::Process::spawn(options);
      say(std::to_string(child.pid()) + " " + (child.has_lifeline() ? "lifeline" : "none") + "\n");
      // Dies as a killed host would: no destructor runs, the system closes every handle.
      ::TerminateProcess(::GetCurrentProcess(), 3);
    } catch (const std::exception& e) {
      write(STD_ERROR_HANDLE, std::string(e.what()) + "\n");
      return 92;
    }
  }
  return usage();
}
