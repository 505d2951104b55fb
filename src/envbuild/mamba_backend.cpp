// The micromamba back-end: a conda prefix made with `micromamba create` and filled from an
// environment.yml with `micromamba env update`, launched with `micromamba run`; without an
// environment.yml, an existing prefix is only opened.

#include <fmt/format.h>

#include <system_error>

#include "appose/error.hpp"
#include "envbuild/build_session.hpp"
#include "envbuild/tool_backend.hpp"
#include "environment/host_os.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

class MambaBackend final : public ToolBackend {
 public:
  const char* type() const noexcept override { return "mamba"; }
  ToolKind tool() const noexcept override { return ToolKind::micromamba; }
  bool launches_through_tool() const noexcept override { return true; }

  bool looks_built(const BuilderConfig& /*config*/, const fs::path& dir) const override {
    return is_dir(dir / "conda-meta");
  }

  std::optional<Environment> without_build(
      const BuilderConfig& c, const fs::path& dir, const fs::path& tool,
      std::shared_ptr<EnvironmentOrigin> origin) const override {
    if (c.content) return std::nullopt;
    if (is_dir(dir / "conda-meta")) return environment(c, dir, tool, std::move(origin));
    throw BuildException(fmt::format(
        "nothing to build in {}: give the micromamba builder an environment.yml with file() or "
        "content()",
        detail::utf8_string(dir)));
  }

  Environment environment(const BuilderConfig& c, const fs::path& dir, const fs::path& tool,
                          std::shared_ptr<EnvironmentOrigin> origin) const override {
    std::vector<std::string> launch;
    if (!tool.empty()) launch = {detail::utf8_string(tool), "run", "-p", detail::utf8_string(dir)};
    std::vector<std::string> bins;
    for (const fs::path& bin : conda_bin_dirs(dir, kHostOs))
      bins.push_back(detail::utf8_string(bin));
    return EnvironmentAccess::make(detail::utf8_string(dir), std::move(bins), std::move(launch),
                                   c.env_vars, "mamba", std::move(origin));
  }

  void build(Build& b) const override {
    const BuilderConfig& c = b.config();
    const fs::path& dir = b.dir();
    b.fresh_dir();
    // micromamba create wants to make the prefix itself.
    std::error_code ec;
    fs::remove_all(dir, ec);
    b.progress("Creating the prefix (micromamba create)", 0, 2);
    b.run({"create", "--prefix", detail::utf8_string(dir), "-y", "--no-rc"});
    b.adopt_created();
    b.write(dir / "environment.yml", *c.content);
    b.progress("Installing packages (micromamba env update)", 1, 2);
    // --no-rc here too: a user's .condarc must not add channels to what the file says.
    b.run({"env", "update", "-y", "--no-rc", "--prefix", detail::utf8_string(dir), "-f",
           detail::utf8_string(dir / "environment.yml")});
  }
};

}  // namespace

const ToolBackend& mamba_backend() noexcept {
  static const MambaBackend backend;
  return backend;
}

}  // namespace appose::detail
