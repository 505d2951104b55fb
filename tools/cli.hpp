#pragma once

// The commands of the `appose` tool. appose.cpp parses the command line (CLI11 lives in that one
// translation unit: it is heavy) and fills these options; each command is a plain function
// returning the process exit code.

#include <appose/task.hpp>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace appose::cli {

/// The exit status of every command: one per cause, so that a script can tell a typo in a
/// configuration from a failed solve, or a failing script from a crashed worker, without
/// reading stderr. docs/cli.md ("Exit status") and `appose --help` list them (kExitCodeHelp).
enum class ExitCode : int {
  ok = 0,
  failure = 1,    ///< any other failure: a refused removal, an essential doctor check, the root
  usage = 2,      ///< bad command line (unknown option, malformed --input, a FILE without a name)
  not_found = 3,  ///< the environment, the configuration file or the script does not exist
  config_invalid = 4,  ///< the configuration file is invalid (appose::ConfigError)
  build_failed = 5,    ///< `build`: a build tool failed, a download failed, or a lock is held
  task_failed = 6,     ///< `run`: the script raised, or an output cannot be printed
  task_canceled = 7,   ///< `run`: the task stopped at the cancel request (first Ctrl-C)
  worker_crashed = 8,  ///< `run`: the worker died during the task
  interrupted = 130,   ///< interrupted by Ctrl-C (128 + SIGINT), as shells report it
};

/// The exit codes as `appose --help` lists them (one `  N  meaning` line each).
extern const char* const kExitCodeHelp;

/// Something the user named (an environment, a file, a script) does not exist: ExitCode::not_found.
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The exit code for a command that failed with `e`: the one place where the library's
/// exceptions become exit codes (ConfigError, BuildException, TaskException by the task's
/// status, NotFound; anything else is ExitCode::failure).
ExitCode exit_code_for(const std::exception& e) noexcept;
/// The exit code for a task that ended with `status` (COMPLETE is ok).
ExitCode exit_code_for(TaskStatus status) noexcept;
/// Prints `e` as report_error() does and returns exit_code_for(e).
ExitCode report_failure(const std::exception& e);

struct BuildOptions {
  std::string file;  ///< configuration file or URL (empty: a package list)
  bool pixi = false;
  bool mamba = false;
  bool uv = false;
  std::vector<std::string> conda;
  std::vector<std::string> pypi;
  std::vector<std::string> channels;
  std::string python;
  std::string name;
  std::string base;
  bool rebuild = false;
  bool verbose = false;
  bool quiet = false;
};

struct ListOptions {
  bool json = false;
};

struct RemoveOptions {
  std::string env;
};

struct RunOptions {
  std::string env;
  std::string script_file;          ///< a path, or "-" for stdin
  std::string code;                 ///< -e
  std::string init;                 ///< --init: Service::init()
  std::string init_file;            ///< --init-file
  std::vector<std::string> inputs;  ///< key=JSON
  std::string queue;
  bool json = false;
  bool groovy = false;
  std::vector<std::string> class_path;
  bool quiet = false;
  bool verbose = false;
};

struct DoctorOptions {
  bool json = false;
  double timeout_seconds = 10;
};

ExitCode build_command(const BuildOptions& options);
ExitCode list_command(const ListOptions& options);
ExitCode remove_command(const RemoveOptions& options);
ExitCode run_command(const RunOptions& options);
ExitCode doctor_command(const DoctorOptions& options);
/// `appose shm list|clean`: the crash registry of owned shared-memory blocks.
ExitCode shm_command(const std::string& action, bool json);

}  // namespace appose::cli
