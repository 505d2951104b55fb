#pragma once

// appose.json: the record of what built an environment, byte-identical to appose-python 0.12's
// for the same configuration, so that either can tell whether the other's build is current.
// Internal.

#include <optional>
#include <string>

#include "envbuild/builder_config.hpp"

namespace appose::detail {

/// The appose.json text for `config` (a concrete builder: type resolved, scheme detected).
/// Compact JSON, ASCII only, keys in appose-python's order: builder, content, scheme,
/// channels, flags, envVars (sorted), then condaPackages/pypiPackages (pixi) or
/// pythonVersion/packages (uv).
std::string fingerprint_of(const BuilderConfig& config);

/// The configuration an appose.json records (for rebuilding a wrapped environment), or nullopt
/// if the text is not a fingerprint Appose could have written.
std::optional<BuilderConfig> config_from_fingerprint(const std::string& text);

}  // namespace appose::detail
