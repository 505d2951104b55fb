#pragma once

// How the layers above make Environments: the builders attach what they know of an
// environment's making, so that rebuild(), remove() and activate() can act on it without the
// environment layer knowing anything of builders. Internal.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appose/environment.hpp"

namespace appose::detail {

/// How an Environment came to be, for rebuild(), remove() and activate(): the operations the
/// builder that made it provides. A null origin means Appose did not build the environment.
struct EnvironmentOrigin {
  /// Deletes the environment's directory (only if Appose built it); empty: nothing may be
  /// deleted.
  std::function<void()> remove;
  /// Deletes the environment and builds it again from the configuration that built it; empty:
  /// there is no such configuration.
  std::function<Environment()> rebuild;
  /// Installs and returns a named pixi sub-environment; empty for other types (or when pixi was
  /// not found).
  std::function<Environment(const std::string&)> activator;
};

/// The one way in to an Environment's type and origin, which its public constructor leaves
/// out: they are facts about its making, not settings a caller chooses.
struct EnvironmentAccess {
  /// An Environment as Environment's constructor makes it, with its type ("pixi", "mamba",
  /// "uv", "custom", "system") and origin (null: not built by Appose).
  static Environment make(std::string base, std::vector<std::string> bin_paths,
                          std::vector<std::string> launch_args,
                          std::map<std::string, std::string> env_vars, std::string type,
                          std::shared_ptr<const EnvironmentOrigin> origin);
};

}  // namespace appose::detail
