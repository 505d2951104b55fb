#pragma once

// appose.json: the record of what built an environment, byte-identical to appose-python 0.12's
// for the same configuration, so that either can tell whether the other's build is current.
// Internal.

#include <filesystem>
#include <optional>
#include <string>

#include "build/builder_impl.hpp"

namespace appose::detail {

/// The appose.json text for `config` (a concrete builder: type resolved, scheme detected).
/// Compact JSON, ASCII only, keys in appose-python's order: builder, content, scheme,
/// channels, flags, envVars (sorted), then condaPackages/pypiPackages (pixi) or
/// pythonVersion/packages (uv).
std::string fingerprint_of(const BuilderConfig& config);

/// The configuration an appose.json records (for rebuilding a wrapped environment), or nullopt
/// if the text is not a fingerprint Appose could have written.
std::optional<BuilderConfig> config_from_fingerprint(const std::string& text);

/// A configuration file read as appose-python reads text: UTF-8 (BuildException naming the
/// file otherwise) with universal newlines (CRLF and lone CR become LF).
std::string read_text_file(const std::filesystem::path& path);
/// `text` with CRLF and lone CR turned into LF (Python's universal newlines).
std::string normalize_newlines(std::string_view text);

}  // namespace appose::detail
