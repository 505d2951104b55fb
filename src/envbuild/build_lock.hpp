#pragma once

// The cross-process lock of an environment (or tool) directory, woken by a build's cancel():
// the one place that hands the platform lock the cancel state's event. Internal.

#include <filesystem>
#include <functional>

#include "envbuild/tool.hpp"
#include "platform/dir_lock.hpp"

namespace appose::detail {

/// Locks `dir` (see DirLock); calls `on_wait` once if another process holds it; `cancel` (may
/// be null) ends the wait with a BuildException.
inline platform::DirLock lock_dir(const std::filesystem::path& dir,
                                  const std::function<void()>& on_wait, const CancelState* cancel) {
  return platform::DirLock(dir, on_wait, cancel != nullptr ? &cancel->event() : nullptr);
}

}  // namespace appose::detail
