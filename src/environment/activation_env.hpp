#pragma once

// What of the caller's environment a child must not inherit: the variables a conda, pixi,
// micromamba or virtualenv activation set in the shell this process was started from. A build
// tool, or a worker of another environment, run with them would act on the caller's
// environment instead of its own. Internal.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "environment/host_os.hpp"

namespace appose::detail {

/// Whether `name` is one of the activation variables tool_environment() unsets, by `os`'s rule
/// for names (on Windows "Conda_Prefix" is CONDA_PREFIX).
bool activation_variable(std::string_view name, HostOs os);

/// Sets `name` to `value` (nullopt: unset) in `changes`, replacing any entry that names the same
/// variable on `os` (on Windows "Path" replaces "PATH"): two entries for one variable would be
/// applied in the map's order, which is not the order they were set in.
void set_env_change(std::map<std::string, std::optional<std::string>>& changes,
                    const std::string& name, std::optional<std::string> value, HostOs os);

/// tool_environment() for the variables `inherited` (their names) on `os`: a function of its
/// input, so that each system's rule is tested on every system.
std::map<std::string, std::optional<std::string>> tool_environment(
    const std::vector<std::string>& inherited,
    const std::map<std::string, std::string>& builder_env, HostOs os);

/// The environment changes every tool command gets: the caller's conda, pixi, micromamba and
/// virtualenv activation (CONDA_*, PIXI_*, MAMBA_*, CONDARC, MAMBARC, VIRTUAL_ENV,
/// UV_PROJECT_ENVIRONMENT, PYTHONHOME, PYTHONPATH) unset, so that what a build produces does not
/// depend on the shell it was started from; then `builder_env` set on top. Workers get the same
/// unsets (an Environment keeps PYTHONPATH and its own variables).
std::map<std::string, std::optional<std::string>> tool_environment(
    const std::map<std::string, std::string>& builder_env);

}  // namespace appose::detail
