#include "appose/environment.hpp"

#include <fmt/format.h>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "appose/error.hpp"
#include "build/builder_impl.hpp"
#include "platform/process.hpp"
#include "python_bootstrap.hpp"

namespace appose {

namespace {

/// `dir` absolute and normalised, without a trailing slash ("." would give "/cwd/").
std::string absolute_dir(const std::string& dir) {
  auto p = std::filesystem::absolute(dir).lexically_normal();
  if (p.has_relative_path() && !p.has_filename()) p = p.parent_path();
  return p.string();
}

}  // namespace

Environment::Environment(std::string base, std::vector<std::string> bin_paths,
                         std::vector<std::string> launch_args,
                         std::map<std::string, std::string> env_vars)
    : base_(absolute_dir(base)),
      bin_paths_(std::move(bin_paths)),
      launch_args_(std::move(launch_args)),
      env_vars_(std::move(env_vars)) {}

namespace {

bool private_channel_disabled() {
  const char* v = std::getenv("APPOSE_PRIVATE_CHANNEL");
  return v != nullptr && std::string_view(v) == "0";
}

}  // namespace

Service Environment::python_service(std::vector<std::string> args) const {
  static const std::vector<std::string> exes = {"python", "python3", "bin/python"};
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
    if (name != "PYTHONPATH") unset[name] = value;  // a user's deliberate search path stays
  }
  for (const auto& [name, value] : env_vars_)
    unset.erase(name);
  service.env(unset);
  return service;
}

Service Environment::python(Channel channel) const {
  std::vector<std::string> args =
      channel == Channel::private_fds && !private_channel_disabled()
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
    const char* cp = std::getenv("APPOSE_JAVA_CLASSPATH");
    if (cp == nullptr || *cp == '\0') {
      throw Error(
          "Environment::groovy(): no classpath; pass the appose-java jar and its dependencies, "
          "or set APPOSE_JAVA_CLASSPATH (scripts/peers.sh fetches them into .peers/java/lib)");
    }
    class_path.emplace_back(cp);
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
  if (const char* home = std::getenv("JAVA_HOME"); home != nullptr && *home != '\0') {
    exes.push_back(std::string(home) + "/bin/java");
  }
  for (const char* exe : {"java", "bin/java", "jre/bin/java"})
    exes.emplace_back(exe);
  std::vector<std::string> args = std::move(jvm_args);
  if (!class_path.empty()) {
    args.emplace_back("-cp");
    args.push_back(fmt::format("{}", fmt::join(class_path, ":")));
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
    for (auto& d : detail::path_dirs())
      dirs.push_back(std::move(d));
    std::string found;
    for (const auto& exe : exes) {
      // Each candidate in turn: under the bin paths, then PATH; a relative path such as
      // `bin/python` also under the environment's base.
      found = detail::find_executable(exe, dirs);
      if (found.empty() && !exe.empty() && exe.find('/') != std::string::npos &&
          exe.front() != '/') {
        found = detail::find_executable(base_ + "/" + exe, {});
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
    config.command.push_back(std::filesystem::absolute(found).lexically_normal().string());
  }
  for (auto& a : args)
    config.command.push_back(std::move(a));
  return Service(std::move(config));
}

Environment system() {
  return detail::EnvironmentAccess::make(std::filesystem::current_path().string(),
                                         detail::path_dirs(), {}, {}, "system", nullptr);
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
  if (!origin_ || !origin_->config) {
    throw BuildException(
        fmt::format("cannot rebuild the {} environment at {}: Appose did not build it (it has no "
                    "appose.json), so there is no configuration to rebuild it from; use a builder",
                    type_, base_));
  }
  detail::remove(*origin_->config);
  return detail::build(*origin_->config);
}

void Environment::remove() const {
  // The system environment is the user's own PATH and current directory: never deleted.
  if (type_ == "system") return;
  if (!origin_ || origin_->dir.empty()) {
    throw BuildException(fmt::format(
        "refusing to delete the {} environment at {}: Appose did not build it (it has no "
        "appose.json); delete it yourself if you mean to",
        type_, base_));
  }
  detail::remove_dir(origin_->dir);
}

}  // namespace appose
