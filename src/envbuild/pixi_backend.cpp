// The pixi back-end: a pixi project (pixi.toml or pyproject.toml written as given, an
// environment.yml imported with `pixi init --import`, or a package list added with
// `pixi add`), installed with `pixi install` and launched with `pixi run`.

#include <algorithm>

#include "envbuild/build_session.hpp"
#include "envbuild/pixi_monitor.hpp"
#include "envbuild/tool_backend.hpp"
#include "environment/host_os.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

/// The project's manifest: pyproject.toml when the project is one, else pixi.toml.
fs::path pixi_manifest(const fs::path& dir) {
  return is_file(dir / "pyproject.toml") ? dir / "pyproject.toml" : dir / "pixi.toml";
}

/// Whether `f` is one of pixi's global options (verbosity, colour, progress), which go before
/// the subcommand.
bool pixi_global_flag(std::string_view f) {
  if (f.size() >= 2 && f[0] == '-' && f[1] != '-') {
    // -v, -vv, -vvv, -q, -qq: pixi's verbosity switches
    return f.find_first_not_of(f[1], 1) == std::string_view::npos && (f[1] == 'v' || f[1] == 'q');
  }
  return f == "--verbose" || f == "--quiet" || f == "--no-progress" || f == "--color" ||
         f.rfind("--color=", 0) == 0;
}

/// Whether a stderr line is pixi's debug log (`  DEBUG target: ...`, optionally after a
/// timestamp) rather than something pixi tells its user (errors, warnings from the solver).
bool is_log_line(std::string_view line) {
  auto skip_spaces = [&] {
    while (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
  };
  skip_spaces();
  if (!line.empty() && line.front() >= '0' && line.front() <= '9') {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return false;
    line.remove_prefix(sp);
    skip_spaces();
  }
  for (std::string_view level : {"TRACE ", "DEBUG ", "INFO ", "WARN "}) {
    if (line.substr(0, level.size()) == level) return true;
  }
  return false;
}

/// Whether the user asked for pixi's verbose output themselves.
bool verbose_flag(const std::vector<std::string>& flags) {
  return std::any_of(flags.begin(), flags.end(), [](const std::string& f) {
    return f == "-v" || f == "-vv" || f == "-vvv" || f == "--verbose";
  });
}

/// `pixi project channel add` of the builder's channels to `manifest`, if it has any.
void add_channels(Build& b, const fs::path& manifest) {
  const BuilderConfig& c = b.config();
  if (c.channels.empty()) return;
  std::vector<std::string> args = {"project", "channel", "add", "--manifest-path",
                                   detail::utf8_string(manifest)};
  args.insert(args.end(), c.channels.begin(), c.channels.end());
  b.run(args);
}

class PixiBackend final : public ToolBackend {
 public:
  const char* type() const noexcept override { return "pixi"; }
  ToolKind tool() const noexcept override { return ToolKind::pixi; }
  bool launches_through_tool() const noexcept override { return true; }

  bool looks_built(const BuilderConfig& c, const fs::path& dir) const override {
    return is_dir(dir / ".pixi" / "envs" / c.pixi_environment.value_or("default"));
  }

  Environment environment(const BuilderConfig& c, const fs::path& dir, const fs::path& tool,
                          std::shared_ptr<EnvironmentOrigin> origin) const override {
    return pixi_environment(c, dir, tool, c.pixi_environment, std::move(origin));
  }

  void build(Build& b) const override {
    const BuilderConfig& c = b.config();
    const fs::path& dir = b.dir();
    if (c.content) {
      b.ensure_dir();
      const auto kind = c.scheme->kind();
      if (kind == Scheme::Kind::pixi_toml) {
        b.write(dir / "pixi.toml", *c.content);
      } else if (kind == Scheme::Kind::pyproject_toml) {
        b.write(dir / "pyproject.toml", *c.content);
      } else {
        b.write(dir / "environment.yml", *c.content);
        if (!path_exists(dir / "pixi.toml")) {
          b.progress("Importing environment.yml (pixi init --import)", 0, 3);
          b.run({"init", "--import", detail::utf8_string(dir / "environment.yml"),
                 detail::utf8_string(dir)});
        }
      }
      add_channels(b, dir / "pixi.toml");
    } else {
      b.fresh_dir();
      b.progress("Creating the project (pixi init)", 0, 3);
      b.run({"init", detail::utf8_string(dir)});
      const std::string manifest = detail::utf8_string(dir / "pixi.toml");
      add_channels(b, manifest);
      b.progress("Adding packages (pixi add)", 1, 3);
      if (!c.conda.empty()) {
        std::vector<std::string> args = {"add", "--manifest-path", manifest};
        args.insert(args.end(), c.conda.begin(), c.conda.end());
        b.run(args);
      }
      if (!c.pypi.empty()) {
        std::vector<std::string> args = {"add", "--pypi", "--manifest-path", manifest};
        args.insert(args.end(), c.pypi.begin(), c.pypi.end());
        b.run(args);
      }
    }
    install(b);
  }

  /// The builder's flags go right after the executable, as the peers put them, except for
  /// pixi: it takes only its global options there (`-v`, `-q`, `--color`, `--no-progress`) and
  /// rejects subcommand options such as `--frozen` or `--locked`, which therefore go after the
  /// `install` subcommand (the one command they are meant for) and nowhere else.
  void place_flags(std::vector<std::string>& argv, const std::vector<std::string>& flags,
                   const std::vector<std::string>& args) const override {
    std::vector<std::string> local;
    for (const auto& f : flags) {
      if (pixi_global_flag(f)) {
        argv.push_back(f);
      } else {
        local.push_back(f);
      }
    }
    argv.insert(argv.end(), args.begin(), args.end());
    auto sub = std::find_if(args.begin(), args.end(),
                            [](const std::string& a) { return a.empty() || a.front() != '-'; });
    if (sub != args.end() && *sub == "install") {
      argv.insert(argv.end(), local.begin(), local.end());
    }
  }

 private:
  /// `pixi install`, with its phases reported when anyone listens for progress.
  static void install(Build& b) {
    const BuilderConfig& c = b.config();
    const fs::path& dir = b.dir();
    b.progress("Installing (pixi install)", 2, 3);
    const bool monitored = !c.progress.empty();
    const bool verbose = verbose_flag(c.flags);
    // Built front to back: GCC 12 at -O3 reports a false null dereference in vector::insert.
    // Phases come from pixi's debug log (-vv), as appose-java reads them. That log is pixi
    // talking to itself: it reaches the error subscribers only if the caller asked for
    // verbosity.
    std::vector<std::string> args;
    if (monitored && !verbose) args.emplace_back("-vv");
    args.emplace_back("install");
    args.emplace_back("--manifest-path");
    args.push_back(detail::utf8_string(pixi_manifest(dir)));
    if (c.pixi_environment) {
      args.emplace_back("--environment");
      args.push_back(*c.pixi_environment);
    }
    if (!monitored) {
      b.run(args);
      return;
    }
    PixiInstallMonitor monitor(
        dir, c.pixi_environment.value_or("default"),
        [&b](std::string_view t, std::int64_t cur, std::int64_t max) { b.progress(t, cur, max); });
    b.run(args, {}, [&](std::string_view line) {
      monitor.line(line);
      return verbose || !is_log_line(line);
    });
  }

  /// The environment `env_name` (default: "default") of the project in `dir`, launched with
  /// `pixi run`; without `pixi`, its bin directory alone. With an origin, activate(name)
  /// installs the named environment with the same tool and settings.
  static Environment pixi_environment(const BuilderConfig& c, const fs::path& dir,
                                      const fs::path& pixi,
                                      const std::optional<std::string>& env_name,
                                      std::shared_ptr<EnvironmentOrigin> origin) {
    std::vector<std::string> bins;
    for (const fs::path& bin :
         conda_bin_dirs(dir / ".pixi" / "envs" / env_name.value_or("default"), kHostOs)) {
      bins.push_back(detail::utf8_string(bin));
    }
    if (pixi.empty()) {
      return EnvironmentAccess::make(detail::utf8_string(dir), std::move(bins), {}, c.env_vars,
                                     "pixi", std::move(origin));
    }
    std::vector<std::string> launch = {detail::utf8_string(pixi), "run", "--manifest-path",
                                       detail::utf8_string(pixi_manifest(dir))};
    if (env_name) {
      launch.emplace_back("--environment");
      launch.push_back(*env_name);
    }
    if (origin) {
      origin->activator = [c, dir, pixi, remove = origin->remove,
                           rebuild = origin->rebuild](const std::string& name) {
        BuilderConfig cfg = c;
        cfg.executable = pixi;
        Build b(cfg, dir, pixi_backend());
        b.run({"install", "--manifest-path", detail::utf8_string(pixi_manifest(dir)),
               "--environment", name});
        auto sub = std::make_shared<EnvironmentOrigin>();
        sub->remove = remove;
        sub->rebuild = rebuild;
        return pixi_environment(cfg, dir, pixi, name, sub);
      };
    }
    return EnvironmentAccess::make(detail::utf8_string(dir), std::move(bins), std::move(launch),
                                   c.env_vars, "pixi", std::move(origin));
  }
};

}  // namespace

const ToolBackend& pixi_backend() noexcept {
  static const PixiBackend backend;
  return backend;
}

}  // namespace appose::detail
