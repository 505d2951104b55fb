#pragma once

// The state behind a Builder and an Environment's link back to it. Internal.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "appose/builder.hpp"
#include "appose/environment.hpp"
#include "appose/scheme.hpp"
#include "build/tool.hpp"

namespace appose::detail {

struct BuilderConfig {
  std::string type;  // "pixi", "mamba", "uv" or "dynamic"
  std::optional<std::string> dynamic_type;
  std::optional<std::string> name;
  std::optional<std::filesystem::path> base;
  std::optional<std::string> content;
  /// Where content came from, for ConfigError::file(): file()'s path, url()'s address.
  std::string content_origin = "<content>";
  std::optional<Scheme> scheme;
  std::vector<std::string> channels;
  std::vector<std::string> flags;
  std::map<std::string, std::string> env_vars;
  std::optional<std::filesystem::path> executable;
  std::vector<ProgressCallback> progress;
  std::vector<LineCallback> output;
  std::vector<LineCallback> error;
  // pixi
  std::vector<std::string> conda;
  std::vector<std::string> pypi;
  std::optional<std::string> pixi_environment;
  // uv
  std::optional<std::string> python;
  std::vector<std::string> packages;
  // Shared with the thread that may call cancel(); a copied builder gets its own.
  std::shared_ptr<CancelState> cancel = std::make_shared<CancelState>();

  BuilderConfig() = default;
  BuilderConfig(const BuilderConfig& other);
  BuilderConfig& operator=(const BuilderConfig& other);
  BuilderConfig(BuilderConfig&&) noexcept = default;
  BuilderConfig& operator=(BuilderConfig&&) noexcept = default;
  ~BuilderConfig() = default;
};

/// How an Environment came to be, for rebuild(), remove() and activate().
struct EnvironmentOrigin {
  /// The configuration that built it; null when Appose did not build it.
  std::shared_ptr<const BuilderConfig> config;
  /// The directory remove() deletes (empty: nothing to delete, as for system()).
  std::filesystem::path dir;
  /// Named pixi sub-environments; empty for other types.
  std::function<Environment(const std::string&)> activator;
};

struct EnvironmentAccess {
  static Environment make(std::string base, std::vector<std::string> bin_paths,
                          std::vector<std::string> launch_args,
                          std::map<std::string, std::string> env_vars, std::string type,
                          std::shared_ptr<const EnvironmentOrigin> origin);
  static const EnvironmentOrigin* origin(const Environment& env) noexcept {
    return env.origin_.get();
  }
};

/// Builds (or finds up to date) what `config` describes.
Environment build(const BuilderConfig& config);
/// Deletes the directory `config` builds in, if Appose built it.
void remove(const BuilderConfig& config);
/// Deletes `dir` if Appose built it (appose.json), was building it, or it is empty; refuses
/// anything else with a BuildException.
void remove_dir(const std::filesystem::path& dir);
/// "pixi", "mamba", "uv" or "custom": what wrap() takes `dir` for.
std::string detect_type(const std::filesystem::path& dir);

}  // namespace appose::detail
