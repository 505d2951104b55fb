#include "environment/activation_env.hpp"

#include <string_view>
#include <utility>

#include "platform/env_var.hpp"

namespace appose::detail {

bool activation_variable(std::string_view name, HostOs os) {
  for (std::string_view prefix : {"CONDA_", "PIXI_", "MAMBA_"}) {
    if (env_name_starts_with(name, prefix, os)) return true;
  }
  for (std::string_view exact : {"CONDARC", "MAMBARC", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT",
                                 "PYTHONHOME", "PYTHONPATH"}) {
    if (same_env_name(name, exact, os)) return true;
  }
  return false;
}

void set_env_change(std::map<std::string, std::optional<std::string>>& changes,
                    const std::string& name, std::optional<std::string> value, HostOs os) {
  std::erase_if(changes, [&](const auto& change) { return same_env_name(change.first, name, os); });
  changes[name] = std::move(value);
}

std::map<std::string, std::optional<std::string>> tool_environment(
    const std::vector<std::string>& inherited,
    const std::map<std::string, std::string>& builder_env, HostOs os) {
  std::map<std::string, std::optional<std::string>> env;
  for (const std::string& name : inherited) {
    if (activation_variable(name, os)) env.emplace(name, std::nullopt);
  }
  for (const auto& [name, value] : builder_env)
    set_env_change(env, name, value, os);
  return env;
}

std::map<std::string, std::optional<std::string>> tool_environment(
    const std::map<std::string, std::string>& builder_env) {
  return tool_environment(platform::environment_names(), builder_env, kHostOs);
}

}  // namespace appose::detail
