#pragma once

/// \file
/// The environments under a root directory (by default envs_dir()): what they are, how big,
/// and whether they still match the configuration that built them. For tools (the `appose`
/// command line) and for applications that clean up after themselves.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "appose/export.hpp"

namespace appose {

/// Whether an environment still is what its appose.json says was built.
enum class EnvironmentState : std::uint8_t {
  up_to_date,      ///< appose.json is valid and the configuration files in the directory match it
  modified,        ///< a configuration file in the directory differs from what was built
  no_fingerprint,  ///< no (readable) appose.json: not built by Appose, or a build never finished
};

/// One environment directory.
struct EnvironmentInfo {
  std::string name;               ///< the directory's name
  std::filesystem::path path;     ///< absolute
  std::string type;               ///< "pixi", "mamba", "uv" or "custom", as wrap() detects it
  std::uintmax_t size_bytes = 0;  ///< bytes of regular files, symbolic links not followed
  EnvironmentState state = EnvironmentState::no_fingerprint;
  std::optional<std::string> builder;  ///< the builder appose.json names, if any
  /// When the last successful build finished (appose.json's modification time), if known.
  std::optional<std::chrono::system_clock::time_point> built;
};

/// The environments directly under `root` (default: envs_dir()), sorted by name. The tool
/// caches (`.pixi`, `.uv`, `.mamba`) and other hidden entries are skipped. A missing root
/// gives an empty list.
APPOSE_EXPORT std::vector<EnvironmentInfo> list_environments(
    const std::optional<std::filesystem::path>& root = std::nullopt);

/// The name of a state: "up to date", "modified", "no fingerprint".
APPOSE_EXPORT const char* to_string(EnvironmentState state) noexcept;

}  // namespace appose
