#pragma once

// What a Process is on Windows: the process handle, its job object and our three pipe ends.
// For the platform's Windows code (the spawner, the output pump) and the tests of the process
// layer; everything above the platform layer uses platform/process.hpp only.

#include <optional>

#include "platform/process.hpp"
#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

/// A child on Windows.
struct Process::Native {
  /// The child; it stays signalled (and its id unused by others) while we hold it.
  win32::UniqueHandle process;
  /// The job the child was put in before it ran, so that what it starts is in it too; kill
  /// by TerminateJobObject. Invalid if the job could not be made (then only the child itself
  /// is killed). With SpawnOptions::kill_with_host it has JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  /// and since no other process holds a handle to it, our death (the system closing our
  /// handles) kills the tree: the lifeline.
  win32::UniqueHandle job;
  DWORD pid = 0;
  /// Our end of the child's stdin: a plain (synchronous) pipe end.
  win32::UniqueHandle stdin_pipe;
  /// Our ends of the child's stdout and stderr: opened for overlapped reads, which the output
  /// pump waits on and can cancel.
  win32::UniqueHandle stdout_pipe, stderr_pipe;
  /// Whether the job kills the tree when closed (the lifeline is armed).
  bool kill_on_close = false;
  std::optional<int> exit_code;
};

/// Our end of the child's stdin; null when closed or there is no child.
inline HANDLE stdin_handle(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stdin_pipe.get() : nullptr;
}
/// Our end of the child's stdout (overlapped); null when closed or there is no child.
inline HANDLE stdout_handle(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stdout_pipe.get() : nullptr;
}
/// Our end of the child's stderr (overlapped); null when closed or there is no child.
inline HANDLE stderr_handle(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->stderr_pipe.get() : nullptr;
}
/// The child's process handle, signalled once it exits; null once reaped or without a child.
inline HANDLE process_handle(const Process& p) noexcept {
  return p.native() != nullptr ? p.native()->process.get() : nullptr;
}

}  // namespace appose::detail::platform
