#include "appose/builder.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "appose/error.hpp"
#include "build/builder_impl.hpp"
#include "build/download.hpp"
#include "build/fingerprint.hpp"
#include "build/install.hpp"
#include "build/pixi_monitor.hpp"
#include "build/tool.hpp"
#include "codec.hpp"
#include "platform/dir_lock.hpp"

namespace fs = std::filesystem;

namespace appose {

fs::path envs_dir() {
  if (const char* dir = std::getenv("APPOSE_ENVS_DIR"); dir != nullptr && *dir != '\0') {
    return fs::path(dir);
  }
  const char* home = std::getenv("HOME");
  std::string home_dir;
  if (home != nullptr && *home != '\0') {
    home_dir = home;
  } else {
    // A service account without HOME still has a home directory in the password database.
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
      home_dir = found->pw_dir;
    }
  }
  if (home_dir.empty()) {
    throw BuildException(
        "cannot tell where Appose keeps environments: HOME is not set; set APPOSE_ENVS_DIR");
  }
  return fs::path(home_dir) / ".local" / "share" / "appose";
}

namespace detail {

BuilderConfig::BuilderConfig(const BuilderConfig& other)
    : type(other.type),
      dynamic_type(other.dynamic_type),
      name(other.name),
      base(other.base),
      content(other.content),
      content_origin(other.content_origin),
      scheme(other.scheme),
      source_scheme(other.source_scheme),
      channels(other.channels),
      flags(other.flags),
      env_vars(other.env_vars),
      executable(other.executable),
      progress(other.progress),
      output(other.output),
      error(other.error),
      conda(other.conda),
      pypi(other.pypi),
      pixi_environment(other.pixi_environment),
      python(other.python),
      packages(other.packages) {}

BuilderConfig& BuilderConfig::operator=(const BuilderConfig& other) {
  if (this != &other) {
    BuilderConfig copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Environment EnvironmentAccess::make(std::string base, std::vector<std::string> bin_paths,
                                    std::vector<std::string> launch_args,
                                    std::map<std::string, std::string> env_vars, std::string type,
                                    std::shared_ptr<const EnvironmentOrigin> origin) {
  Environment env(std::move(base), std::move(bin_paths), std::move(launch_args),
                  std::move(env_vars));
  env.type_ = std::move(type);
  env.origin_ = std::move(origin);
  return env;
}

namespace {

constexpr const char* kFingerprintFile = "appose.json";
// Present while Appose builds in a directory it created: a host killed mid-build leaves a
// directory that a later build may wipe, although it holds no appose.json yet.
constexpr const char* kBuildingMarker = ".appose-building";

std::string ascii_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return lower;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BuildException(fmt::format("cannot read {}", path.string()));
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Writes through a temporary and a rename, so that a reader (or a crash) never sees half a
/// file: a torn appose.json would make a broken environment look up to date.
void write_file_atomic(const fs::path& path, std::string_view text) {
  fs::path tmp = path;
  tmp += fmt::format(".tmp{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw BuildException(fmt::format("cannot write {}", tmp.string()));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) throw BuildException(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw BuildException(fmt::format("cannot write {}: {}", path.string(), ec.message()));
  }
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

bool is_empty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

/// Whether Appose may delete `dir`: it built it (appose.json), was building it, or it is empty.
bool appose_owns(const fs::path& dir) {
  return is_file(dir / kFingerprintFile) || path_exists(dir / kBuildingMarker) || is_empty_dir(dir);
}

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    throw BuildException(
        fmt::format("cannot delete {}: {}; delete it by hand", dir.string(), ec.message()));
  }
}

/// Whether `dir` holds an appose.json of exactly these bytes.
bool has_fingerprint(const fs::path& dir, std::string_view fingerprint) {
  return is_file(dir / kFingerprintFile) && read_file(dir / kFingerprintFile) == fingerprint;
}

/// Deletes `dir` if Appose owns it; refuses anything else, naming why.
void remove_owned(const fs::path& dir) {
  if (!path_exists(dir)) return;
  if (!is_dir(dir)) {
    throw BuildException(
        fmt::format("{} is not a directory; Appose deletes only environment "
                    "directories it built",
                    dir.string()));
  }
  if (!appose_owns(dir)) {
    throw BuildException(fmt::format(
        "refusing to delete {}: it holds no {}, so Appose did not build it; delete it yourself "
        "if you mean to",
        dir.string(), kFingerprintFile));
  }
  remove_tree(dir);
}

std::string absolute_string(const fs::path& p) {
  auto abs = fs::absolute(p).lexically_normal();
  if (abs.has_relative_path() && !abs.has_filename()) abs = abs.parent_path();
  return abs.string();
}

/// The content's scheme: scheme() if given; else the one a file name that is the format's own
/// gives (`requirements.txt`...); else the one detected from the content, as the peers detect
/// it; else the one a vaguer file name (`deps.txt`) suggests.
std::optional<Scheme> effective_scheme(const BuilderConfig& c) {
  if (c.scheme) return c.scheme;
  if (!c.content) return std::nullopt;
  if (c.source_scheme && c.source_scheme->certain) return c.source_scheme->scheme;
  if (c.source_scheme) {
    try {
      return Scheme::from_content(*c.content);
    } catch (const BuildException&) {
      return c.source_scheme->scheme;  // e.g. a deps.txt that starts with a comment
    }
  }
  return Scheme::from_content(*c.content);
}

/// The builder type that will do the work: the builder's own, or the one a dynamic builder's
/// scheme routes to (pixi for pixi.toml, pyproject.toml and environment.yml; uv for
/// requirements.txt: the peers' priorities).
std::string resolve_type(const BuilderConfig& c) {
  if (c.type != "dynamic") return c.type;
  if (c.dynamic_type) {
    const std::string t = ascii_lower(*c.dynamic_type);
    if (t != "pixi" && t != "mamba" && t != "uv") {
      throw BuildException(fmt::format("unknown builder \"{}\"; use \"pixi\", \"mamba\" or \"uv\"",
                                       *c.dynamic_type));
    }
    return t;
  }
  std::optional<Scheme> scheme = effective_scheme(c);
  if (!scheme) {
    throw BuildException(
        "nothing to build from: give file(), content() or scheme(), or use a typed builder "
        "(pixi(), mamba(), uv())");
  }
  return scheme->kind() == Scheme::Kind::requirements_txt ? "uv" : "pixi";
}

fs::path resolve_dir(const BuilderConfig& c) {
  if (c.base) return fs::path(absolute_string(*c.base));
  std::optional<std::string> name = c.name;
  if (!name && c.content) {
    if (auto scheme = effective_scheme(c)) name = scheme->env_name(*c.content);
  }
  if (!name || name->empty()) {
    throw BuildException(
        "no environment name: pass one to name() or build(name), or a directory to base(), or "
        "use content that declares a name");
  }
  if (*name == "." || *name == ".." || name->find('/') != std::string::npos) {
    throw BuildException(fmt::format(
        "\"{}\" is not an environment name; pass a directory to base() instead", *name));
  }
  return envs_dir() / *name;
}

BuilderConfig concrete(const BuilderConfig& c) {
  BuilderConfig r = c;
  r.type = resolve_type(c);
  r.cancel = c.cancel;  // the caller's cancel() must reach the build
  r.scheme = effective_scheme(c);
  return r;
}

bool names_appose(const std::vector<std::string>& specs) {
  return std::any_of(specs.begin(), specs.end(),
                     [](const std::string& s) { return package_name(s) == "appose"; });
}

/// Everything that can be checked without a tool or the network, so that a mistake costs
/// nothing.
void validate(const BuilderConfig& c) {
  const std::string& type = c.type;
  if (c.content) {
    const Scheme scheme = *c.scheme;
    const auto k = scheme.kind();
    bool supported = false;
    if (type == "pixi") {
      supported = k != Scheme::Kind::requirements_txt;
    } else if (type == "uv") {
      supported = k == Scheme::Kind::requirements_txt || k == Scheme::Kind::pyproject_toml;
    } else if (type == "mamba") {
      supported = k == Scheme::Kind::environment_yml;
    }
    if (!supported) {
      throw BuildException(fmt::format(
          "the {} builder cannot build from {}: pixi takes pixi.toml, pyproject.toml and "
          "environment.yml, uv takes requirements.txt and pyproject.toml, micromamba takes "
          "environment.yml",
          type, scheme.name()));
    }
    scheme.validate(*c.content, c.content_origin);
    // A file, unlike a package list, gets no `appose` added (the peers add none either): an
    // environment without it would build, look up to date, and fail every Python service.
    if (auto problem = missing_appose(scheme, *c.content)) throw BuildException(*problem);
    if (!c.conda.empty() || !c.pypi.empty() || !c.packages.empty()) {
      throw BuildException(fmt::format(
          "both a {} and a package list were given; a build uses one or the other: put the "
          "packages in the file, or drop file()/content()",
          scheme.name()));
    }
  } else if (c.scheme) {
    throw BuildException(
        fmt::format("scheme(\"{}\") was given without content(); give the {} "
                    "with file() or content()",
                    c.scheme->name(), c.scheme->name()));
  }
  if (type == "uv" && !c.channels.empty()) {
    throw BuildException(
        "the uv builder takes no channels(); name package indexes in the requirements.txt "
        "(--index-url, --extra-index-url) or pyproject.toml instead");
  }
  if (type == "mamba" && !c.channels.empty()) {
    throw BuildException(
        "the micromamba builder takes no channels(); list them under `channels:` in the "
        "environment.yml instead");
  }
  if (type != "pixi" && c.pixi_environment) {
    throw BuildException("environment() names a pixi environment; only the pixi builder has them");
  }
  if (type == "pixi" && !c.content) {
    if (c.conda.empty() && c.pypi.empty()) {
      throw BuildException(
          "nothing to build: give the pixi builder a file()/content(), or packages with conda() "
          "or pypi() (including \"appose\")");
    }
    if (!names_appose(c.conda) && !names_appose(c.pypi)) {
      throw BuildException(
          "the package list does not include appose, which the worker needs: add "
          "conda({\"appose\"}) or pypi({\"appose\"})");
    }
  }
  if (type == "mamba" && !c.content) {
    // Allowed only to open an existing conda prefix; checked against the directory later.
  }
}

/// Refuses a directory another tool manages, naming both.
void check_not_foreign(const std::string& type, const fs::path& dir) {
  auto refuse = [&](const char* other, const char* marker) {
    throw BuildException(fmt::format(
        "cannot build with {} in {}: {} manages it ({} found); choose another name or directory, "
        "or remove it first",
        type, dir.string(), other, marker));
  };
  const bool pixi = is_dir(dir / ".pixi");
  const bool conda = is_dir(dir / "conda-meta");
  const bool venv = path_exists(dir / "pyvenv.cfg");
  if (type == "uv") {
    if (pixi) refuse("pixi", ".pixi/");
    if (conda) refuse("conda/micromamba", "conda-meta/");
  } else if (type == "pixi") {
    if (conda && !pixi) refuse("conda/micromamba", "conda-meta/");
    if (venv) refuse("uv/venv", "pyvenv.cfg");
  } else if (type == "mamba") {
    if (pixi) refuse("pixi", ".pixi/");
    if (venv) refuse("uv/venv", "pyvenv.cfg");
  }
}

const char* bin_dir_name() {
  return "bin";
}

ToolKind tool_kind(const std::string& type) {
  if (type == "pixi") return ToolKind::pixi;
  if (type == "mamba") return ToolKind::micromamba;
  return ToolKind::uv;
}

/// One build in progress: the located tool, the subscribers, and the directory bookkeeping.
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

class Build {
 public:
  Build(const BuilderConfig& config, fs::path dir)
      : c_(config), dir_(std::move(dir)), existed_(path_exists(dir_)) {}

  const BuilderConfig& config() const { return c_; }
  const fs::path& dir() const { return dir_; }

  void progress(std::string_view title, std::int64_t current, std::int64_t maximum) const {
    for (const auto& f : c_.progress)
      f(title, current, maximum);
  }

  /// Finds the tool, or downloads it into the peers' cache when it is nowhere to be found.
  const fs::path& tool() {
    if (!tool_.empty()) return tool_;
    const ToolKind kind = tool_kind(c_.type);
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
            tool_name(kind), tool_env_var(kind), tool_cache_path(kind, root).string(), e.what(),
            tool_missing_advice(kind, root)));
      }
    }
    tool_ = *found;
    return tool_;
  }

  /// The tools run in the environments root (created if needed), never in the user's current
  /// directory, where a stray pixi.toml or .python-version would change what they do.
  fs::path tool_cwd() const {
    fs::path root = envs_dir();
    std::error_code ec;
    fs::create_directories(root, ec);
    if (is_dir(root)) return root;
    return dir_.parent_path();
  }

  /// Runs `<tool> <flags> <args>` and throws BuildException with the tool's error output if it
  /// fails. `monitor` (pixi install) sees every stderr line; without `forward_errors`, pixi's
  /// debug-log lines stop there and only what pixi says to its user reaches the subscribers.
  void run(const std::vector<std::string>& args, const fs::path& cwd = {},
           PixiInstallMonitor* monitor = nullptr, bool forward_errors = true) {
    ToolCommand cmd;
    cmd.argv.push_back(tool().string());
    place_flags(cmd.argv, args);
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
          if (monitor != nullptr) monitor->line(line);
          if (!forward_errors && is_log_line(line)) return;
          for (const auto& f : c_.error)
            f(line);
        },
        c_.cancel.get());
    if (r.canceled) throw canceled(shown);
    if (r.exit_code != 0) {
      throw tool_failure(fmt::format("{} build of {} failed", c_.type, dir_.string()), cmd, r);
    }
  }

  /// The builder's flags go right after the executable, as the peers put them, except for
  /// pixi: it takes only its global options there (`-v`, `-q`, `--color`, `--no-progress`) and
  /// rejects subcommand options such as `--frozen` or `--locked`, which therefore go after the
  /// `install` subcommand (the one command they are meant for) and nowhere else.
  void place_flags(std::vector<std::string>& argv, const std::vector<std::string>& args) const {
    if (c_.type != "pixi") {
      argv.insert(argv.end(), c_.flags.begin(), c_.flags.end());
      argv.insert(argv.end(), args.begin(), args.end());
      return;
    }
    std::vector<std::string> local;
    for (const auto& f : c_.flags) {
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

  /// Whether the user asked for pixi's verbose output themselves.
  bool verbose_flag() const {
    return std::any_of(c_.flags.begin(), c_.flags.end(), [](const std::string& f) {
      return f == "-v" || f == "-vv" || f == "-vvv" || f == "--verbose";
    });
  }

  BuildException canceled(const std::string& shown) const {
    return BuildException(
        fmt::format("{} build of {} was canceled (during `{}`)", c_.type, dir_.string(), shown));
  }

  /// Creates the directory if it is missing, remembering whether this build made it.
  void ensure_dir() {
    if (path_exists(dir_)) return;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      throw BuildException(fmt::format("cannot create {}: {}", dir_.string(), ec.message()));
    }
    adopt_created();
  }

  /// Wipes an Appose-owned directory and starts it anew.
  void fresh_dir() {
    if (path_exists(dir_)) {
      if (!appose_owns(dir_)) {
        throw BuildException(fmt::format(
            "refusing to replace {}: it is not empty and holds no {}, so Appose did not build "
            "it; choose another name or directory",
            dir_.string(), kFingerprintFile));
      }
      remove_tree(dir_);
    }
    ensure_dir();
  }

  /// Notes that the directory now exists by this build's doing (it, or a tool, made it). A
  /// directory that was there before the build stays the caller's.
  void adopt_created() {
    created_ = !existed_;
    mark();
  }

  void mark() const { std::ofstream(dir_ / kBuildingMarker).put('\n'); }

  /// Writes the fingerprint and drops the building marker: the build is complete.
  void finish(std::string_view fingerprint) const {
    write_file_atomic(dir_ / kFingerprintFile, fingerprint);
    std::error_code ec;
    fs::remove(dir_ / kBuildingMarker, ec);
    progress("Done", 1, 1);
  }

  /// After a failure: a directory this build created goes again; one that existed before
  /// stays (emptied, if the build had to start from scratch; its marker keeps it Appose's).
  void abandon() const noexcept {
    std::error_code ec;
    if (created_) {
      fs::remove_all(dir_, ec);
    } else if (existed_ && !path_exists(dir_)) {
      fs::create_directories(dir_, ec);
    }
  }

  void write(const fs::path& file, std::string_view text) const { write_file_atomic(file, text); }

 private:
  const BuilderConfig& c_;
  fs::path dir_;
  fs::path tool_;
  bool existed_;
  bool created_ = false;
};

std::shared_ptr<EnvironmentOrigin> origin_for(const BuilderConfig& c, const fs::path& dir) {
  auto origin = std::make_shared<EnvironmentOrigin>();
  origin->config = std::make_shared<BuilderConfig>(c);
  origin->dir = dir;
  return origin;
}

// ---- uv ---------------------------------------------------------------------------------

fs::path uv_venv(const fs::path& dir) {
  return is_dir(dir / ".venv") ? dir / ".venv" : dir;
}

Environment uv_environment(const BuilderConfig& c, const fs::path& dir,
                           std::shared_ptr<EnvironmentOrigin> origin) {
  return EnvironmentAccess::make(dir.string(), {(uv_venv(dir) / bin_dir_name()).string()}, {},
                                 c.env_vars, "uv", std::move(origin));
}

bool uv_looks_built(const fs::path& dir) {
  return is_file(uv_venv(dir) / "pyvenv.cfg") &&
         path_exists(uv_venv(dir) / bin_dir_name() / "python");
}

void uv_build(Build& b) {
  const BuilderConfig& c = b.config();
  const fs::path& dir = b.dir();
  const bool venv_built = is_file(dir / "pyvenv.cfg") || is_dir(dir / ".venv");
  auto venv_args = [&] {
    std::vector<std::string> args = {"venv"};
    if (c.python) {
      args.emplace_back("--python");
      args.push_back(*c.python);
    }
    args.push_back(dir.string());
    return args;
  };
  if (c.content && c.scheme->kind() == Scheme::Kind::pyproject_toml) {
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
    return;
  }
  const bool existed = path_exists(dir);
  if (!venv_built) {
    if (existed && !appose_owns(dir)) {
      throw BuildException(fmt::format(
          "refusing to make a virtual environment in {}: it is not empty and holds no {}; "
          "choose another name or directory",
          dir.string(), kFingerprintFile));
    }
    b.progress("Creating the virtual environment (uv venv)", 0, 2);
    b.run(venv_args());
    if (!existed) b.adopt_created();
  }
  if (c.content) {
    b.write(dir / "requirements.txt", *c.content);
    b.progress("Installing packages (uv pip install -r requirements.txt)", 1, 2);
    b.run({"pip", "install", "--python", dir.string(), "-r", (dir / "requirements.txt").string()});
  } else {
    std::vector<std::string> args = {"pip", "install", "--python", dir.string()};
    args.insert(args.end(), c.packages.begin(), c.packages.end());
    // The worker imports appose: a venv without it could start no Python service at all.
    if (!names_appose(c.packages)) args.emplace_back("appose");
    b.progress("Installing packages (uv pip install)", 1, 2);
    b.run(args);
  }
}

// ---- pixi -------------------------------------------------------------------------------

fs::path pixi_manifest(const fs::path& dir) {
  return is_file(dir / "pyproject.toml") ? dir / "pyproject.toml" : dir / "pixi.toml";
}

Environment pixi_environment(const BuilderConfig& c, const fs::path& dir, const fs::path& pixi,
                             const std::optional<std::string>& env_name,
                             std::shared_ptr<EnvironmentOrigin> origin) {
  const std::string manifest = pixi_manifest(dir).string();
  std::vector<std::string> launch = {pixi.string(), "run", "--manifest-path", manifest};
  if (env_name) {
    launch.emplace_back("--environment");
    launch.push_back(*env_name);
  }
  const fs::path bin = dir / ".pixi" / "envs" / env_name.value_or("default") / "bin";
  if (origin) {
    // activate(name) installs the named environment with the same tool and settings.
    origin->activator = [c, dir, pixi, origin_config = origin->config,
                         origin_dir = origin->dir](const std::string& name) {
      BuilderConfig cfg = c;
      cfg.executable = pixi;
      Build b(cfg, dir);
      b.run({"install", "--manifest-path", pixi_manifest(dir).string(), "--environment", name});
      auto sub = std::make_shared<EnvironmentOrigin>();
      sub->config = origin_config;
      sub->dir = origin_dir;
      return pixi_environment(cfg, dir, pixi, name, sub);
    };
  }
  return EnvironmentAccess::make(dir.string(), {bin.string()}, std::move(launch), c.env_vars,
                                 "pixi", std::move(origin));
}

bool pixi_looks_built(const BuilderConfig& c, const fs::path& dir) {
  return is_dir(dir / ".pixi" / "envs" / c.pixi_environment.value_or("default"));
}

void pixi_build(Build& b) {
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
        b.run({"init", "--import", (dir / "environment.yml").string(), dir.string()});
      }
    }
    if (!c.channels.empty()) {
      std::vector<std::string> args = {"project", "channel", "add", "--manifest-path",
                                       (dir / "pixi.toml").string()};
      args.insert(args.end(), c.channels.begin(), c.channels.end());
      b.run(args);
    }
  } else {
    b.fresh_dir();
    b.progress("Creating the project (pixi init)", 0, 3);
    b.run({"init", dir.string()});
    const std::string manifest = (dir / "pixi.toml").string();
    if (!c.channels.empty()) {
      std::vector<std::string> args = {"project", "channel", "add", "--manifest-path", manifest};
      args.insert(args.end(), c.channels.begin(), c.channels.end());
      b.run(args);
    }
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
  b.progress("Installing (pixi install)", 2, 3);
  std::vector<std::string> args = {"install", "--manifest-path", pixi_manifest(dir).string()};
  if (c.pixi_environment) {
    args.emplace_back("--environment");
    args.push_back(*c.pixi_environment);
  }
  if (c.progress.empty()) {
    b.run(args);
    return;
  }
  // Phases come from pixi's debug log (-vv), as appose-java reads them. That log is pixi
  // talking to itself: it reaches the error subscribers only if the caller asked for verbosity.
  PixiInstallMonitor monitor(
      dir, c.pixi_environment.value_or("default"),
      [&b](std::string_view t, std::int64_t cur, std::int64_t max) { b.progress(t, cur, max); });
  const bool verbose = b.verbose_flag();
  if (!verbose) args.insert(args.begin(), "-vv");
  b.run(args, {}, &monitor, verbose);
}

// ---- micromamba --------------------------------------------------------------------------

Environment mamba_environment(const BuilderConfig& c, const fs::path& dir, const fs::path& mamba,
                              std::shared_ptr<EnvironmentOrigin> origin) {
  return EnvironmentAccess::make(dir.string(), {(dir / "bin").string()},
                                 {mamba.string(), "run", "-p", dir.string()}, c.env_vars, "mamba",
                                 std::move(origin));
}

void mamba_build(Build& b) {
  const BuilderConfig& c = b.config();
  const fs::path& dir = b.dir();
  b.fresh_dir();
  // micromamba create wants to make the prefix itself.
  std::error_code ec;
  fs::remove_all(dir, ec);
  b.progress("Creating the prefix (micromamba create)", 0, 2);
  b.run({"create", "--prefix", dir.string(), "-y", "--no-rc"});
  b.adopt_created();
  b.write(dir / "environment.yml", *c.content);
  b.progress("Installing packages (micromamba env update)", 1, 2);
  // --no-rc here too: a user's .condarc must not add channels to what the file says.
  b.run({"env", "update", "-y", "--no-rc", "--prefix", dir.string(), "-f",
         (dir / "environment.yml").string()});
}

}  // namespace

bool is_url(std::string_view source) {
  std::size_t i = 0;
  while (i < source.size() && std::isalpha(static_cast<unsigned char>(source[i])) != 0)
    ++i;
  return i >= 3 && source.substr(i, 3) == "://";
}

std::string url_file_name(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    url.remove_prefix(scheme_end + 3);
    // The authority (host, port, user) is no file name.
    const auto slash = url.find('/');
    url.remove_prefix(slash == std::string_view::npos ? url.size() : slash);
  }
  return std::string(url.substr(url.rfind('/') + 1));
}

std::optional<NamedScheme> scheme_from_file_name(std::string_view name) {
  const std::string lower = ascii_lower(name);
  const std::string_view n = lower;
  if (n == "pixi.toml") return NamedScheme{Scheme::pixi_toml(), true};
  if (n == "pyproject.toml") return NamedScheme{Scheme::pyproject_toml(), true};
  if (n.ends_with(".yml") || n.ends_with(".yaml")) {
    return NamedScheme{Scheme::environment_yml(), n.starts_with("environment")};
  }
  if (n.ends_with(".txt"))
    return NamedScheme{Scheme::requirements_txt(), n.starts_with("requirements")};
  return std::nullopt;
}

std::string fetch_configuration(const std::string& url, const CancelState* cancel) {
  const std::string lower = ascii_lower(std::string_view(url).substr(0, 8));
  if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
    throw BuildException(fmt::format(
        "cannot fetch the configuration at {}: Appose fetches configurations over http and "
        "https only; for a file on this machine, use file() with its path",
        url));
  }
  DownloadOptions options;
  options.cancel = cancel;
  options.stall_timeout = timeout_from_env("APPOSE_DOWNLOAD_TIMEOUT", std::chrono::seconds(60));
  options.total_timeout = timeout_from_env("APPOSE_URL_TIMEOUT", std::chrono::seconds(120));
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  std::string text;
  try {
    text = download_text(url, options, kMaxConfigurationBytes);
  } catch (const BuildException& e) {
    // download_text names the URL and the HTTP status; say what was being fetched.
    throw BuildException(fmt::format("cannot fetch the configuration: {}", e.what()));
  }
  if (!codec::is_valid_utf8(text)) {
    throw BuildException(fmt::format(
        "cannot use the configuration at {}: it is not UTF-8 text (is the address a web page or "
        "an archive rather than the file itself?)",
        url));
  }
  // Kept byte for byte, CRLF included: appose-python decodes the response without universal
  // newlines (unlike its file()), and appose.json must hold what it holds.
  return text;
}

Environment build(const BuilderConfig& config) {
  BuilderConfig c = concrete(config);
  validate(c);
  const fs::path dir = resolve_dir(c);
  Build b(c, dir);
  // One build per directory at a time, across processes: the second waits, then finds the
  // first's result up to date instead of running the tools over it.
  DirLock lock(
      dir, [&] { b.progress(fmt::format("Waiting for another build of {}", dir.string()), 0, 0); },
      c.cancel.get());
  check_not_foreign(c.type, dir);
  auto origin = origin_for(c, dir);

  const std::string expected = fingerprint_of(c);
  const bool fingerprint_matches = has_fingerprint(dir, expected);

  if (c.type == "uv") {
    if (fingerprint_matches && uv_looks_built(dir)) {
      b.progress("Up to date", 1, 1);
      return uv_environment(c, dir, origin);
    }
    try {
      (void)b.tool();  // found or downloaded before the first step is announced
      uv_build(b);
      b.finish(expected);
    } catch (...) {
      b.abandon();
      throw;
    }
    return uv_environment(c, dir, origin);
  }
  if (c.type == "pixi") {
    const fs::path pixi = b.tool();
    if (fingerprint_matches && pixi_looks_built(c, dir)) {
      b.progress("Up to date", 1, 1);
      return pixi_environment(c, dir, pixi, c.pixi_environment, origin);
    }
    try {
      pixi_build(b);
      b.finish(expected);
    } catch (...) {
      b.abandon();
      throw;
    }
    return pixi_environment(c, dir, pixi, c.pixi_environment, origin);
  }
  // micromamba
  const fs::path mamba = b.tool();
  if (fingerprint_matches && is_dir(dir / "conda-meta")) {
    b.progress("Up to date", 1, 1);
    return mamba_environment(c, dir, mamba, origin);
  }
  if (!c.content) {
    if (is_dir(dir / "conda-meta")) return mamba_environment(c, dir, mamba, origin);
    throw BuildException(fmt::format(
        "nothing to build in {}: give the micromamba builder an environment.yml with file() or "
        "content()",
        dir.string()));
  }
  try {
    mamba_build(b);
    b.finish(expected);
  } catch (...) {
    b.abandon();
    throw;
  }
  return mamba_environment(c, dir, mamba, origin);
}

void remove_dir(const fs::path& dir) {
  remove_owned(dir);
}

std::string detect_type(const fs::path& dir) {
  if (is_dir(dir / ".pixi") || is_file(dir / "pixi.toml")) return "pixi";
  if (is_dir(dir / "conda-meta")) return "mamba";
  // A `uv sync` project keeps its venv in .venv/.
  if (is_file(dir / "pyvenv.cfg") || is_file(dir / ".venv" / "pyvenv.cfg")) return "uv";
  return "custom";
}

void remove(const BuilderConfig& config) {
  // Only the directory matters here: a dynamic builder whose content cannot be routed still
  // names a directory.
  const fs::path dir = resolve_dir(config);
  DirLock lock(dir, {}, config.cancel.get());
  remove_owned(dir);
}

}  // namespace detail

Environment wrap(const fs::path& dir_in) {
  using namespace detail;
  if (!path_exists(dir_in)) {
    throw BuildException(fmt::format("cannot wrap {}: it does not exist", dir_in.string()));
  }
  if (!is_dir(dir_in)) {
    throw BuildException(fmt::format("cannot wrap {}: it is not a directory", dir_in.string()));
  }
  const fs::path dir(absolute_string(dir_in));
  const std::string type = detect_type(dir);

  // An appose.json says Appose built it and how: enough to rebuild or remove it later.
  std::shared_ptr<EnvironmentOrigin> origin;
  BuilderConfig c;
  c.type = type;
  if (is_file(dir / kFingerprintFile)) {
    if (auto recorded = config_from_fingerprint(read_file(dir / kFingerprintFile));
        recorded && recorded->type == type) {
      c = std::move(*recorded);
      c.base = dir;
      origin = origin_for(c, dir);
    }
  }
  if (type == "uv") return uv_environment(c, dir, origin);
  if (type == "custom") {
    std::vector<std::string> bins;
    if (is_dir(dir / "bin")) bins.push_back((dir / "bin").string());
    return EnvironmentAccess::make(dir.string(), std::move(bins), {}, c.env_vars, "custom",
                                   std::move(origin));
  }
  // pixi and micromamba environments are launched through their tool, which activates them;
  // without it, the environment's bin directory still finds its python.
  const fs::path root = envs_dir();
  auto tool =
      locate_tool(type == "pixi" ? ToolKind::pixi : ToolKind::micromamba, std::nullopt, root);
  if (type == "pixi") {
    if (tool) return pixi_environment(c, dir, *tool, std::nullopt, origin);
    return EnvironmentAccess::make(dir.string(),
                                   {(dir / ".pixi" / "envs" / "default" / "bin").string()}, {},
                                   c.env_vars, "pixi", std::move(origin));
  }
  if (tool) return mamba_environment(c, dir, *tool, origin);
  return EnvironmentAccess::make(dir.string(), {(dir / "bin").string()}, {}, c.env_vars, "mamba",
                                 std::move(origin));
}

// ---- Builder -----------------------------------------------------------------------------

Builder::Builder(std::string env_type) : cfg_(std::make_unique<detail::BuilderConfig>()) {
  cfg_->type = std::move(env_type);
}
Builder::Builder(const Builder& other)
    : cfg_(std::make_unique<detail::BuilderConfig>(*other.cfg_)) {}
Builder::Builder(Builder&& other) noexcept = default;
Builder& Builder::operator=(const Builder& other) {
  if (this != &other) cfg_ = std::make_unique<detail::BuilderConfig>(*other.cfg_);
  return *this;
}
Builder& Builder::operator=(Builder&& other) noexcept = default;
Builder::~Builder() = default;

std::string Builder::env_type() const {
  try {
    return detail::resolve_type(*cfg_);
  } catch (const Error&) {
    return cfg_->type;
  }
}

Environment Builder::build() {
  return detail::build(*cfg_);
}

Environment Builder::build(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos) {
    cfg_->base = fs::path(name_or_path);
  } else {
    cfg_->name = name_or_path;
    cfg_->base.reset();
  }
  return build();
}

Environment Builder::rebuild() {
  remove();
  return build();
}

void Builder::remove() {
  detail::remove(*cfg_);
}

void Builder::cancel() const noexcept {
  cfg_->cancel->cancel();
}

fs::path Builder::env_dir() const {
  return detail::resolve_dir(detail::concrete(*cfg_));
}

std::string Builder::fingerprint() const {
  return detail::fingerprint_of(detail::concrete(*cfg_));
}

bool Builder::is_up_to_date() const {
  return detail::has_fingerprint(env_dir(), fingerprint());
}

void Builder::set_name(std::string name) {
  cfg_->name = std::move(name);
}
void Builder::set_base(fs::path dir) {
  cfg_->base = std::move(dir);
}
void Builder::set_content(std::string content) {
  cfg_->content = std::move(content);
  cfg_->source_scheme.reset();
  cfg_->content_origin = "<content>";
}
void Builder::set_file(const fs::path& path) {
  cfg_->content = detail::read_text_file(path);
  cfg_->source_scheme = detail::scheme_from_file_name(path.filename().string());
  cfg_->content_origin = path.string();
}
void Builder::set_url(const std::string& url) {
  cfg_->content = detail::fetch_configuration(url, cfg_->cancel.get());
  cfg_->source_scheme = detail::scheme_from_file_name(detail::url_file_name(url));
  cfg_->content_origin = url;
}
void Builder::set_scheme(std::string_view name) {
  cfg_->scheme = Scheme::from_name(name);
}
void Builder::add_channels(std::vector<std::string> channels) {
  cfg_->channels.insert(cfg_->channels.end(), channels.begin(), channels.end());
}
void Builder::add_flags(std::vector<std::string> flags) {
  cfg_->flags.insert(cfg_->flags.end(), flags.begin(), flags.end());
}
void Builder::add_env(const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars)
    cfg_->env_vars[k] = v;
}
void Builder::set_executable(fs::path path) {
  cfg_->executable = std::move(path);
}
void Builder::add_progress(ProgressCallback callback) {
  if (callback) cfg_->progress.push_back(std::move(callback));
}
void Builder::add_output(LineCallback callback) {
  if (callback) cfg_->output.push_back(std::move(callback));
}
void Builder::add_error(LineCallback callback) {
  if (callback) cfg_->error.push_back(std::move(callback));
}
void Builder::add_conda(std::vector<std::string> packages) {
  cfg_->conda.insert(cfg_->conda.end(), packages.begin(), packages.end());
}
void Builder::add_pypi(std::vector<std::string> packages) {
  cfg_->pypi.insert(cfg_->pypi.end(), packages.begin(), packages.end());
}
void Builder::set_pixi_environment(std::string name) {
  cfg_->pixi_environment = std::move(name);
}
void Builder::set_python(std::string version) {
  cfg_->python = std::move(version);
}
void Builder::add_packages(std::vector<std::string> packages) {
  cfg_->packages.insert(cfg_->packages.end(), packages.begin(), packages.end());
}
void Builder::set_dynamic_type(std::string env_type) {
  cfg_->dynamic_type = std::move(env_type);
}

namespace {

/// A typed builder reading `source`: fetched when it is a URL (as appose-python decides), read
/// from disk otherwise.
template <class B>
B from_source(B builder, const fs::path& source) {
  if (detail::is_url(source.string())) {
    builder.url(source.string());
  } else {
    builder.file(source);
  }
  return builder;
}

}  // namespace

PixiBuilder pixi() {
  return PixiBuilder();
}
PixiBuilder pixi(const fs::path& source) {
  return from_source(PixiBuilder(), source);
}
MambaBuilder mamba() {
  return MambaBuilder();
}
MambaBuilder mamba(const fs::path& source) {
  return from_source(MambaBuilder(), source);
}
UvBuilder uv() {
  return UvBuilder();
}
UvBuilder uv(const fs::path& source) {
  return from_source(UvBuilder(), source);
}
DynamicBuilder file(const fs::path& path) {
  return from_source(DynamicBuilder(), path);
}
DynamicBuilder url(const std::string& address) {
  return std::move(DynamicBuilder().url(address));
}
DynamicBuilder content(std::string text) {
  return std::move(DynamicBuilder().content(std::move(text)));
}

}  // namespace appose
