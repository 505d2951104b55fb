#pragma once

// A cross-process lock per environment directory, so that two processes building the same
// environment never interleave their tools: the second waits, then finds the first's build up
// to date. Internal.

#include <filesystem>
#include <functional>
#include <memory>

namespace appose::detail {

class CancelState;

class DirLock {
 public:
  /// Holds an exclusive flock(2) on `<parent>/.<name>.appose-lock` (beside `dir`, not inside:
  /// builds delete and recreate the directory itself). If another process holds it, calls
  /// `on_wait` once and blocks until it is released — or until `cancel` fires, which throws a
  /// BuildException. The lock is released by the destructor, and by the kernel if this process
  /// dies. The destructor deletes the lock file before letting go, so that lock files do not
  /// pile up beside the environments; a waiter that then gets the deleted file's lock sees it
  /// is no longer at the path and locks the path's current file instead, so two holders never
  /// coexist. A process killed while holding leaves its file behind, harmless and reused.
  DirLock(const std::filesystem::path& dir, const std::function<void()>& on_wait,
          const CancelState* cancel);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  struct Waiter;
  /// Blocks until `fd` (owned from here on) is locked or `cancel` fires; returns it locked.
  static int wait(int fd, const std::filesystem::path& dir, const CancelState* cancel);

  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace appose::detail
