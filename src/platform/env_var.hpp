#pragma once

// Reading and removing this process's environment variables: the process-wide environment is
// the OS's, and removing a variable has no portable C++ spelling; on Windows std::getenv gives
// the ANSI code page (a name or path with other characters comes out garbled), so the library
// reads every variable through here. Implementations: platform/posix/env_var.cpp,
// platform/windows/env_var.cpp.

#include <optional>
#include <string>
#include <vector>

namespace appose::detail::platform {

/// The value of the environment variable `name` as UTF-8 (on Windows read as UTF-16 from the
/// process's environment, which is also what child processes inherit); nullopt if it is not set.
/// An empty value is returned as such: callers decide whether it counts as unset.
std::optional<std::string> env_var(const char* name);

/// The value of the environment variable `name`, which is removed from this process's
/// environment so that processes started later do not inherit it; nullopt if it was not set.
/// Not thread-safe (the environment is process-wide): call it before starting threads.
std::optional<std::string> take_env_var(const char* name);

/// The names of this process's environment variables.
std::vector<std::string> environment_names();

}  // namespace appose::detail::platform
