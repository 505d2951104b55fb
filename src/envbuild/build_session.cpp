#include "envbuild/build_session.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <system_error>

#include "appose/builder.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/fs_ops.hpp"
#include "envbuild/install.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

Build::Build(const BuilderConfig& config, fs::path dir, const ToolBackend& backend)
    : c_(config), dir_(std::move(dir)), backend_(backend), existed_(path_exists(dir_)) {}

void Build::progress(std::string_view title, std::int64_t current, std::int64_t maximum) const {
  for (const auto& f : c_.progress)
    f(title, current, maximum);
}

const fs::path& Build::tool() {
  if (!tool_.empty()) return tool_;
  const ToolKind kind = backend_.tool();
  const fs::path root = envs_dir();
  auto found = locate_tool(kind, c_.executable, root);
  if (!found) {
    try {
      found = install_tool(
          kind, root,
          [this](std::string_view title, std::int64_t cur, std::int64_t max) {
            progress(title, cur, max);
          },
          c_.cancel.get());
    } catch (const BuildException& e) {
      throw BuildException(fmt::format(
          "{0} is not installed (looked at ${1}, {2} and on PATH) and downloading it failed: "
          "{3}. To fix: {4}",
          tool_name(kind), tool_env_var(kind), detail::utf8_string(tool_cache_path(kind, root)),
          e.what(), tool_missing_advice(kind, root)));
    }
  }
  tool_ = *found;
  return tool_;
}

fs::path Build::tool_cwd() const {
  // The tools run in the environments root (created if needed), never in the user's current
  // directory, where a stray pixi.toml or .python-version would change what they do.
  fs::path root = envs_dir();
  std::error_code ec;
  fs::create_directories(root, ec);
  if (is_dir(root)) return root;
  return dir_.parent_path();
}

void Build::run(const std::vector<std::string>& args, const fs::path& cwd,
                const ErrorFilter& errors) {
  ToolCommand cmd;
  cmd.argv.push_back(detail::utf8_string(tool()));
  backend_.place_flags(cmd.argv, c_.flags, args);
  cmd.cwd = cwd.empty() ? tool_cwd() : cwd;
  cmd.env = c_.env_vars;
  const std::string shown = fmt::format("{}", fmt::join(cmd.argv, " "));
  if (c_.cancel->canceled()) throw canceled(shown);
  ToolResult r = run_tool(
      cmd,
      [&](std::string_view line) {
        for (const auto& f : c_.output)
          f(line);
      },
      [&](std::string_view line) {
        if (errors && !errors(line)) return;
        for (const auto& f : c_.error)
          f(line);
      },
      c_.cancel.get());
  if (r.canceled) throw canceled(shown);
  if (r.exit_code != 0) {
    throw tool_failure(fmt::format("{} build of {} failed", c_.type, detail::utf8_string(dir_)),
                       cmd, r);
  }
}

BuildException Build::canceled(const std::string& shown) const {
  return BuildException(fmt::format("{} build of {} was canceled (during `{}`)", c_.type,
                                    detail::utf8_string(dir_), shown));
}

void Build::ensure_dir() {
  if (path_exists(dir_)) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw BuildException(
        fmt::format("cannot create {}: {}", detail::utf8_string(dir_), ec.message()));
  }
  adopt_created();
}

void Build::fresh_dir() {
  if (path_exists(dir_)) {
    if (!appose_owns(dir_)) {
      throw BuildException(fmt::format(
          "refusing to replace {}: it is not empty and holds no {}, so Appose did not build "
          "it; choose another name or directory",
          detail::utf8_string(dir_), kFingerprintFile));
    }
    remove_tree(dir_);
  }
  ensure_dir();
}

void Build::adopt_created() {
  created_ = !existed_;
  mark();
}

void Build::mark() const {
  std::ofstream(dir_ / kBuildingMarker).put('\n');
}

void Build::write(const fs::path& file, std::string_view text) const {
  write_file_atomic(file, text);
}

void Build::finish(std::string_view fingerprint) const {
  write_file_atomic(dir_ / kFingerprintFile, fingerprint);
  std::error_code ec;
  fs::remove(dir_ / kBuildingMarker, ec);
  progress("Done", 1, 1);
}

void Build::abandon() const noexcept {
  std::error_code ec;
  if (created_) {
    fs::remove_all(dir_, ec);
  } else if (existed_ && !path_exists(dir_)) {
    fs::create_directories(dir_, ec);
  }
}

}  // namespace appose::detail
