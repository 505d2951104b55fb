#pragma once

// The per-user registry of shared-memory blocks appose-cpp processes own (will unlink), so
// that blocks whose owner died (SIGKILL, a crash, abort) can be found and reclaimed later
// instead of filling /dev/shm until reboot. Internal; the public face is in shared_memory.hpp.
//
// One small file per owned block, named after the block, holding "<pid> <start time>" of the
// owner: the start time (/proc/<pid>/stat on Linux, sysctl(KERN_PROC_PID) on macOS) tells a
// dead owner from a new process that reuses its pid. The registry lives in /dev/shm/.appose-<uid>/
// on Linux (mode 0700), beside the blocks and cleared with them at reboot, and in the user's
// own temporary folder on macOS (which has no /dev/shm); APPOSE_SHM_REGISTRY overrides the
// directory. Windows needs none: a file mapping cannot outlive its last handle, so every call
// here does nothing there and the lists are empty.
//
// Registration is best effort: a registry that cannot be written must never make a block
// unusable. Only blocks in the registry are ever reclaimed, so blocks of other programs, blocks
// kept on purpose (unlink_on_close(false)) and blocks of live owners are never touched.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace appose::detail::platform::shm_registry {

struct Entry {
  std::string name;
  std::int64_t pid = -1;
  unsigned long long start_time = 0;
  bool owner_alive = true;
};

/// The registry directory (created on demand).
std::filesystem::path directory();
/// Records that this process owns `name`.
void add(const std::string& name) noexcept;
/// Forgets `name` (unlinked, or no longer owned).
void remove(const std::string& name) noexcept;
/// Every entry, with whether its owner still runs.
std::vector<Entry> list();
/// Unlinks the blocks of dead owners and drops their entries; returns their names.
std::vector<std::string> reclaim();
/// reclaim(), at most once per process (when the first service starts).
void reclaim_once() noexcept;

}  // namespace appose::detail::platform::shm_registry
