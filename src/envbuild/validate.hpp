#pragma once

// Checking a build before anything runs: everything that can be checked without a tool or the
// network, so that a mistake costs nothing. Internal.

#include <filesystem>
#include <string>
#include <vector>

#include "envbuild/builder_config.hpp"

namespace appose::detail {

/// Whether one of `specs` is the appose package (any version, extras, channel or case).
bool names_appose(const std::vector<std::string>& specs);

/// Checks a concrete configuration (see concrete()): the builder takes the content's scheme,
/// the content is valid and names appose, a package list or a file but not both, no option
/// another builder owns (channels(), environment()). BuildException or ConfigError saying what
/// to change.
void validate(const BuilderConfig& config);

/// Refuses (BuildException, naming both tools) to build with `type` in a directory another
/// tool manages: a venv, a conda prefix and a pixi project do not mix.
void check_not_foreign(const std::string& type, const std::filesystem::path& dir);

}  // namespace appose::detail
