#pragma once

/// \file
/// A Service: one worker process, spoken to with one JSON object per line over its stdin and
/// stdout, running Tasks.
///
/// Threads of a started service (see README, "Threading"):
/// - an I/O thread reads the worker's stdout and stderr and watches for its exit (poll on the
///   pipes and a pidfd; no busy waiting); it decodes responses and updates tasks;
/// - an event thread runs task listeners and the debug callback, in order, so that a slow
///   listener never stalls the reading of the worker's output.
/// Callers' threads only write requests and wait.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/export.hpp"
#include "appose/syntax.hpp"
#include "appose/task.hpp"
#include "appose/value.hpp"

namespace appose {

/// What a worker said about itself in its optional HELLO line (workers newer than 0.12).
struct WorkerInfo {
  std::string implementation;  ///< e.g. `appose-python`, as the worker wrote it
  std::string version;         ///< the protocol version the worker speaks, e.g. `0.12.1`
  /// Whether `version` has this service's major.minor (same_protocol() with service_version).
  /// A mismatch is only reported (here and to the debug callback): the service never refuses
  /// a worker, since 0.12 workers send no HELLO at all.
  bool compatible = false;
  /// The protocol version this service speaks (appose::kProtocolVersion), for messages.
  std::string service_version;
};

/// Which script language a worker speaks; decides how values are encoded for it (Java workers
/// cannot read NaN or Infinity, so those are refused rather than lost).
enum class WorkerKind : std::uint8_t { python, groovy, other };

/// How a service is launched; made by Environment::python()/groovy()/service().
struct ServiceConfig {
  std::vector<std::string> command;  ///< argv; command[0] is an absolute path or a launcher
  std::string cwd;                   ///< working directory of the worker (empty: ours)
  /// Variables to set, or to unset (nullopt), on top of this process's environment.
  std::map<std::string, std::optional<std::string>> env;
  WorkerKind kind = WorkerKind::other;
};

namespace detail {
class ServiceFront;
}

/// A handle to a worker process. Copies refer to the same service. Configure it (init, env,
/// debug) before it starts; it starts on the first task or on start().
///
/// Lifetime: when the last handle of a started service goes away (including the handles held
/// by its Tasks and TaskEvents), the worker gets EOF on its stdin and, if it has not exited
/// after the grace period (shutdown_grace(), default 5 s), its process group is killed. That
/// happens on a process-wide background thread, never blocking the caller, and is safe from a
/// listener and during static destruction.
///
/// Thread safety: every member may be called from any thread, concurrently.
class APPOSE_EXPORT Service {
 public:
  explicit Service(ServiceConfig config);

  /// A script the worker runs before it reads any request (sent as a temporary file named by
  /// APPOSE_INIT_SCRIPT). Throws appose::Error if the service has started.
  Service& init(std::string script);
  /// Variables for the worker's environment; nullopt unsets one. Throws if started.
  Service& env(const std::map<std::string, std::optional<std::string>>& vars);
  /// Receives every line read from or written to the worker and the service's own notes, with
  /// the peers' prefixes (`[SERVICE-n] ...`, `[WORKER-n] ...`). Called on the event thread, also
  /// after the last handle is gone (until the worker has exited): capture what it uses by value
  /// or shared_ptr, or call wait_for() before the captured objects go away.
  Service& debug(std::function<void(std::string_view)> callback);
  /// Receives the library's own diagnostics about this service (a throwing listener, an
  /// undecodable line, a failed write). Called on the event thread, with the same lifetime
  /// caveat as debug(). Default: none.
  Service& log(std::function<void(std::string_view)> callback);
  /// How long the worker may take to exit after EOF before it is killed, when the last handle
  /// goes away.
  Service& shutdown_grace(std::chrono::milliseconds grace);

  /// Launches the worker now (otherwise the first task does). Throws appose::Error if the
  /// executable cannot be started, or if close() was called before. Starting twice is harmless.
  Service& start();

  /// A new task (not started: call start() or wait_for()). `queue` "main" runs it on the
  /// worker's main thread.
  Task task(std::string script, Args inputs = {}, std::optional<std::string> queue = std::nullopt);

  /// A new task running the script in the UTF-8 text file `path` (read now, so later edits of
  /// the file do not change the task). Throws appose::Error if the file cannot be read or is not
  /// UTF-8. The worker sees the script's text only: relative imports and `__file__` refer to
  /// the worker's working directory, not the file's.
  Task task_file(const std::string& path, Args inputs = {},
                 std::optional<std::string> queue = std::nullopt);

  /// Sets the script language used by get_var(), put_var(), call() and proxies (`"python"`,
  /// `"groovy"`). Environment::python() and groovy() set it. Throws for an unknown name.
  Service& syntax(std::string_view name);
  Service& syntax(std::shared_ptr<const ScriptSyntax> syntax);
  /// The script language, or nullptr if none is set.
  [[nodiscard]] std::shared_ptr<const ScriptSyntax> syntax() const;
  /// The value of a variable the worker exported (`task.export(...)`, put_var()).
  /// Throws TaskException if the worker fails, appose::Error if no syntax is set.
  Value get_var(std::string_view name);
  /// Sets and exports a variable in the worker, for later tasks.
  void put_var(std::string_view name, Value value);
  /// Calls a function in the worker's global scope with `args`; returns its result (whatever
  /// it is: a dict or Map comes back as the result, not merged into the outputs).
  Value call(std::string_view function, Array args = {});
  /// Calls a function with positional `args` and keyword arguments `kwargs` (Python
  /// `f(*args, **kwargs)`; Groovy named arguments). Keywords must be identifiers; anything
  /// else throws appose::Error before a task is sent.
  Value call(std::string_view function, Array args, Args kwargs);
  /// A handle to an exported worker variable, to get its attributes and call its methods.
  WorkerObject proxy(std::string var, std::optional<std::string> queue = std::nullopt);

  /// Stops the worker (process-group kill; pending tasks become CRASHED) and starts a new one
  /// with the same configuration (command, environment, init script, callbacks). Lines
  /// collected from the old worker are cleared.
  Service& restart();

  /// Closes the worker's stdin: it finishes its running tasks and exits. From then on starting
  /// a task throws appose::Error, and Task::cancel() does nothing (no CANCEL can be sent).
  /// Closing twice, or before start, is harmless.
  void close();
  /// Kills the worker's process group (SIGKILL). Pending tasks become CRASHED. No effect
  /// before start or after exit.
  void kill();
  /// Waits until the worker has exited, its output has been read, every pending task has
  /// become CRASHED (if it had to), and the callbacks about all that (listeners, debug, log)
  /// have run; returns the exit code (negative signal number for a death by signal). Throws if
  /// the service never started. From a listener, it does not wait for the callbacks.
  int wait_for();
  /// Like wait_for(), but returns nullopt if the worker is still running at the deadline.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// Whether the worker process is running.
  [[nodiscard]] bool is_alive() const;

  /// Lines the worker wrote to stdout that were not protocol messages: the most recent 10,000,
  /// each cut at 64 KiB, so that a worker printing for days cannot exhaust the host's memory.
  [[nodiscard]] std::vector<std::string> invalid_lines() const;
  /// Lines the worker wrote to stderr: the most recent 10,000, each cut at 64 KiB. (The debug
  /// callback sees every line as it arrives.)
  [[nodiscard]] std::vector<std::string> error_lines() const;
  /// The init script's failure (init()), once the worker has reported it; nullopt while it has
  /// not (or the script succeeded, or none was set). The worker's stderr line `[WARNING] Init
  /// script failed: <exception>` sets it to `<exception>` as soon as it is read. With
  /// Environment::python()'s default channel, every task of that worker then fails with the
  /// script's traceback, and the first such failure replaces the text with the full traceback
  /// before the task ends: once a task has failed that way, init_error() is the traceback.
  /// With Channel::plain_stdio only the warning exists, and tasks run on. Cleared by restart().
  [[nodiscard]] std::optional<std::string> init_error() const;
  /// What the worker's HELLO line said, if it sent one.
  [[nodiscard]] std::optional<WorkerInfo> worker_info() const;
  [[nodiscard]] const ServiceConfig& config() const;
  /// The worker's process id, or -1 before start.
  [[nodiscard]] std::int64_t pid() const;

  friend bool operator==(const Service& a, const Service& b) noexcept {
    return a.front_ == b.front_;
  }

 private:
  friend class Task;
  friend class WorkerObject;
  explicit Service(std::shared_ptr<detail::ServiceFront> front) : front_(std::move(front)) {}
  std::shared_ptr<detail::ServiceFront> front_;
};

}  // namespace appose
