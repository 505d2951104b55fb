// wrap(): an Environment for a directory that exists, whoever made it. An appose.json in it
// says Appose built it and how, which is enough to rebuild or remove it later.

#include <fmt/format.h>

#include "appose/builder.hpp"
#include "appose/error.hpp"
#include "envbuild/build_flow.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/fingerprint.hpp"
#include "envbuild/tool_backend.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose {

Environment wrap(const fs::path& dir_in) {
  using namespace detail;
  if (!path_exists(dir_in)) {
    throw BuildException(
        fmt::format("cannot wrap {}: it does not exist", detail::utf8_string(dir_in)));
  }
  if (!is_dir(dir_in)) {
    throw BuildException(
        fmt::format("cannot wrap {}: it is not a directory", detail::utf8_string(dir_in)));
  }
  const fs::path dir = utf8_path(absolute_dir(dir_in));
  const std::string type = detect_type(dir);

  std::shared_ptr<EnvironmentOrigin> origin;
  BuilderConfig c;
  c.type = type;
  if (auto text = read_fingerprint(dir)) {
    if (auto recorded = config_from_fingerprint(*text); recorded && recorded->type == type) {
      c = std::move(*recorded);
      c.base = dir;
      origin = origin_for(c, dir);
    }
  }
  if (type == "custom") {
    std::vector<std::string> bins;
    if (is_dir(dir / "bin")) bins.push_back(detail::utf8_string(dir / "bin"));
    return EnvironmentAccess::make(detail::utf8_string(dir), std::move(bins), {}, c.env_vars,
                                   "custom", std::move(origin));
  }
  const ToolBackend& backend = backend_for(type);
  // pixi and micromamba environments are launched through their tool, which activates them;
  // without it, the environment's bin directory still finds its python. Nothing is downloaded
  // for a wrap.
  fs::path tool;
  if (backend.launches_through_tool()) {
    if (auto found = locate_tool(backend.tool(), std::nullopt, envs_dir())) tool = *found;
  }
  return backend.environment(c, dir, tool, std::move(origin));
}

}  // namespace appose
