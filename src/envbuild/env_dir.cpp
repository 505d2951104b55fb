#include "envbuild/env_dir.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "appose/builder.hpp"
#include "appose/error.hpp"
#include "envbuild/fs_ops.hpp"
#include "platform/env_var.hpp"
#include "platform/home_dir.hpp"
#include "util/fs_util.hpp"
#include "util/read_file.hpp"

namespace fs = std::filesystem;

namespace appose {

fs::path envs_dir() {
  if (auto dir = detail::platform::env_var("APPOSE_ENVS_DIR"); dir && !dir->empty()) {
    return detail::utf8_path(*dir);
  }
  const std::string home = detail::platform::home_dir();
  if (home.empty()) {
    throw BuildException(
        "cannot tell where Appose keeps environments: HOME is not set; set APPOSE_ENVS_DIR");
  }
  return detail::utf8_path(home) / ".local" / "share" / "appose";
}

namespace detail {

bool appose_owns(const fs::path& dir) {
  return is_file(dir / kFingerprintFile) || path_exists(dir / kBuildingMarker) || is_empty_dir(dir);
}

std::optional<std::string> read_fingerprint(const fs::path& dir) {
  const fs::path file = dir / kFingerprintFile;
  if (!is_file(file)) return std::nullopt;
  std::optional<std::string> text = read_file(file);
  if (!text) throw BuildException(fmt::format("cannot read {}", detail::utf8_string(file)));
  return text;
}

bool has_fingerprint(const fs::path& dir, std::string_view fingerprint) {
  const std::optional<std::string> recorded = read_fingerprint(dir);
  return recorded && *recorded == fingerprint;
}

void remove_owned(const fs::path& dir) {
  if (!path_exists(dir)) return;
  if (!is_dir(dir)) {
    throw BuildException(
        fmt::format("{} is not a directory; Appose deletes only environment "
                    "directories it built",
                    detail::utf8_string(dir)));
  }
  if (!appose_owns(dir)) {
    throw BuildException(fmt::format(
        "refusing to delete {}: it holds no {}, so Appose did not build it; delete it yourself "
        "if you mean to",
        detail::utf8_string(dir), kFingerprintFile));
  }
  remove_tree(dir);
}

std::string detect_type(const fs::path& dir) {
  if (is_dir(dir / ".pixi") || is_file(dir / "pixi.toml")) return "pixi";
  if (is_dir(dir / "conda-meta")) return "mamba";
  // A `uv sync` project keeps its venv in .venv/.
  if (is_file(dir / "pyvenv.cfg") || is_file(dir / ".venv" / "pyvenv.cfg")) return "uv";
  return "custom";
}

}  // namespace detail

}  // namespace appose
