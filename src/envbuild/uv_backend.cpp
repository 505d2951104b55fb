// The uv back-end: a virtual environment made with `uv venv` and filled with `uv pip install`
// (a requirements.txt or a package list), or a project synced with `uv sync` (pyproject.toml).

#include <fmt/format.h>

#include "appose/error.hpp"
#include "envbuild/build_session.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/tool_backend.hpp"
#include "envbuild/validate.hpp"
#include "environment/host_os.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

/// Where a venv keeps its executables.
const char* bin_dir_name() {
  return venv_bin_dir(kHostOs);
}

/// The venv: the directory itself, or the `.venv` a `uv sync` project keeps it in.
fs::path uv_venv(const fs::path& dir) {
  return is_dir(dir / ".venv") ? dir / ".venv" : dir;
}

class UvBackend final : public ToolBackend {
 public:
  const char* type() const noexcept override { return "uv"; }
  ToolKind tool() const noexcept override { return ToolKind::uv; }
  bool launches_through_tool() const noexcept override { return false; }

  bool looks_built(const BuilderConfig& /*config*/, const fs::path& dir) const override {
    return is_file(uv_venv(dir) / "pyvenv.cfg") &&
           path_exists(uv_venv(dir) / bin_dir_name() / executable_name("python", kHostOs));
  }

  Environment environment(const BuilderConfig& c, const fs::path& dir, const fs::path& /*tool*/,
                          std::shared_ptr<EnvironmentOrigin> origin) const override {
    return EnvironmentAccess::make(detail::utf8_string(dir),
                                   {detail::utf8_string(uv_venv(dir) / bin_dir_name())}, {},
                                   c.env_vars, "uv", std::move(origin));
  }

  void build(Build& b) const override {
    const BuilderConfig& c = b.config();
    if (c.content && c.scheme->kind() == Scheme::Kind::pyproject_toml) {
      sync_project(b);
    } else {
      install_into_venv(b);
    }
  }

 private:
  /// pyproject.toml: written into the directory, then `uv sync` makes `.venv` from it.
  static void sync_project(Build& b) {
    const BuilderConfig& c = b.config();
    const fs::path& dir = b.dir();
    b.progress("Writing pyproject.toml", 0, 2);
    b.ensure_dir();
    b.write(dir / "pyproject.toml", *c.content);
    b.progress("Syncing the project (uv sync)", 1, 2);
    std::vector<std::string> args = {"sync"};
    if (c.python) {
      args.emplace_back("--python");
      args.push_back(*c.python);
    }
    b.run(args, dir);
  }

  /// requirements.txt or a package list: a venv made once (uv venv makes the directory), then
  /// `uv pip install` into it.
  static void install_into_venv(Build& b) {
    const BuilderConfig& c = b.config();
    const fs::path& dir = b.dir();
    const bool venv_built = is_file(dir / "pyvenv.cfg") || is_dir(dir / ".venv");
    const bool existed = path_exists(dir);
    if (!venv_built) {
      if (existed && !appose_owns(dir)) {
        throw BuildException(fmt::format(
            "refusing to make a virtual environment in {}: it is not empty and holds no {}; "
            "choose another name or directory",
            detail::utf8_string(dir), kFingerprintFile));
      }
      b.progress("Creating the virtual environment (uv venv)", 0, 2);
      std::vector<std::string> args = {"venv"};
      if (c.python) {
        args.emplace_back("--python");
        args.push_back(*c.python);
      }
      args.push_back(detail::utf8_string(dir));
      b.run(args);
      if (!existed) b.adopt_created();
    }
    if (c.content) {
      b.write(dir / "requirements.txt", *c.content);
      b.progress("Installing packages (uv pip install -r requirements.txt)", 1, 2);
      b.run({"pip", "install", "--python", detail::utf8_string(dir), "-r",
             detail::utf8_string(dir / "requirements.txt")});
    } else {
      std::vector<std::string> args = {"pip", "install", "--python", detail::utf8_string(dir)};
      args.insert(args.end(), c.packages.begin(), c.packages.end());
      // The worker imports appose: a venv without it could start no Python service at all.
      if (!names_appose(c.packages)) args.emplace_back("appose");
      b.progress("Installing packages (uv pip install)", 1, 2);
      b.run(args);
    }
  }
};

}  // namespace

const ToolBackend& uv_backend() noexcept {
  static const UvBackend backend;
  return backend;
}

}  // namespace appose::detail
