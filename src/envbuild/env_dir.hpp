#pragma once

// An environment directory as Appose sees it on disk: where environments live, which
// directories Appose may delete (the ones it built), the appose.json that says how, and which
// tool made a directory. Internal.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace appose::detail {

/// The fingerprint's file name in an environment directory.
inline constexpr const char* kFingerprintFile = "appose.json";
/// Present while Appose builds in a directory it created: a host killed mid-build leaves a
/// directory that a later build may wipe, although it holds no appose.json yet.
inline constexpr const char* kBuildingMarker = ".appose-building";

/// Whether Appose may delete `dir`: it built it (appose.json), was building it, or it is empty.
bool appose_owns(const std::filesystem::path& dir);

/// The appose.json in `dir`; nullopt when there is none. BuildException when it is there but
/// cannot be read.
std::optional<std::string> read_fingerprint(const std::filesystem::path& dir);

/// Whether `dir` holds an appose.json of exactly these bytes.
bool has_fingerprint(const std::filesystem::path& dir, std::string_view fingerprint);

/// Deletes `dir` if Appose owns it (see appose_owns()); refuses anything else with a
/// BuildException naming why. Nothing there: nothing to do.
void remove_owned(const std::filesystem::path& dir);

/// "pixi", "mamba", "uv" or "custom": what tool made `dir`, by the traces each leaves.
std::string detect_type(const std::filesystem::path& dir);

}  // namespace appose::detail
