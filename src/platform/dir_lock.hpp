#pragma once

// A cross-process lock per environment directory, so that two processes building the same
// environment never interleave their tools: the second waits, then finds the first's build up
// to date. Internal.

#include <cstdint>
#include <filesystem>
#include <functional>

#include "platform/wake_event.hpp"

namespace appose::detail::platform {

class DirLock {
 public:
  /// Holds an exclusive lock on `<parent>/.<name>.appose-lock` (beside `dir`, not inside:
  /// builds delete and recreate the directory itself). If another process holds it, calls
  /// `on_wait` once and blocks until it is released, or until `cancel` is set, which throws a
  /// BuildException (null: the wait cannot be canceled). The
  /// lock is released by the destructor, and by the kernel if this process dies. The
  /// destructor deletes the lock file before letting go, so that lock files do not pile up
  /// beside the environments; a waiter that then gets the deleted file's lock sees it is no
  /// longer at the path and locks the path's current file instead, so two holders never
  /// coexist. A process killed while holding leaves its file behind, harmless and reused.
  explicit DirLock(const std::filesystem::path& dir, const std::function<void()>& on_wait = {},
                   const WakeEvent* cancel = nullptr);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  /// Deletes the lock file, then releases the lock.
  ~DirLock();

 private:
  std::filesystem::path path_;
  /// The locked file's native handle (a descriptor on POSIX).
  std::intptr_t handle_ = -1;
};

}  // namespace appose::detail::platform
