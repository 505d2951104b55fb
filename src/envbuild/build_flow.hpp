#pragma once

// The one build flow every builder follows, whatever its tool: lock the directory, find it up
// to date or build it with the tool's back-end, record appose.json, and clean up after a
// failure. Internal.

#include <filesystem>
#include <memory>

#include "appose/environment.hpp"
#include "envbuild/builder_config.hpp"
#include "environment/environment_access.hpp"

namespace appose::detail {

/// Builds (or finds up to date) what `config` describes.
Environment build(const BuilderConfig& config);

/// Deletes the directory `config` builds in, if Appose built it, under the build lock.
void remove(const BuilderConfig& config);

/// The origin of an environment `config` built in `dir`: remove() deletes `dir` (if Appose
/// owns it), rebuild() deletes it and builds `config` again.
std::shared_ptr<EnvironmentOrigin> origin_for(const BuilderConfig& config,
                                              const std::filesystem::path& dir);

}  // namespace appose::detail
