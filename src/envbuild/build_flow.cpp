#include "envbuild/build_flow.hpp"

#include <fmt/format.h>

#include "envbuild/build_lock.hpp"
#include "envbuild/build_session.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/fingerprint.hpp"
#include "envbuild/tool_backend.hpp"
#include "envbuild/validate.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

std::shared_ptr<EnvironmentOrigin> origin_for(const BuilderConfig& c, const fs::path& dir) {
  auto config = std::make_shared<const BuilderConfig>(c);
  auto origin = std::make_shared<EnvironmentOrigin>();
  origin->remove = [dir] { remove_owned(dir); };
  origin->rebuild = [config] {
    remove(*config);
    return build(*config);
  };
  return origin;
}

Environment build(const BuilderConfig& config) {
  BuilderConfig c = concrete(config);
  validate(c);
  const fs::path dir = resolve_dir(c);
  const ToolBackend& backend = backend_for(c.type);
  Build b(c, dir, backend);
  // One build per directory at a time, across processes: the second waits, then finds the
  // first's result up to date instead of running the tools over it.
  platform::DirLock lock = lock_dir(
      dir,
      [&] {
        b.progress(fmt::format("Waiting for another build of {}", detail::utf8_string(dir)), 0, 0);
      },
      c.cancel.get());
  check_not_foreign(c.type, dir);
  auto origin = origin_for(c, dir);

  const std::string expected = fingerprint_of(c);
  const bool fingerprint_matches = has_fingerprint(dir, expected);
  // A launcher needs its tool even when the environment is up to date.
  const fs::path tool = backend.launches_through_tool() ? b.tool() : fs::path();
  if (fingerprint_matches && backend.looks_built(c, dir)) {
    b.progress("Up to date", 1, 1);
    return backend.environment(c, dir, tool, origin);
  }
  if (auto env = backend.without_build(c, dir, tool, origin)) return std::move(*env);
  try {
    (void)b.tool();  // found or downloaded before the first step is announced
    backend.build(b);
    b.finish(expected);
  } catch (...) {
    b.abandon();
    throw;
  }
  return backend.environment(c, dir, b.tool(), origin);
}

void remove(const BuilderConfig& config) {
  // Only the directory matters here: a dynamic builder whose content cannot be routed still
  // names a directory.
  const fs::path dir = resolve_dir(config);
  platform::DirLock lock = lock_dir(dir, {}, config.cancel.get());
  remove_owned(dir);
}

}  // namespace appose::detail
