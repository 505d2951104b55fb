#pragma once

/// \file
/// A Task: one script run asynchronously by a Service's worker.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "appose/error.hpp"
#include "appose/export.hpp"
#include "appose/protocol.hpp"
#include "appose/value.hpp"

namespace appose {

/// Where a task is in its life: INITIAL -> QUEUED -> RUNNING -> one of the four finished states.
enum class TaskStatus : std::uint8_t {
  INITIAL,
  QUEUED,
  RUNNING,
  COMPLETE,
  CANCELED,
  FAILED,
  CRASHED
};

/// `"INITIAL"`, `"COMPLETE"`, ...
APPOSE_EXPORT std::string_view to_string(TaskStatus status) noexcept;
/// COMPLETE, CANCELED, FAILED or CRASHED.
constexpr bool is_finished(TaskStatus s) noexcept {
  return s >= TaskStatus::COMPLETE;
}
/// CANCELED, FAILED or CRASHED.
constexpr bool is_error(TaskStatus s) noexcept {
  return s >= TaskStatus::CANCELED;
}

class Task;

struct TaskEvent;

/// Receives task events. Called on the service's event thread (never the caller's, never the
/// reader's), in order for each task; a listener that throws is reported to the service's log
/// and changes nothing else. Listeners must return: a blocked listener delays later events.
using TaskListener = std::function<void(const TaskEvent&)>;

namespace detail {
class TaskImpl;
class ServiceFront;
}  // namespace detail

/// A handle to a task. Copies refer to the same task; the task's service stays alive while any
/// handle exists.
///
/// Thread safety: every member may be called from any thread, concurrently.
class APPOSE_EXPORT Task {
 public:
  /// The task's id as sent to the worker (32 lowercase hex digits).
  [[nodiscard]] const std::string& id() const;
  [[nodiscard]] const std::string& script() const;
  /// Inputs, editable until the task starts. NDArrays and SharedMemory in them stay alive (and
  /// are not unlinked) at least until the task has finished. A WorkerObject in them stops
  /// owning its service when the task starts (the service's task table holds the inputs of a
  /// running task, and an owning reference there would keep the service alive for ever); it
  /// still works while the service lives.
  [[nodiscard]] Args& inputs();
  [[nodiscard]] const Args& inputs() const;
  /// `"main"` for the worker's main thread, or nullopt.
  [[nodiscard]] const std::optional<std::string>& queue() const;

  /// Adds a listener (only before start(), as in the peers: a later one would miss events).
  Task& listen(TaskListener listener);
  /// Sends the task to the worker (starting the service if needed). Throws appose::Error if the
  /// task was already started, if the service was closed, or if its inputs cannot be encoded for
  /// this worker (e.g. NaN for a Java worker); the task then stays INITIAL. A task started on a
  /// worker that has died becomes CRASHED at once.
  Task& start();
  /// Waits until the task has finished (starting it if it is INITIAL) and its listeners have seen
  /// the final event. Throws TaskException if it failed, was canceled or crashed.
  Task& wait_for();
  /// Like wait_for(), but returns false if the task is still unfinished at the deadline.
  bool wait_for(std::chrono::milliseconds timeout);
  /// Asks the worker to stop the task (cooperative: the script sees `task.cancel_requested`).
  /// No effect on a finished or unstarted task.
  void cancel();
  /// Hard cancel: asks nicely, and if the task has not finished when `grace` runs out, kills
  /// the worker's process group. Every other task of that worker then becomes CRASHED too;
  /// Service::restart() gives a fresh worker. The deadline is kept even if every handle of the
  /// task is dropped meanwhile.
  void cancel(std::chrono::milliseconds grace);

  [[nodiscard]] TaskStatus status() const;
  /// The failure's text (FAILED: the worker's traceback; CRASHED: the crash report), if any.
  [[nodiscard]] std::optional<std::string> error() const;
  /// Outputs of a COMPLETE task; an empty Args for a task in any other state. The outputs are
  /// set once, when the task completes, and never change afterwards, so the reference (and
  /// references into it, `const Value& v = task.outputs().at("k")`) stays valid, and may be
  /// read from any thread without locking, for as long as any handle to this task exists.
  /// Keep a Task (not only the reference) when the Task is a temporary:
  /// `service.task(s).wait_for().outputs()` dies with the full expression; copy it there.
  [[nodiscard]] const Args& outputs() const;
  /// `outputs()["result"]`, or null if absent. The worker sets `result` to the value of the
  /// script's last line when that line is an expression, except a dict (Python) or a Map
  /// (Groovy): both peer workers merge such a value into the outputs, key by key, and there is
  /// no `result` then (`{'cat': 0.9}` as the last line gives `outputs()["cat"]`). To return a
  /// dict as the result, assign it: `task.outputs['result'] = {'cat': 0.9}`. Service::call(),
  /// get_var() and WorkerObject do that for you.
  [[nodiscard]] Value result() const;
  /// `result().get<T>()`: throws appose::TypeError (naming both types) if the result is not a T.
  template <typename T>
  [[nodiscard]] T result() const {
    return result().template get<T>();
  }
  /// The last UPDATE's fields.
  [[nodiscard]] std::optional<std::string> message() const;
  [[nodiscard]] std::optional<std::int64_t> current() const;
  [[nodiscard]] std::optional<std::int64_t> maximum() const;
  [[nodiscard]] Value info() const;

  friend bool operator==(const Task& a, const Task& b) noexcept { return a.impl_ == b.impl_; }

 private:
  friend class Service;
  friend class detail::TaskImpl;
  Task(std::shared_ptr<detail::TaskImpl> impl, std::shared_ptr<detail::ServiceFront> service)
      : impl_(std::move(impl)), service_(std::move(service)) {}
  std::shared_ptr<detail::TaskImpl> impl_;
  std::shared_ptr<detail::ServiceFront> service_;
};

/// What a listener receives: one per response (and one CRASH if the worker dies).
struct TaskEvent {
  /// The task the event is about. A listener may keep it (it keeps the service alive).
  Task task;
  ResponseType response_type = ResponseType::LAUNCH;
  std::optional<std::string> message;   ///< UPDATE's message
  std::optional<std::int64_t> current;  ///< UPDATE's progress
  std::optional<std::int64_t> maximum;  ///< UPDATE's progress bound
  Value info;                           ///< UPDATE's free-form info (null if absent)
};

/// Thrown by Task::wait_for() for a task that FAILED, was CANCELED or CRASHED. The text is
/// appose-python's: `Task failed: <error>`, `Task was canceled`, `Task crashed: <error>`.
class APPOSE_EXPORT TaskException : public Error {
 public:
  TaskException(const std::string& what, Task task) : Error(what), task_(std::move(task)) {}
  /// The task that did not complete.
  [[nodiscard]] const Task& task() const noexcept { return task_; }
  [[nodiscard]] TaskStatus status() const { return task_.status(); }

 private:
  Task task_;
};

}  // namespace appose
