#pragma once

/// \file
/// Builders: make (or find up to date) the environment a worker needs, with pixi, micromamba
/// or uv, from a configuration file or from a list of packages.
///
/// ```cpp
/// appose::Environment env = appose::uv().python("3.11").include({"numpy"}).build("my-env");
/// appose::Environment env = appose::file("environment.yml").build();   // scheme from the file
/// ```
///
/// A build that finds `<env dir>/appose.json` identical to what it would write does nothing
/// (and says so through the progress callbacks); appose.json is byte-identical to the one
/// appose-python 0.12 writes for the same configuration, so either can reuse the other's
/// environments. Builders are values: copy one to build variants of a configuration.
///
/// Threads: build() runs on the caller's thread, and every callback (progress, output, error)
/// is called on that thread, in order, while the build runs. cancel() may be called from any
/// thread.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/environment.hpp"
#include "appose/export.hpp"
#include "appose/scheme.hpp"

namespace appose {

/// Progress of a build step or a download: `title` says what is happening, `current` of
/// `maximum` how far (maximum 0: unknown).
using ProgressCallback =
    std::function<void(std::string_view title, std::int64_t current, std::int64_t maximum)>;
/// One line of a tool's output, without its line terminator.
using LineCallback = std::function<void(std::string_view line)>;

/// The directory holding Appose-managed environments (and the tools the builders download):
/// `$APPOSE_ENVS_DIR` if set and not empty, else `~/.local/share/appose`, as the peers do.
/// XDG_DATA_HOME is not consulted, because the peers do not: both must find the same place.
APPOSE_EXPORT std::filesystem::path envs_dir();

namespace detail {
struct BuilderConfig;
}

/// What every builder does. Use the typed builders (pixi(), mamba(), uv(), file(), content()).
class APPOSE_EXPORT Builder {
 public:
  Builder(const Builder& other);
  Builder(Builder&& other) noexcept;
  Builder& operator=(const Builder& other);
  Builder& operator=(Builder&& other) noexcept;
  virtual ~Builder();

  /// "pixi", "mamba", "uv"; for file()/content() builders, the builder the scheme routes to
  /// (or "dynamic" while nothing decides it).
  [[nodiscard]] std::string env_type() const;

  /// Builds the environment, or finds it up to date, and returns it. Throws BuildException
  /// (with the tool's error output) when the build fails or is canceled; a directory this
  /// build created is removed again on failure, an existing one is left as it was. Before any
  /// tool runs, a configuration file that installs Python (or Python packages) but names no
  /// `appose` package is refused, saying what line to add: unlike a package list, a file gets
  /// no appose added, and without it every Python service of the environment would fail.
  Environment build();
  /// Same, in `name_or_path`: a value with a path separator is a directory, anything else a
  /// name under envs_dir().
  Environment build(const std::string& name_or_path);
  /// remove(), then build().
  Environment rebuild();
  /// Deletes this builder's environment directory. Refuses (BuildException) a directory that
  /// holds no appose.json: Appose deletes only what it built.
  void remove();
  /// Asks a build running on another thread to stop: the tool's process group is killed and
  /// build() throws BuildException saying it was canceled. Harmless when nothing runs.
  void cancel() const noexcept;

  /// The directory build() would use.
  [[nodiscard]] std::filesystem::path env_dir() const;
  /// The appose.json text build() would write for this configuration (compact JSON, keys in
  /// appose-python's order).
  [[nodiscard]] std::string fingerprint() const;
  /// Whether env_dir() holds an appose.json equal to fingerprint(), so that build() would do
  /// nothing.
  [[nodiscard]] bool is_up_to_date() const;

 protected:
  explicit Builder(std::string env_type);

  void set_name(std::string name);
  void set_base(std::filesystem::path dir);
  void set_content(std::string content);
  void set_file(const std::filesystem::path& path);
  void set_url(const std::string& url);
  void set_scheme(std::string_view name);
  void add_channels(std::vector<std::string> channels);
  void add_flags(std::vector<std::string> flags);
  void add_env(const std::map<std::string, std::string>& vars);
  void set_executable(std::filesystem::path path);
  void add_progress(ProgressCallback callback);
  void add_output(LineCallback callback);
  void add_error(LineCallback callback);
  void add_conda(std::vector<std::string> packages);
  void add_pypi(std::vector<std::string> packages);
  void set_pixi_environment(std::string name);
  void set_python(std::string version);
  void add_packages(std::vector<std::string> packages);
  void set_dynamic_type(std::string env_type);

 private:
  std::unique_ptr<detail::BuilderConfig> cfg_;
};

/// The options every builder shares, returning the concrete builder for chaining.
template <class Self>
class BuilderOptions : public Builder {
 public:
  /// Builds in `envs_dir()/<name>` (default: the name the content declares).
  Self& name(std::string env_name) { return set_name(std::move(env_name)), self(); }
  /// Builds in `dir`, overriding name().
  Self& base(std::filesystem::path dir) { return set_base(std::move(dir)), self(); }
  /// Builds from this configuration text (its scheme detected unless scheme() says).
  Self& content(std::string text) { return set_content(std::move(text)), self(); }
  /// Reads `path` now (UTF-8; CRLF read as LF, as appose-python reads text) and uses it as
  /// content(). A file name that is its format's own (`pixi.toml`, `pyproject.toml`,
  /// `requirements*.txt`, `environment*.yml`) gives the scheme, so that a requirements.txt
  /// starting with a comment is still one; otherwise the content does, as in the peers, and
  /// a `*.txt`/`*.yml` name only settles content detection cannot place. Throws BuildException
  /// if it cannot be read.
  Self& file(const std::filesystem::path& path) { return set_file(path), self(); }
  /// Fetches the configuration at `address` (http or https; redirects followed, proxies from the
  /// environment) now, on the calling thread, and uses it as content(), then builds as from a file
  /// read from disk, including the scheme its name implies (the last segment of the URL's path;
  /// `?query` and `#fragment` ignored). The text is kept as served, CRLF included, as
  /// appose-python keeps it (file() reads with universal newlines, as Python's text mode). Fetching
  /// here rather than in build() is what appose-python 0.12 does, and it puts every network error
  /// at this call, before anything is written: the builder is then a plain value (env_dir(),
  /// fingerprint(), is_up_to_date() and copies need no network), and a later build() of it never
  /// differs from what was fetched. appose.json records the content, not the address (as the peers
  /// do), so the same text from a URL or a file is the same environment. Limits: 1 MiB; a server
  /// silent for $APPOSE_DOWNLOAD_TIMEOUT seconds (default 60) or a fetch longer than
  /// $APPOSE_URL_TIMEOUT seconds in all (default 120) fails. Throws BuildException naming the
  /// URL and what went wrong (e.g. "HTTP 404").
  Self& url(const std::string& address) { return set_url(address), self(); }
  /// Names the scheme of the content ("pixi.toml", "pyproject.toml", "environment.yml",
  /// "requirements.txt") instead of detecting it.
  Self& scheme(std::string_view scheme_name) { return set_scheme(scheme_name), self(); }
  /// Conda channels (pixi). uv and micromamba refuse them: put indexes and channels in the file.
  Self& channels(std::vector<std::string> names) { return add_channels(std::move(names)), self(); }
  /// Extra flags for the tool, placed right after its executable.
  Self& flags(std::vector<std::string> tool_flags) {
    return add_flags(std::move(tool_flags)), self();
  }
  /// Variables for the tool's processes and for every worker of the built environment.
  Self& env(const std::map<std::string, std::string>& vars) { return add_env(vars), self(); }
  /// The tool's executable to use (otherwise: $APPOSE_PIXI / $APPOSE_UV / $APPOSE_MICROMAMBA,
  /// then the peers' cache under envs_dir(), then PATH).
  Self& executable(std::filesystem::path path) { return set_executable(std::move(path)), self(); }
  Self& subscribe_progress(ProgressCallback callback) {
    return add_progress(std::move(callback)), self();
  }
  Self& subscribe_output(LineCallback callback) { return add_output(std::move(callback)), self(); }
  Self& subscribe_error(LineCallback callback) { return add_error(std::move(callback)), self(); }
  /// Prints the tool's output and error lines to this process's stderr.
  Self& log_debug() { return add_output(&Self::print_line), add_error(&Self::print_line), self(); }

 protected:
  using Builder::Builder;

 private:
  Self& self() { return static_cast<Self&>(*this); }
  static void print_line(std::string_view line);
};

/// pixi: conda and PyPI packages, from pixi.toml, pyproject.toml, environment.yml or a list.
class APPOSE_EXPORT PixiBuilder : public BuilderOptions<PixiBuilder> {
 public:
  PixiBuilder() : BuilderOptions("pixi") {}
  /// Conda packages (programmatic build). The list, with pypi(), must name `appose`.
  PixiBuilder& conda(std::vector<std::string> packages) {
    return add_conda(std::move(packages)), *this;
  }
  /// PyPI packages (programmatic build).
  PixiBuilder& pypi(std::vector<std::string> packages) {
    return add_pypi(std::move(packages)), *this;
  }
  /// Installs and launches the manifest's named environment `name` instead of `default`.
  PixiBuilder& environment(std::string name) {
    return set_pixi_environment(std::move(name)), *this;
  }
};

/// micromamba: conda packages from an environment.yml.
class APPOSE_EXPORT MambaBuilder : public BuilderOptions<MambaBuilder> {
 public:
  MambaBuilder() : BuilderOptions("mamba") {}
};

/// uv: a Python virtual environment from requirements.txt, pyproject.toml or a package list.
class APPOSE_EXPORT UvBuilder : public BuilderOptions<UvBuilder> {
 public:
  UvBuilder() : BuilderOptions("uv") {}
  /// The Python version for the venv (e.g. "3.11"); default: uv's choice.
  UvBuilder& python(std::string version) { return set_python(std::move(version)), *this; }
  /// PyPI packages (programmatic build); `appose` is added unless listed.
  UvBuilder& include(std::vector<std::string> packages) {
    return add_packages(std::move(packages)), *this;
  }
};

/// A builder chosen by the content's scheme: pixi for pixi.toml, pyproject.toml and
/// environment.yml, uv for requirements.txt (the peers' priorities), unless builder() says.
class APPOSE_EXPORT DynamicBuilder : public BuilderOptions<DynamicBuilder> {
 public:
  DynamicBuilder() : BuilderOptions("dynamic") {}
  /// Uses the builder of this type ("pixi", "mamba", "uv") whatever the scheme.
  DynamicBuilder& builder(std::string env_type) {
    return set_dynamic_type(std::move(env_type)), *this;
  }
};

template <class Self>
void BuilderOptions<Self>::print_line(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
}

APPOSE_EXPORT PixiBuilder pixi();
/// pixi() with file(source), or url(source) when it is a URL (three or more letters, then
/// "://", as appose-python tells them apart; only http and https are fetched).
APPOSE_EXPORT PixiBuilder pixi(const std::filesystem::path& source);
APPOSE_EXPORT MambaBuilder mamba();
/// mamba() with file(source), or url(source) when it is a URL (as pixi(source)).
APPOSE_EXPORT MambaBuilder mamba(const std::filesystem::path& source);
APPOSE_EXPORT UvBuilder uv();
/// uv() with file(source), or url(source) when it is a URL (as pixi(source)).
APPOSE_EXPORT UvBuilder uv(const std::filesystem::path& source);
/// A builder for the configuration file at `path`, or fetched from it when it is a URL (as
/// pixi(source)), routed by its scheme.
APPOSE_EXPORT DynamicBuilder file(const std::filesystem::path& path);
/// A builder for the configuration at `address` (http or https), fetched now (see
/// BuilderOptions::url()) and routed by its scheme.
APPOSE_EXPORT DynamicBuilder url(const std::string& address);
/// A builder for configuration text, routed by its scheme.
APPOSE_EXPORT DynamicBuilder content(std::string text);

/// An existing environment directory, its type detected: pixi (`.pixi/` or `pixi.toml`),
/// conda/micromamba (`conda-meta/`), venv/uv (`pyvenv.cfg`), else a plain directory whose
/// `bin/` is searched first. Wrapping runs no tool and writes nothing; the environment can be
/// rebuilt or removed only if Appose built it (its appose.json says how).
APPOSE_EXPORT Environment wrap(const std::filesystem::path& dir);

}  // namespace appose
