#pragma once

// The rules of the shared-memory registry (platform/shm_registry.hpp) that differ between Linux
// and macOS, as functions of what they are given, so that each system's rule is tested on
// Linux: where the registry lives, and how a process's start time (which tells a dead owner
// from a process that reuses its pid) is read. The system calls that gather the inputs are in
// platform/posix/shm_registry.cpp and platform/macos/process_start.cpp.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace appose::detail::platform::shm_registry {

/// What decides where the registry lives.
struct Places {
  /// APPOSE_SHM_REGISTRY; empty when unset.
  std::string override_dir;
  /// Whether /dev/shm is a directory (Linux: the registry sits beside the blocks, and is
  /// cleared with them at reboot).
  bool dev_shm = false;
  /// macOS: the per-user temporary directory (confstr(_CS_DARWIN_USER_TEMP_DIR)), the same for
  /// every process of the user whatever its TMPDIR says, so that they all find one registry.
  /// Empty elsewhere.
  std::string user_temp_dir;
  /// The temporary directory (TMPDIR, else /tmp): the last resort.
  std::filesystem::path temp_dir;
  /// The user's id: one registry per user.
  unsigned long uid = 0;
};

/// The registry directory: the override as given, else `.appose-<uid>` in /dev/shm, else in the
/// user's temporary directory (macOS), else in the temporary directory.
std::filesystem::path choose_directory(const Places& places);

/// The start time in /proc/<pid>/stat's text (Linux): field 22, in clock ticks since boot.
/// The command name (field 2) may hold spaces and parentheses, so fields are counted after its
/// last ')'. nullopt when the text is not such a line.
std::optional<unsigned long long> start_time_from_proc_stat(std::string_view stat);

/// A start time from the kernel's timeval of it (macOS: kinfo_proc's p_starttime), in
/// microseconds since the epoch: two processes started in the same second still differ.
unsigned long long start_time_from_timeval(long long seconds, long long microseconds) noexcept;

/// The start time of process `pid`, in a unit of the system's own (it is only compared with
/// itself); nullopt when it cannot be read (no such process, or not allowed to see it). Linux:
/// /proc/<pid>/stat (platform/posix/shm_registry.cpp); macOS: sysctl(KERN_PROC_PID)
/// (platform/macos/process_start.cpp).
std::optional<unsigned long long> process_start_time(pid_t pid);

}  // namespace appose::detail::platform::shm_registry
