#include "envbuild/tool_backend.hpp"

#include <fmt/format.h>

#include "appose/error.hpp"

namespace appose::detail {

std::optional<Environment> ToolBackend::without_build(const BuilderConfig& /*config*/,
                                                      const std::filesystem::path& /*dir*/,
                                                      const std::filesystem::path& /*tool*/,
                                                      std::shared_ptr<EnvironmentOrigin>
                                                      /*origin*/) const {
  return std::nullopt;
}

void ToolBackend::place_flags(std::vector<std::string>& argv, const std::vector<std::string>& flags,
                              const std::vector<std::string>& args) const {
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), args.begin(), args.end());
}

const ToolBackend& backend_for(std::string_view type) {
  for (const ToolBackend* backend : {&uv_backend(), &pixi_backend(), &mamba_backend()}) {
    if (type == backend->type()) return *backend;
  }
  throw BuildException(
      fmt::format("unknown builder \"{}\"; use \"pixi\", \"mamba\" or \"uv\"", type));
}

}  // namespace appose::detail
