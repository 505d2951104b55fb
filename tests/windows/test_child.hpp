#pragma once

// What the Windows platform tests share: each test program is its own helper child. Its main()
// (test_child.cpp) runs GoogleTest, or, when started as `<exe> --child <mode> args...`, the
// test file's child_main(mode, args), so that no helper program needs building or finding.
// Children are started with plain CreateProcessW, not platform::Process: these tests check
// the platform layer beneath it.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "platform/windows/win32.hpp"

namespace appose::test::win {

using detail::platform::win32::UniqueHandle;

/// Defined by each test program: what its child does in `mode`; returns the exit code.
int child_main(std::string_view mode, const std::vector<std::string>& args);

/// The standard handles a child gets.
struct ChildStdio {
  HANDLE in = nullptr;   ///< null: the null device
  HANDLE out = nullptr;  ///< null: the null device
  HANDLE err = nullptr;  ///< null: the null device
};

/// A started child.
struct Child {
  UniqueHandle process;
  DWORD pid = 0;

  /// Waits up to `timeout` for the exit; its code, or -1 if it is still running.
  long wait(std::chrono::milliseconds timeout) const;
};

/// An anonymous pipe; `inheritable_read`/`inheritable_write` say which end a child gets.
struct Pipe {
  UniqueHandle read, write;
};
Pipe make_pipe(bool inheritable_read, bool inheritable_write);

/// Starts this test program as `--child mode args...` with `stdio`, inheriting only the
/// handles in `stdio` (PROC_THREAD_ATTRIBUTE_HANDLE_LIST).
Child start_child(std::string_view mode, const std::vector<std::string>& args,
                  const ChildStdio& stdio = {});

/// Reads `h` until the end (all writers gone) on the calling thread.
std::string read_all(HANDLE h);

/// A fresh name for a named kernel object (events), unique across runs.
std::wstring unique_name(std::string_view what);

}  // namespace appose::test::win
