#pragma once

// The state behind a Builder: what the caller configured, and what it resolves to (the builder
// type that does the work, the scheme of the content, the directory). Internal.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "appose/builder.hpp"
#include "appose/scheme.hpp"
#include "envbuild/tool.hpp"

namespace appose::detail {

/// A format as a configuration file's name gives it.
struct NamedScheme {
  /// The format the name gives.
  Scheme scheme;
  /// The name is the format's own (`requirements.txt`, `requirements-dev.txt`,
  /// `environment.yml`, `environment-gpu.yaml`, `pixi.toml`, `pyproject.toml`): it beats
  /// detection from the content. Otherwise (`deps.txt`, `env.yml`) the name only decides what
  /// the content leaves undecided.
  bool certain = false;
};

/// Everything a Builder was told. Copies share nothing: a copied builder gets its own cancel
/// state, so that canceling one build does not cancel its variants.
struct BuilderConfig {
  std::string type;                           ///< "pixi", "mamba", "uv" or "dynamic"
  std::optional<std::string> dynamic_type;    ///< a dynamic builder's builder() choice
  std::optional<std::string> name;            ///< name(): the directory under envs_dir()
  std::optional<std::filesystem::path> base;  ///< base(): the directory itself
  std::optional<std::string> content;         ///< the configuration file's text
  /// Where content came from, for ConfigError::file(): file()'s path, url()'s address.
  std::string content_origin = "<content>";
  std::optional<Scheme> scheme;  ///< scheme(): beats everything else
  /// What the source's file name says of its format (file() and url() set it, content()
  /// clears it): see scheme_from_file_name().
  std::optional<NamedScheme> source_scheme;
  std::vector<std::string> channels;                ///< channels() (pixi only)
  std::vector<std::string> flags;                   ///< flags(): passed to every tool command
  std::map<std::string, std::string> env_vars;      ///< env(): for the tools and the workers
  std::optional<std::filesystem::path> executable;  ///< executable(): the tool to use
  std::vector<ProgressCallback> progress;           ///< progress subscribers, in order
  std::vector<LineCallback> output;                 ///< subscribers to the tools' stdout
  std::vector<LineCallback> error;                  ///< subscribers to the tools' stderr
  std::vector<std::string> conda;                   ///< pixi: conda() packages
  std::vector<std::string> pypi;                    ///< pixi: pypi() packages
  std::optional<std::string> pixi_environment;      ///< pixi: environment()
  std::optional<std::string> python;                ///< uv: python() version
  std::vector<std::string> packages;                ///< uv: include() packages
  /// Shared with the thread that may call cancel(); a copied builder gets its own.
  std::shared_ptr<CancelState> cancel = std::make_shared<CancelState>();

  /// An empty configuration with its own cancel state.
  BuilderConfig() = default;
  /// Copies everything but the cancel state (see the struct).
  BuilderConfig(const BuilderConfig& other);
  /// Copies everything but the cancel state (see the struct).
  BuilderConfig& operator=(const BuilderConfig& other);
  /// Moves everything, the cancel state included.
  BuilderConfig(BuilderConfig&&) noexcept = default;
  /// Moves everything, the cancel state included.
  BuilderConfig& operator=(BuilderConfig&&) noexcept = default;
  ~BuilderConfig() = default;
};

/// The content's scheme: scheme() if given; else the one a file name that is the format's own
/// gives (`requirements.txt`...); else the one detected from the content, as the peers detect
/// it; else the one a vaguer file name (`deps.txt`) suggests. nullopt without content.
std::optional<Scheme> effective_scheme(const BuilderConfig& config);

/// The builder type that will do the work: the builder's own, or the one a dynamic builder's
/// scheme routes to (pixi for pixi.toml, pyproject.toml and environment.yml; uv for
/// requirements.txt: the peers' priorities). BuildException when nothing decides it.
std::string resolve_type(const BuilderConfig& config);

/// The environment's directory: base() made absolute, or envs_dir()/<name> with the name from
/// name() or the content. BuildException when there is no usable name.
std::filesystem::path resolve_dir(const BuilderConfig& config);

/// `config` with its type resolved and its scheme detected, as a build and appose.json see
/// it; the caller's cancel state is kept, so that cancel() reaches the build.
BuilderConfig concrete(const BuilderConfig& config);

}  // namespace appose::detail
