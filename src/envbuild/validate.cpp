#include "envbuild/validate.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "appose/error.hpp"
#include "envbuild/appose_check.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

bool names_appose(const std::vector<std::string>& specs) {
  return std::any_of(specs.begin(), specs.end(),
                     [](const std::string& s) { return package_name(s) == "appose"; });
}

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
  // micromamba without content is allowed only to open an existing conda prefix: the build
  // checks that against the directory (its backend's without_build()).
}

void check_not_foreign(const std::string& type, const fs::path& dir) {
  auto refuse = [&](const char* other, const char* marker) {
    throw BuildException(fmt::format(
        "cannot build with {} in {}: {} manages it ({} found); choose another name or directory, "
        "or remove it first",
        type, detail::utf8_string(dir), other, marker));
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

}  // namespace appose::detail
