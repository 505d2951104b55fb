#pragma once

// The launcher of appose-python's worker that gives the protocol a private channel (see
// docs/service.md, "A protocol channel nothing else can write to").

#include <string>
#include <vector>

#include "wire/worker_env.hpp"

namespace appose::detail {

/// The Python source the bootstrap runs (exposed for tests and docs).
const std::string& python_bootstrap_source();

/// Arguments for `python` that run the bootstrap: `-c <one line, no quotes, no spaces>
/// <base64 payload>`. Launchers that re-parse a command line (`pixi run`) pass such words
/// through unchanged.
std::vector<std::string> python_bootstrap_args();

/// How the bootstrap's task failures start when the init script failed (then the traceback
/// follows); TaskImpl::handle() records what follows as Service::init_error(). No double
/// quote or backslash: it is pasted into a triple-quoted Python string.
inline constexpr const char* kInitFailedPrefix =
    "[appose-cpp] The service's init script failed, so this worker runs no task: fix the "
    "script (Service::init()) and start the service again. The init script's traceback:\n";

}  // namespace appose::detail
