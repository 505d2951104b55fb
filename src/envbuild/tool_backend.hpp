#pragma once

// What differs between uv, pixi and micromamba: the steps of the one build flow
// (build_flow.cpp) that each tool does its own way. One implementation per tool, each in its
// own file (uv_backend.cpp, pixi_backend.cpp, mamba_backend.cpp). Internal.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/environment.hpp"
#include "envbuild/builder_config.hpp"
#include "envbuild/tool.hpp"
#include "environment/environment_access.hpp"

namespace appose::detail {

class Build;

/// One tool's part in a build. Implementations are stateless; the flow holds the state.
class ToolBackend {
 public:
  ToolBackend() = default;
  ToolBackend(const ToolBackend&) = delete;
  ToolBackend& operator=(const ToolBackend&) = delete;
  virtual ~ToolBackend() = default;

  /// The builder type it serves: "uv", "pixi" or "mamba".
  [[nodiscard]] virtual const char* type() const noexcept = 0;
  /// The tool it drives.
  [[nodiscard]] virtual ToolKind tool() const noexcept = 0;
  /// Whether its environments launch through the tool (`pixi run`, `micromamba run`): the tool
  /// must then be found (or downloaded) even for an environment that is up to date.
  [[nodiscard]] virtual bool launches_through_tool() const noexcept = 0;
  /// Whether `dir` holds what a finished build leaves: a matching appose.json alone does not
  /// prove the tool's work is still there.
  [[nodiscard]] virtual bool looks_built(const BuilderConfig& config,
                                         const std::filesystem::path& dir) const = 0;
  /// Called when the environment is not up to date, before anything is changed: an
  /// Environment to return without building, nullopt to build, or a BuildException when there
  /// is nothing to build from. The default builds.
  [[nodiscard]] virtual std::optional<Environment> without_build(
      const BuilderConfig& config, const std::filesystem::path& dir,
      const std::filesystem::path& tool, std::shared_ptr<EnvironmentOrigin> origin) const;
  /// Runs the tool's steps in `build.dir()`: make the directory or project, write the
  /// configuration file, install the packages. The flow writes appose.json afterwards, and
  /// cleans up if this throws.
  virtual void build(Build& build) const = 0;
  /// The Environment in `dir`. `tool`: the tool's executable, or empty when it was not found
  /// (wrap() of a directory whose tool is missing: the environment's bin directory then finds
  /// its executables without the tool's activation). `origin` (may be null) is attached.
  [[nodiscard]] virtual Environment environment(
      const BuilderConfig& config, const std::filesystem::path& dir,
      const std::filesystem::path& tool, std::shared_ptr<EnvironmentOrigin> origin) const = 0;
  /// Appends the builder's `flags` and a command's `args` to `argv` (which holds the
  /// executable). The default puts the flags first, right after the executable, as the peers
  /// do.
  virtual void place_flags(std::vector<std::string>& argv, const std::vector<std::string>& flags,
                           const std::vector<std::string>& args) const;
};

/// The uv back-end (uv_backend.cpp).
const ToolBackend& uv_backend() noexcept;
/// The pixi back-end (pixi_backend.cpp).
const ToolBackend& pixi_backend() noexcept;
/// The micromamba back-end (mamba_backend.cpp).
const ToolBackend& mamba_backend() noexcept;

/// The back-end of a resolved builder type ("uv", "pixi", "mamba"); BuildException for any
/// other.
const ToolBackend& backend_for(std::string_view type);

}  // namespace appose::detail
