#pragma once

/// \file
/// Schemes: the configuration-file formats an environment can be built from (pixi.toml,
/// pyproject.toml, environment.yml, requirements.txt), how a format is recognised from text,
/// and which environment name a file implies.
///
/// Recognition and naming follow appose-python 0.12's text heuristics on purpose, not a parser:
/// the same content must land in the same directory whichever Appose built it. A real parser
/// (toml++, yaml-cpp) then validates the content before any tool runs, so that a malformed file
/// is reported with its line and column instead of by a tool half-way through a build.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "appose/export.hpp"

namespace appose {

/// One configuration-file format. A small value type: compare with ==.
class APPOSE_EXPORT Scheme {
 public:
  enum class Kind : std::uint8_t { pyproject_toml, pixi_toml, environment_yml, requirements_txt };

  static Scheme pyproject_toml() noexcept { return Scheme(Kind::pyproject_toml); }
  static Scheme pixi_toml() noexcept { return Scheme(Kind::pixi_toml); }
  static Scheme environment_yml() noexcept { return Scheme(Kind::environment_yml); }
  static Scheme requirements_txt() noexcept { return Scheme(Kind::requirements_txt); }

  /// Every scheme, in detection order (highest priority first).
  static std::span<const Scheme> all() noexcept;
  /// The scheme called `name` ("pixi.toml", ...). Throws BuildException listing the known names.
  static Scheme from_name(std::string_view name);
  /// The first scheme, in detection order, that recognises `content`. Throws BuildException
  /// asking for an explicit scheme() when none does.
  static Scheme from_content(std::string_view content);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  /// The file name the scheme is named after, e.g. "environment.yml".
  [[nodiscard]] std::string_view name() const noexcept;
  /// Detection priority: pyproject.toml 100, pixi.toml 50, environment.yml 20,
  /// requirements.txt 0 (as appose-python).
  [[nodiscard]] double priority() const noexcept;
  /// Whether `content` looks like this format (appose-python's heuristics, exactly).
  [[nodiscard]] bool supports_content(std::string_view content) const;
  /// The environment name `content` declares, found as appose-python finds it (first `name =`
  /// line for pixi.toml, `name =` in `[project]` for pyproject.toml, first `name:` line with
  /// double quotes removed for environment.yml; none for requirements.txt).
  [[nodiscard]] std::optional<std::string> env_name(std::string_view content) const;
  /// Parses `content` with a real parser and throws ConfigError naming the scheme, the line
  /// and the column of the first error. requirements.txt is checked line by line for what pip
  /// and uv would reject outright (unbalanced brackets, stray characters in a name). `file`
  /// says where the content came from (a path, a URL), for the message and
  /// ConfigError::file(); the default "<content>" is text with no file.
  void validate(std::string_view content, std::string_view file = "<content>") const;

  friend bool operator==(Scheme a, Scheme b) noexcept { return a.kind_ == b.kind_; }

 private:
  explicit Scheme(Kind kind) noexcept : kind_(kind) {}
  Kind kind_;
};

}  // namespace appose
