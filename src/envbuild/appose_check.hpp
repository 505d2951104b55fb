#pragma once

// Whether a configuration installs the appose package its Python worker imports: an
// environment without it would build, look up to date, and fail every Python service. The
// checks read package specs as the formats do, so they are defined beside the format parsers,
// in scheme.cpp. Internal.

#include <optional>
#include <string>
#include <string_view>

#include "appose/scheme.hpp"

namespace appose::detail {

/// A package spec's distribution name, normalised as PyPI compares names (PEP 503: lowercase,
/// runs of `-_.` as one `-`), with a conda channel prefix (`conda-forge::appose`) dropped and
/// extras, versions and markers cut off.
std::string package_name(std::string_view spec);

/// Why `content` (already validated as `scheme`) would build an environment no Python worker
/// can start in: it installs Python or Python packages but names no `appose` package (conda or
/// PyPI, any version, extras, any case). The message ends with what to add, in that file's
/// syntax. nullopt when it names appose, installs no Python (a Java or native environment), or
/// lists packages Appose cannot see (`-r other.txt`, paths, URLs).
std::optional<std::string> missing_appose(const Scheme& scheme, std::string_view content);

}  // namespace appose::detail
