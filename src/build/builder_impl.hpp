#pragma once

// The state behind a Builder and an Environment's link back to it. Internal.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/builder.hpp"
#include "appose/environment.hpp"
#include "appose/scheme.hpp"
#include "build/tool.hpp"

namespace appose::detail {

/// A format as a configuration file's name gives it.
struct NamedScheme {
  Scheme scheme;
  /// The name is the format's own (`requirements.txt`, `requirements-dev.txt`,
  /// `environment.yml`, `environment-gpu.yaml`, `pixi.toml`, `pyproject.toml`): it beats
  /// detection from the content. Otherwise (`deps.txt`, `env.yml`) the name only decides what
  /// the content leaves undecided.
  bool certain = false;
};

struct BuilderConfig {
  std::string type;  // "pixi", "mamba", "uv" or "dynamic"
  std::optional<std::string> dynamic_type;
  std::optional<std::string> name;
  std::optional<std::filesystem::path> base;
  std::optional<std::string> content;
  /// Where content came from, for ConfigError::file(): file()'s path, url()'s address.
  std::string content_origin = "<content>";
  std::optional<Scheme> scheme;  ///< scheme(): beats everything else
  /// What the source's file name says of its format (file() and url() set it, content()
  /// clears it): see scheme_from_file_name().
  std::optional<NamedScheme> source_scheme;
  std::vector<std::string> channels;
  std::vector<std::string> flags;
  std::map<std::string, std::string> env_vars;
  std::optional<std::filesystem::path> executable;
  std::vector<ProgressCallback> progress;
  std::vector<LineCallback> output;
  std::vector<LineCallback> error;
  // pixi
  std::vector<std::string> conda;
  std::vector<std::string> pypi;
  std::optional<std::string> pixi_environment;
  // uv
  std::optional<std::string> python;
  std::vector<std::string> packages;
  // Shared with the thread that may call cancel(); a copied builder gets its own.
  std::shared_ptr<CancelState> cancel = std::make_shared<CancelState>();

  BuilderConfig() = default;
  BuilderConfig(const BuilderConfig& other);
  BuilderConfig& operator=(const BuilderConfig& other);
  BuilderConfig(BuilderConfig&&) noexcept = default;
  BuilderConfig& operator=(BuilderConfig&&) noexcept = default;
  ~BuilderConfig() = default;
};

/// How an Environment came to be, for rebuild(), remove() and activate().
struct EnvironmentOrigin {
  /// The configuration that built it; null when Appose did not build it.
  std::shared_ptr<const BuilderConfig> config;
  /// The directory remove() deletes (empty: nothing to delete, as for system()).
  std::filesystem::path dir;
  /// Named pixi sub-environments; empty for other types.
  std::function<Environment(const std::string&)> activator;
};

struct EnvironmentAccess {
  static Environment make(std::string base, std::vector<std::string> bin_paths,
                          std::vector<std::string> launch_args,
                          std::map<std::string, std::string> env_vars, std::string type,
                          std::shared_ptr<const EnvironmentOrigin> origin);
  static const EnvironmentOrigin* origin(const Environment& env) noexcept {
    return env.origin_.get();
  }
};

/// A package spec's distribution name, normalised as PyPI compares names (PEP 503: lowercase,
/// runs of `-_.` as one `-`), with a conda channel prefix (`conda-forge::appose`) dropped and
/// extras, versions and markers cut off. (Defined in scheme.cpp.)
std::string package_name(std::string_view spec);

/// Why `content` (already validated as `scheme`) would build an environment no Python worker
/// can start in: it installs Python or Python packages but names no `appose` package (conda or
/// PyPI, any version, extras, any case). The message ends with what to add, in that file's
/// syntax. nullopt when it names appose, installs no Python (a Java or native environment), or
/// lists packages Appose cannot see (`-r other.txt`, paths, URLs). (Defined in scheme.cpp.)
std::optional<std::string> missing_appose(const Scheme& scheme, std::string_view content);

/// Whether a builder's source is a URL rather than a path: three or more letters, then "://",
/// as appose-python tells them apart (so that `C:\\x` and `./a:b` stay paths).
bool is_url(std::string_view source);
/// The last segment of a URL's path, its query and fragment dropped:
/// `https://h/x/environment.yml?raw=1#top` gives "environment.yml", `https://h` "".
std::string url_file_name(std::string_view url);
/// What a configuration file's name says of its format, case-insensitively: certain for
/// `pixi.toml`, `pyproject.toml`, `requirements*.txt` and `environment*.yml`/`.yaml`; a fallback
/// for other `*.txt` (requirements.txt) and `*.yml`/`*.yaml` (environment.yml) names; nullopt
/// for any other name. Only a certain name overrides the content's detection, so that the
/// scheme, which appose.json records, stays the one the peers detect for a file whose name and
/// content agree or whose name says little.
std::optional<NamedScheme> scheme_from_file_name(std::string_view name);

/// A configuration file is text a person writes: anything larger is not one.
constexpr std::size_t kMaxConfigurationBytes = 1024 * 1024;
/// Fetches the configuration at `url` (http or https only) for Builder::url(): at most
/// kMaxConfigurationBytes, redirects followed, a stall limit of $APPOSE_DOWNLOAD_TIMEOUT
/// seconds (60) and the whole fetch within $APPOSE_URL_TIMEOUT seconds (120). Returns the UTF-8
/// text as served (CRLF kept, as appose-python keeps it); throws BuildException naming the URL and
/// what failed (the HTTP status, which limit, the size).
std::string fetch_configuration(const std::string& url, const CancelState* cancel);

/// Builds (or finds up to date) what `config` describes.
Environment build(const BuilderConfig& config);
/// Deletes the directory `config` builds in, if Appose built it.
void remove(const BuilderConfig& config);
/// Deletes `dir` if Appose built it (appose.json), was building it, or it is empty; refuses
/// anything else with a BuildException.
void remove_dir(const std::filesystem::path& dir);
/// "pixi", "mamba", "uv" or "custom": what wrap() takes `dir` for.
std::string detect_type(const std::filesystem::path& dir);

}  // namespace appose::detail
