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
  /// dies.
  DirLock(const std::filesystem::path& dir, const std::function<void()>& on_wait,
          const CancelState* cancel);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  struct Waiter;
  int fd_ = -1;
};

}  // namespace appose::detail
