#include "appose/catalog.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

#include "appose/builder.hpp"
#include "envbuild/builder_config.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/fingerprint.hpp"
#include "util/fs_util.hpp"
#include "util/read_file.hpp"

namespace fs = std::filesystem;

namespace appose {

namespace {

std::uintmax_t tree_size(const fs::path& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  // Symbolic links are counted as links, not followed: a venv links to its base interpreter,
  // and a pixi environment may hard-link the package cache (counted once per link, as du -l).
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code sec;
    const auto st = it->symlink_status(sec);
    if (!sec && fs::is_regular_file(st)) {
      const auto size = it->file_size(sec);
      if (!sec) total += size;
    }
  }
  return total;
}

/// The configuration file a build wrote into the directory for this scheme.
std::optional<fs::path> written_file(const detail::BuilderConfig& c, const fs::path& dir) {
  if (!c.scheme) return std::nullopt;
  return dir / std::string(c.scheme->name());
}

EnvironmentState state_of(const fs::path& dir, std::optional<std::string>& builder) {
  auto text = detail::read_file(dir / detail::kFingerprintFile);
  if (!text) return EnvironmentState::no_fingerprint;
  auto config = detail::config_from_fingerprint(*text);
  if (!config) return EnvironmentState::no_fingerprint;
  builder = config->type;
  // A build from content wrote that content into the directory; an edit since (or a tool that
  // rewrote it) means the environment no longer is what the fingerprint says.
  if (config->content) {
    if (auto file = written_file(*config, dir)) {
      auto now = detail::read_file(*file);
      if (!now || *now != *config->content) return EnvironmentState::modified;
    }
  }
  return EnvironmentState::up_to_date;
}

}  // namespace

std::vector<EnvironmentInfo> list_environments(const std::optional<fs::path>& root_in) {
  const fs::path root = root_in ? *root_in : envs_dir();
  std::vector<EnvironmentInfo> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (fs::directory_iterator it(root, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = detail::utf8_string(it->path().filename());
    if (name.empty() || name.front() == '.') continue;
    std::error_code sec;
    if (!it->is_directory(sec)) continue;
    EnvironmentInfo info;
    info.name = name;
    info.path = fs::absolute(it->path()).lexically_normal();
    info.type = detail::detect_type(info.path);
    info.size_bytes = tree_size(info.path);
    info.state = state_of(info.path, info.builder);
    std::error_code tec;
    const auto written = fs::last_write_time(info.path / detail::kFingerprintFile, tec);
    if (info.builder && !tec) {
      info.built = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          std::chrono::file_clock::to_sys(written));
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const EnvironmentInfo& a, const EnvironmentInfo& b) { return a.name < b.name; });
  return out;
}

const char* to_string(EnvironmentState state) noexcept {
  switch (state) {
    case EnvironmentState::up_to_date:
      return "up to date";
    case EnvironmentState::modified:
      return "modified";
    case EnvironmentState::no_fingerprint:
      return "no fingerprint";
  }
  return "unknown";
}

}  // namespace appose
