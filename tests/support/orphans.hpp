#pragma once

// What the no-orphan tests share: start tests/support/orphan_host (a host that starts a worker
// and prints its pid), SIGKILL it, and watch whether the worker's process group survives.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace appose::test {

/// Runs orphan_host (`host_exe`) with `args` and `extra_env` ("NAME=value" entries on top of
/// ours), reads the worker pid it prints (within 60 s: a JVM may be slow), SIGKILLs it and
/// reaps it. Returns the worker's pid (which leads its process group), or -1 if the host
/// printed none. `killed_at`: when the SIGKILL was sent.
pid_t orphan_a_worker(const std::string& host_exe, const std::vector<std::string>& args,
                      const std::vector<std::string>& extra_env = {},
                      std::chrono::steady_clock::time_point* killed_at = nullptr);

/// As orphan_a_worker(), for a host that prints several pids on its line (orphan_host
/// `commands`): all of them, in order; empty if it printed none.
std::vector<pid_t> orphan_workers(const std::string& host_exe, const std::vector<std::string>& args,
                                  std::chrono::steady_clock::time_point* killed_at = nullptr);

/// The live (not zombie) pids whose process group is `pgid`: /proc on Linux, libproc on macOS.
std::vector<pid_t> group_members(pid_t pgid);

/// Whether no live (non-zombie) process is left in process group `pgid`.
bool group_gone(pid_t pgid);

/// Polls until group `pgid` is gone; the time since `t0` it took, or nullopt once `timeout`
/// has passed since `t0`.
std::optional<std::chrono::milliseconds> time_until_group_gone(
    pid_t pgid, std::chrono::milliseconds timeout,
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now());

/// Kills what is left of group `pgid` (cleanup for a failing or negative-control test).
void kill_group(pid_t pgid);

}  // namespace appose::test
