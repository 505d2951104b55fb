#pragma once

// Downloading and installing a build tool into the peers' cache under the environments root,
// so that appose-python, appose-java and appose-cpp download each tool once between them.
// Internal.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envbuild/tool.hpp"

namespace appose::detail {

/// Where a tool's official release for this platform is, and where its published checksum is.
struct ToolRelease {
  std::string url;
  std::optional<std::string> sha256_url;  ///< uv and pixi publish `<asset>.sha256`
};

/// The name of `kind`'s release asset for `os` on `cpu` (kHostCpu's spelling), or an empty
/// string when the tool publishes none there: pixi-<cpu>-unknown-linux-musl.tar.gz,
/// uv-<cpu>-unknown-linux-gnu.tar.gz, <tool>-<cpu>-apple-darwin.tar.gz,
/// <tool>-<cpu>-pc-windows-msvc.zip (pixi and uv); micromamba's conda platform name (its
/// archive is a .tar.bz2 conda package).
std::string release_asset(ToolKind kind, HostOs os, std::string_view cpu);

/// Where the executable is inside `kind`'s release for `os`, relative to the unpacked archive:
/// pixi(.exe) and uv(.exe) at the top (uv's Linux and macOS tarballs put it one folder down,
/// in uv-<triple>/, which install_tool() also looks in), micromamba at bin/micromamba or
/// Library\bin\micromamba.exe.
std::vector<std::filesystem::path> release_executables(ToolKind kind, HostOs os);

/// The release the peers 0.12 install: pixi v0.58.0 (the musl build on Linux), uv 0.9.5 (gnu),
/// micromamba "latest". `$APPOSE_<TOOL>_URL` replaces the URL (for mirrors and for tests); its
/// checksum is then looked for at `<url>.sha256` for uv and pixi. Throws BuildException for
/// platforms without a release.
ToolRelease tool_release(ToolKind kind);

/// What to do when `kind` is neither found nor downloadable, in that tool's own terms: how to
/// point Appose at an executable that exists (its variable, the builder's executable()), where
/// the peers' cache expects it, and how to let the download work (its `$APPOSE_<TOOL>_URL`).
std::string tool_missing_advice(ToolKind kind, const std::filesystem::path& root);

/// Downloads, verifies and installs the tool into `tool_cache_path(kind, root)` and returns that
/// path. The archive is fetched and unpacked in a staging directory under `root`, and the
/// executables are renamed into place last, so a failure (or a crash) leaves no half-installed
/// tool; a cross-process lock makes concurrent installers download once. `progress` gets
/// ("Downloading <tool>", bytes, content length). The stall timeout is
/// `$APPOSE_DOWNLOAD_TIMEOUT` seconds (default 60).
std::filesystem::path install_tool(
    ToolKind kind, const std::filesystem::path& root,
    const std::function<void(std::string_view, std::int64_t, std::int64_t)>& progress,
    const CancelState* cancel);

}  // namespace appose::detail
