#include "envbuild/builder_config.hpp"

#include <fmt/format.h>

#include "appose/error.hpp"
#include "util/ascii.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

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
  if (c.base) return utf8_path(absolute_dir(*c.base));
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

}  // namespace appose::detail
