#pragma once

// Environment variables by which a host tells the worker it starts about itself. Part of the
// host-worker contract, so both sides (src/host/, src/worker/) and the Python bootstrap agree
// on one spelling.

namespace appose::detail {

/// Environment variable naming the host's pid, so the worker can exit when the host dies.
inline constexpr const char* kParentPidVar = "APPOSE_PARENT_PID";

}  // namespace appose::detail
