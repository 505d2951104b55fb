#pragma once

/// \file
/// An Environment: where a worker's executables are and how to launch them.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "appose/export.hpp"
#include "appose/service.hpp"

namespace appose {

namespace detail {
struct EnvironmentOrigin;
struct EnvironmentAccess;
}  // namespace detail

/// How Environment::python() connects to the worker.
enum class Channel : std::uint8_t {
  private_fds,  ///< the protocol on descriptors only the worker module uses (default)
  plain_stdio,  ///< the protocol on the worker's stdin/stdout, as the peers launch it
};

/// Where executables live and how to launch them. Cheap to copy; immutable.
class APPOSE_EXPORT Environment {
 public:
  /// `base`: the environment's directory (the worker's working directory).
  /// `bin_paths`: searched first for executables, then this process's PATH.
  /// `launch_args`: a launcher prefix such as `pixi run --manifest-path ...` (empty for none).
  /// `env_vars`: variables every worker of this environment gets.
  explicit Environment(std::string base, std::vector<std::string> bin_paths = {},
                       std::vector<std::string> launch_args = {},
                       std::map<std::string, std::string> env_vars = {});

  [[nodiscard]] const std::string& base() const noexcept { return base_; }
  [[nodiscard]] const std::vector<std::string>& bin_paths() const noexcept { return bin_paths_; }
  [[nodiscard]] const std::vector<std::string>& launch_args() const noexcept {
    return launch_args_;
  }
  [[nodiscard]] const std::map<std::string, std::string>& env_vars() const noexcept {
    return env_vars_;
  }
  /// What made it: "pixi", "mamba", "uv" (built or wrapped), "system", or "custom" (a plain
  /// directory, or an Environment constructed directly).
  [[nodiscard]] const std::string& type() const noexcept { return type_; }

  /// The named sub-environment `name` of a pixi environment (installed first if needed; its
  /// launcher gets `--environment <name>`). Throws BuildException for other types.
  [[nodiscard]] Environment activate(const std::string& name) const;
  /// Deletes the environment and builds it again with the configuration that built it (from
  /// its builder, or from the appose.json of a wrapped directory). Throws BuildException for
  /// environments Appose did not build.
  Environment rebuild() const;
  /// Deletes the environment's directory, if Appose built it (it holds an appose.json).
  /// Otherwise throws BuildException and deletes nothing: a system() or wrapped environment
  /// that Appose did not build is never touched.
  void remove() const;

  /// A service running appose-python's worker. By default the worker is launched through a
  /// small bootstrap that gives the protocol private descriptors before anything is imported,
  /// so prints, C libraries writing to fd 1 and child processes (os.system, subprocess,
  /// multiprocessing with fork) can neither corrupt responses nor steal requests; it also makes
  /// the worker exit when this process dies. Channel::plain_stdio (or APPOSE_PRIVATE_CHANNEL=0
  /// in this process's environment) launches the worker exactly as the peers do.
  /// The worker does not inherit the caller's conda, pixi, micromamba or virtualenv activation
  /// (CONDA_*, PIXI_*, MAMBA_*, CONDARC, MAMBARC, VIRTUAL_ENV, PYTHONHOME, PYTHONEXECUTABLE)
  /// unless this environment sets them; PYTHONPATH is passed on.
  [[nodiscard]] Service python(Channel channel = Channel::private_fds) const;
  /// Runs this environment's python with `args` (a low-level escape hatch: no worker, no
  /// bootstrap), e.g. `{"-m", "pip", "install", wheel}`.
  [[nodiscard]] Service python(std::vector<std::string> args) const;

  /// A service running appose-java's Groovy worker (`org.apposed.appose.GroovyWorker`).
  /// `class_path`: the appose-java jar and its dependencies (Groovy among them); when empty,
  /// the classpath comes from the APPOSE_JAVA_CLASSPATH environment variable. Values are
  /// encoded for Java: NaN and infinities are refused with a clear error, since the Java
  /// worker cannot read them.
  [[nodiscard]] Service groovy(std::vector<std::string> class_path = {},
                               std::vector<std::string> jvm_args = {}) const;
  /// A service running `java <jvm_args> -cp <class_path> <main_class>` (JAVA_HOME's java if
  /// set, else the bin paths and PATH).
  [[nodiscard]] Service java(std::string main_class, std::vector<std::string> class_path = {},
                             std::vector<std::string> jvm_args = {}) const;

  /// A service running the first of `exes` found (in bin_paths(), then PATH; or given to the
  /// launcher as is) with `args`. Throws appose::Error naming the candidates and the
  /// directories searched when none is found.
  [[nodiscard]] Service service(const std::vector<std::string>& exes, std::vector<std::string> args,
                                WorkerKind kind = WorkerKind::other) const;

 private:
  [[nodiscard]] Service python_service(std::vector<std::string> args) const;

  std::string base_;
  std::vector<std::string> bin_paths_;
  std::vector<std::string> launch_args_;
  std::map<std::string, std::string> env_vars_;
  std::string type_ = "custom";
  std::shared_ptr<const detail::EnvironmentOrigin> origin_;

  friend struct detail::EnvironmentAccess;
};

/// The environment of this process: executables from PATH, base = the current directory.
/// Its remove() and rebuild() refuse: nothing of the user's is ever deleted.
APPOSE_EXPORT Environment system();

}  // namespace appose
