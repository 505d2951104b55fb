#include "test_child.hpp"

#include <gtest/gtest.h>
#include <shellapi.h>

#include <algorithm>
#include <stdexcept>

#include "util/random.hpp"

namespace appose::test::win {

namespace {

namespace win32 = detail::platform::win32;

/// One argument quoted as CommandLineToArgvW and the C runtime split it again: backslashes
/// double only before a quote.
std::wstring quote(std::wstring_view arg) {
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    out.append(c == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
    backslashes = 0;
    out.push_back(c);
  }
  out.append(backslashes * 2, L'\\');
  out.push_back(L'"');
  return out;
}

std::wstring self_path() {
  std::wstring path(32768, L'\0');
  path.resize(::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size())));
  return path;
}

HANDLE null_device(bool write) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  return ::CreateFileW(L"NUL", write ? GENERIC_WRITE : GENERIC_READ,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, nullptr);
}

}  // namespace

long Child::wait(std::chrono::milliseconds timeout) const {
  if (::WaitForSingleObject(process.get(), static_cast<DWORD>(timeout.count())) != WAIT_OBJECT_0) {
    return -1;
  }
  DWORD code = 0;
  ::GetExitCodeProcess(process.get(), &code);
  return static_cast<long>(code);
}

Pipe make_pipe(bool inheritable_read, bool inheritable_write) {
  HANDLE r = nullptr, w = nullptr;
  if (!::CreatePipe(&r, &w, nullptr, 0)) throw std::runtime_error("CreatePipe failed");
  Pipe p{UniqueHandle(r), UniqueHandle(w)};
  if (inheritable_read) ::SetHandleInformation(r, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  if (inheritable_write) ::SetHandleInformation(w, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  return p;
}

Child start_child(std::string_view mode, const std::vector<std::string>& args,
                  const ChildStdio& stdio) {
  std::wstring command = quote(self_path()) + L" --child " + quote(win32::to_wide(mode));
  for (const auto& a : args)
    command += L" " + quote(win32::to_wide(a));

  UniqueHandle null_in, null_out, null_err;
  HANDLE in = stdio.in, out = stdio.out, err = stdio.err;
  if (in == nullptr) null_in.reset(in = null_device(false));
  if (out == nullptr) null_out.reset(out = null_device(true));
  if (err == nullptr) null_err.reset(err = null_device(true));
  // Each handle once in the list (stdout and stderr may be one pipe).
  std::vector<HANDLE> inherit{in};
  for (HANDLE h : {out, err})
    if (std::find(inherit.begin(), inherit.end(), h) == inherit.end()) inherit.push_back(h);

  SIZE_T size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<unsigned char> buffer(size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(buffer.data());
  if (!::InitializeProcThreadAttributeList(attributes, 1, 0, &size) ||
      !::UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit.data(),
                                   inherit.size() * sizeof(HANDLE), nullptr, nullptr)) {
    throw std::runtime_error("cannot set up the handle list");
  }
  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = in;
  si.StartupInfo.hStdOutput = out;
  si.StartupInfo.hStdError = err;
  si.lpAttributeList = attributes;
  PROCESS_INFORMATION pi{};
  const BOOL ok =
      ::CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE,
                       EXTENDED_STARTUPINFO_PRESENT, nullptr, nullptr, &si.StartupInfo, &pi);
  const DWORD error = ::GetLastError();
  ::DeleteProcThreadAttributeList(attributes);
  if (!ok) {
    throw std::runtime_error("CreateProcessW failed: " + win32::error_code(error).message());
  }
  ::CloseHandle(pi.hThread);
  return Child{UniqueHandle(pi.hProcess), pi.dwProcessId};
}

std::string read_all(HANDLE h) {
  std::string out;
  char buf[4096];
  for (;;) {
    std::error_code ec;
    const std::size_t n = win32::read_some(h, buf, sizeof buf, ec);
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::wstring unique_name(std::string_view what) {
  return win32::to_wide("appose-test-" + std::string(what) + "-" + detail::random_hex(16));
}

}  // namespace appose::test::win

int main(int argc, char** argv) {
  // A child's arguments (paths) may be anything: read them as UTF-16, not in the ANSI code page.
  int wargc = 0;
  wchar_t** wargv = ::CommandLineToArgvW(::GetCommandLineW(), &wargc);
  if (wargv != nullptr && wargc >= 3 && std::wstring_view(wargv[1]) == L"--child") {
    std::vector<std::string> args;
    for (int i = 3; i < wargc; ++i)
      args.push_back(appose::detail::platform::win32::to_utf8(wargv[i]));
    const std::string mode = appose::detail::platform::win32::to_utf8(wargv[2]);
    ::LocalFree(wargv);
    return appose::test::win::child_main(mode, args);
  }
  ::LocalFree(wargv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
