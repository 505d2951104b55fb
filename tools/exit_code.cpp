// The exit codes of `appose`: where exceptions and task states become them, and how the help
// lists them. Kept together so that the mapping, the help and docs/cli.md are read side by side.

#include <appose/error.hpp>
#include <appose/task.hpp>

#include "cli.hpp"
#include "console.hpp"

namespace appose::cli {

const char* const kExitCodeHelp = R"TXT(Exit status:
  0    success
  1    another failure (a refused removal, a failed essential doctor check)
  2    bad usage
  3    not found: the environment, the configuration file or the script
  4    the configuration file is invalid (the message gives its line and column)
  5    the build failed (the tool's error output follows the message)
  6    run: the task failed (traceback on stderr), or an output cannot be printed
  7    run: the task was canceled
  8    run: the worker crashed
  130  interrupted (Ctrl-C))TXT";

ExitCode exit_code_for(TaskStatus status) noexcept {
  switch (status) {
    case TaskStatus::COMPLETE:
      return ExitCode::ok;
    case TaskStatus::FAILED:
      return ExitCode::task_failed;
    case TaskStatus::CANCELED:
      return ExitCode::task_canceled;
    case TaskStatus::CRASHED:
      return ExitCode::worker_crashed;
    default:
      // Not finished: the worker went away without a word about the task.
      return ExitCode::worker_crashed;
  }
}

ExitCode exit_code_for(const std::exception& e) noexcept {
  // Most derived first: a ConfigError is also a BuildException.
  if (dynamic_cast<const NotFound*>(&e) != nullptr) return ExitCode::not_found;
  if (dynamic_cast<const appose::ConfigError*>(&e) != nullptr) return ExitCode::config_invalid;
  if (dynamic_cast<const appose::BuildException*>(&e) != nullptr) return ExitCode::build_failed;
  if (const auto* task = dynamic_cast<const appose::TaskException*>(&e)) {
    try {
      return exit_code_for(task->status());
    } catch (...) {
      return ExitCode::worker_crashed;
    }
  }
  return ExitCode::failure;
}

ExitCode report_failure(const std::exception& e) {
  report_error(e.what());
  return exit_code_for(e);
}

}  // namespace appose::cli
