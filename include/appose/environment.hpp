#pragma once

/// \file
/// An Environment: where a worker's executables are and how to launch them.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "appose/export.hpp"
#include "appose/service.hpp"

namespace appose {

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

  /// A service running appose-python's worker (`python -c "import appose.python_worker; ..."`).
  /// With `args`, runs python with those arguments instead (a low-level escape hatch).
  /// The worker does not inherit the caller's conda activation (CONDA_PREFIX,
  /// CONDA_DEFAULT_ENV, CONDA_SHLVL, PYTHONEXECUTABLE) unless this environment sets them.
  [[nodiscard]] Service python(std::vector<std::string> args = {}) const;

  /// A service running the first of `exes` found (in bin_paths(), then PATH; or given to the
  /// launcher as is) with `args`. Throws appose::Error naming the candidates and the
  /// directories searched when none is found.
  [[nodiscard]] Service service(const std::vector<std::string>& exes, std::vector<std::string> args,
                                WorkerKind kind = WorkerKind::other) const;

 private:
  std::string base_;
  std::vector<std::string> bin_paths_;
  std::vector<std::string> launch_args_;
  std::map<std::string, std::string> env_vars_;
};

/// The environment of this process: executables from PATH, base = the current directory.
APPOSE_EXPORT Environment system();

}  // namespace appose
