#include "appose/environment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "appose/error.hpp"
#include "environment/activation_env.hpp"
#include "environment/environment_access.hpp"
#include "environment/host_os.hpp"
#include "host/python_bootstrap.hpp"
#include "platform/env_var.hpp"
#include "platform/process.hpp"
#include "util/fs_util.hpp"

namespace appose {

Environment::Environment(std::string base, std::vector<std::string> bin_paths,
                         std::vector<std::string> launch_args,
                         std::map<std::string, std::string> env_vars)
    : base_(detail::absolute_dir(detail::utf8_path(base))),
      bin_paths_(std::move(bin_paths)),
      launch_args_(std::move(launch_args)),
      env_vars_(std::move(env_vars)) {}

namespace detail {

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

}  // namespace detail

namespace {

bool private_channel_disabled() {
  return detail::platform::env_var("APPOSE_PRIVATE_CHANNEL") == "0";
}

}  // namespace

Service Environment::python_service(std::vector<std::string> args) const {
  static const std::vector<std::string> exes = detail::python_candidates(detail::kHostOs);
  Service service = this->service(exes, std::move(args), WorkerKind::python);
  // A conda, pixi or virtualenv activation in the caller's shell must not leak into a worker of
  // another environment (nor steer a `pixi run` / `micromamba run` launcher); variables this
  // environment sets itself are kept.
  std::map<std::string, std::optional<std::string>> unset;
  for (const char* var : {"CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_SHLVL", "PYTHONEXECUTABLE",
                          "VIRTUAL_ENV", "PYTHONHOME", "CONDARC", "MAMBARC"}) {
    unset[var] = std::nullopt;
  }
  for (const auto& [name, value] : detail::tool_environment({})) {
    // A user's deliberate search path stays.
    if (!detail::same_env_name(name, "PYTHONPATH", detail::kHostOs)) {
      detail::set_env_change(unset, name, value, detail::kHostOs);
    }
  }
  for (const auto& [name, value] : env_vars_) {
    std::erase_if(unset, [&, &name = name](const auto& change) {
      return detail::same_env_name(change.first, name, detail::kHostOs);
    });
  }
  service.env(unset);
  return service;
}

Service Environment::python(Channel channel) const {
  std::vector<std::string> args =
      channel == Channel::private_fds && !private_channel_disabled() &&
              detail::private_channel_supported(detail::kHostOs)
          ? detail::python_bootstrap_args()
          : std::vector<std::string>{"-c",
                                     "import appose.python_worker; appose.python_worker.main()"};
  Service service = python_service(std::move(args));
  service.syntax("python");
  return service;
}

Service Environment::python(std::vector<std::string> args) const {
  return python_service(std::move(args));
}

Service Environment::groovy(std::vector<std::string> class_path,
                            std::vector<std::string> jvm_args) const {
  if (class_path.empty()) {
    std::optional<std::string> cp = detail::platform::env_var("APPOSE_JAVA_CLASSPATH");
    if (!cp || cp->empty()) {
      throw Error(
          "Environment::groovy(): no classpath; pass the appose-java jar and its dependencies, "
          "or set APPOSE_JAVA_CLASSPATH (scripts/peers.sh fetches them into .peers/java/lib)");
    }
    class_path.push_back(std::move(*cp));
  }
  Service service =
      java("org.apposed.appose.GroovyWorker", std::move(class_path), std::move(jvm_args));
  service.syntax("groovy");
  return service;
}

Service Environment::java(std::string main_class, std::vector<std::string> class_path,
                          std::vector<std::string> jvm_args) const {
  // Built front to back: GCC 12 at -O3 reports a false null dereference in vector::insert.
  std::vector<std::string> exes;
  if (auto home = detail::platform::env_var("JAVA_HOME"); home && !home->empty()) {
    exes.push_back(*home + "/bin/" + detail::executable_name("java", detail::kHostOs));
  }
  for (std::string& exe : detail::java_candidates(detail::kHostOs))
    exes.push_back(std::move(exe));
  std::vector<std::string> args = std::move(jvm_args);
  if (!class_path.empty()) {
    args.emplace_back("-cp");
    args.push_back(fmt::format(
        "{}", fmt::join(class_path, std::string(1, detail::path_list_separator(detail::kHostOs)))));
  }
  args.push_back(std::move(main_class));
  // Java parses JSON numbers as BigDecimal: NaN and infinities must be refused before sending.
  return service(exes, std::move(args), WorkerKind::groovy);
}

Service Environment::service(const std::vector<std::string>& exes, std::vector<std::string> args,
                             WorkerKind kind) const {
  if (exes.empty()) throw Error("Environment::service(): no executable given");
  ServiceConfig config;
  config.cwd = base_;
  config.kind = kind;
  for (const auto& [k, v] : env_vars_)
    config.env[k] = v;
  config.command = launch_args_;
  if (!launch_args_.empty()) {
    // The launcher (pixi run, micromamba run) activates the environment and finds the
    // executable itself.
    config.command.push_back(exes.front());
  } else {
    std::vector<std::string> dirs = bin_paths_;
    const std::vector<std::string> inherited = detail::platform::path_dirs();
    dirs.insert(dirs.end(), inherited.begin(), inherited.end());
    // Windows finds a worker's DLLs (conda's Library\bin) on PATH: the environment's
    // directories go first there, unless the environment sets PATH itself.
    const bool own_path = std::any_of(env_vars_.begin(), env_vars_.end(), [](const auto& var) {
      return detail::same_env_name(var.first, "PATH", detail::kHostOs);
    });
    if (!own_path) {
      if (auto path = detail::worker_path(bin_paths_, inherited, detail::kHostOs)) {
        config.env["PATH"] = *path;
      }
    }
    std::string found;
    for (const auto& exe : exes) {
      // Each candidate in turn: under the bin paths, then PATH; a relative path such as
      // `bin/python` also under the environment's base.
      found = detail::platform::find_executable(exe, dirs);
      if (found.empty() && detail::has_directory_part(exe, detail::kHostOs) &&
          !detail::is_absolute_path(exe, detail::kHostOs)) {
        found = detail::platform::find_executable(base_ + "/" + exe, {});
      }
      if (!found.empty()) break;
    }
    if (found.empty()) {
      throw Error(fmt::format(
          "none of the executables [{}] was found in the environment's bin paths [{}], on PATH, "
          "or (relative names) under {}; check that the environment is built",
          fmt::join(exes, ", "), fmt::join(bin_paths_, ", "), base_));
    }
    // Absolute, because the worker starts in base_ and a relative path would be taken from
    // there. Not canonical: a venv's python must be run through its own symlink.
    config.command.push_back(detail::utf8_string(
        std::filesystem::absolute(detail::utf8_path(found)).lexically_normal()));
  }
  for (auto& a : args)
    config.command.push_back(std::move(a));
  return Service(std::move(config));
}

Environment system() {
  return detail::EnvironmentAccess::make(detail::utf8_string(std::filesystem::current_path()),
                                         detail::platform::path_dirs(), {}, {}, "system", nullptr);
}

Environment Environment::activate(const std::string& name) const {
  if (origin_ && origin_->activator) return origin_->activator(name);
  throw BuildException(fmt::format(
      "cannot activate \"{}\": named sub-environments are a pixi feature, and this is a {} "
      "environment{}",
      name, type_,
      type_ == "pixi" ? " whose pixi executable was not found (set APPOSE_PIXI)" : ""));
}

Environment Environment::rebuild() const {
  if (!origin_ || !origin_->rebuild) {
    throw BuildException(
        fmt::format("cannot rebuild the {} environment at {}: Appose did not build it (it has no "
                    "appose.json), so there is no configuration to rebuild it from; use a builder",
                    type_, base_));
  }
  return origin_->rebuild();
}

void Environment::remove() const {
  // The system environment is the user's own PATH and current directory: never deleted.
  if (type_ == "system") return;
  if (!origin_ || !origin_->remove) {
    throw BuildException(fmt::format(
        "refusing to delete the {} environment at {}: Appose did not build it (it has no "
        "appose.json); delete it yourself if you mean to",
        type_, base_));
  }
  origin_->remove();
}

}  // namespace appose
