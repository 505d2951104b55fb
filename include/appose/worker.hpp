#pragma once

/// \file
/// The C++ worker SDK: make a C++ program an Appose worker that any Appose service (C++,
/// Python, Java) can drive. The EXECUTE request's script names an operation defined here.
///
/// \code
/// int main() {
///   appose::Worker worker;
///   worker.define("sum", [](appose::WorkerTask& task) {
///     auto data = task.inputs().at("data").get<appose::NDArray>();
///     double s = 0;
///     for (float x : data.span<float>()) s += x;
///     task.outputs()["total"] = s;
///   });
///   return worker.run();
/// }
/// \endcode

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/export.hpp"
#include "appose/protocol.hpp"
#include "appose/value.hpp"

namespace appose {

// appose::kProtocolVersion, the version a C++ worker announces in its HELLO line (what the
// worker speaks, not the library's own version), lives in appose/protocol.hpp: the service
// compares workers' HELLOs against the same constant.

namespace detail {
class WorkerImpl;
class WorkerTaskImpl;
}  // namespace detail

/// One request being served. Passed to an operation; valid until the operation returns (a
/// thread the operation starts must be done with it by then).
/// Thread safety: update(), cancel_requested(), cancel(), fail() and the export functions may
/// be called from any thread while the operation runs; inputs() and outputs() are the
/// operation's own.
class APPOSE_EXPORT WorkerTask {
 public:
  /// The task id the service chose.
  [[nodiscard]] const std::string& id() const;
  /// The operation's name (the request's script, trimmed).
  [[nodiscard]] const std::string& operation() const;
  /// Inputs: NDArrays and SharedMemory are attached zero-copy.
  [[nodiscard]] const Args& inputs() const;
  /// The input `name` as a T, or `fallback` if the service did not send it or sent null
  /// (optional parameters, as `inputs.get(name, default)` in a Python script). Throws
  /// appose::TypeError if it was sent but is not a T.
  template <typename T>
  [[nodiscard]] T input_or(std::string_view name, T fallback) const {
    const Value* v = inputs().find(name);
    return v == nullptr || v->is_null() ? std::move(fallback) : v->get<T>();
  }
  /// input_or() for a string default given as a literal.
  [[nodiscard]] std::string input_or(std::string_view name, const char* fallback) const {
    return input_or<std::string>(name, std::string(fallback));
  }
  /// Outputs sent with the COMPLETION. Blocks this worker created that are put here are handed
  /// over to the host with the COMPLETION: the worker never unlinks them (unless the response
  /// cannot be encoded or written, when they stay the worker's and go with its handles).
  [[nodiscard]] Args& outputs();
  /// Sends an UPDATE (progress) at once. message, current and maximum are sent when given;
  /// info is always sent (null when empty), as appose-python's worker does.
  void update(std::optional<std::string> message = std::nullopt,
              std::optional<std::int64_t> current = std::nullopt,
              std::optional<std::int64_t> maximum = std::nullopt, Value info = {});
  /// Whether the service asked to cancel this task. Operations poll it to stop early.
  [[nodiscard]] bool cancel_requested() const;
  /// Ends the task as canceled (CANCELATION) when the operation returns (whether or not a
  /// cancel was requested). The last of cancel()/fail() wins; a throw overrides both.
  void cancel();
  /// Ends the task as failed with `message` when the operation returns.
  void fail(std::string message);
  /// Keeps a value for later tasks of this worker.
  void export_value(std::string name, Value value);
  /// A value kept by export_value(), if any.
  [[nodiscard]] std::optional<Value> exported(std::string_view name) const;

 private:
  friend class detail::WorkerImpl;
  explicit WorkerTask(detail::WorkerTaskImpl* impl) : impl_(impl) {}
  detail::WorkerTaskImpl* impl_;
};

/// An operation: reads task.inputs(), writes task.outputs(). Throwing fails the task with the
/// exception's type and message.
using Operation = std::function<void(WorkerTask&)>;

/// Which thread runs an operation (Worker::define()). A request with `queue: "main"` runs on
/// the thread that called run() whatever its operation's dispatch says.
enum class Dispatch : std::uint8_t {
  /// On a thread of the pool (max_concurrency()), so a CANCEL reaches the task while it runs
  /// and other tasks run beside it. When the pool is idle and nothing else waits to be read,
  /// the thread that read the request runs it, saving the hand-off; if it runs for more than
  /// a millisecond another pool thread takes over reading, so a long task delays its
  /// LAUNCH, later requests and its CANCEL by at most that (docs/worker.md, "Threads").
  pool,
  /// At once, on the thread that reads requests, before the next request is read. No hand-off
  /// to another thread: a round trip costs one context switch less, which is most of the
  /// round trip of a task that does little (a lookup, a small computation per tile or frame;
  /// docs/worker.md has the figures). While it runs nothing else is read: no CANCEL for it or
  /// any other task arrives and later requests wait, so it is for operations that finish in
  /// microseconds, never for ones that block.
  immediate,
};

/// Serves Appose requests on this process's stdin/stdout.
///
/// run() first shields the protocol: it moves it to private descriptors and points fd 0 at
/// /dev/null and fd 1 at stderr (line-buffered), so std::cout, printf and child processes can
/// neither corrupt responses nor read requests. It also exits (SIGKILL) when the host dies: the
/// process named by APPOSE_PARENT_PID, which also kills the worker's process group if it leads
/// one; else the parent, and then only this process.
///
/// Threads: operations run on a pool of max_concurrency() threads, plus one that reads and
/// decodes requests (the pool's threads take that part in turn; see Dispatch::pool), or on the
/// reading thread itself when defined with Dispatch::immediate; requests with `queue: "main"`
/// run on the thread that called run(), in order of arrival.
class APPOSE_EXPORT Worker {
 public:
  Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Adds (or replaces) the operation called `name`, run on the pool.
  Worker& define(std::string name, Operation operation);
  /// Adds (or replaces) the operation called `name`, run where `dispatch` says.
  Worker& define(std::string name, Operation operation, Dispatch dispatch);
  /// Runs once in run(), before the first request is read (like the peers' init scripts).
  Worker& on_init(std::function<void(Worker&)> hook);
  /// Whether run() sends a HELLO line first (default true). APPOSE_WORKER_HELLO=0 in the
  /// environment turns it off whatever this says. Services of 0.12 log it as a message without
  /// a task and carry on.
  Worker& hello(bool enabled);
  /// How many operations may run at once off the main thread (default: hardware threads, >= 2).
  /// Further requests wait in arrival order for a free thread.
  Worker& max_concurrency(std::size_t n);
  /// Whether run() moves the protocol to private descriptors (default true).
  Worker& shield_protocol(bool enabled);

  /// The names of the defined operations, sorted.
  [[nodiscard]] std::vector<std::string> operations() const;
  /// A value kept by a task's export_value(), if any.
  [[nodiscard]] std::optional<Value> exported(std::string_view name) const;
  /// Keeps a value for tasks (for init hooks).
  void export_value(std::string name, Value value);

  /// Serves until stdin reaches EOF and every running task has finished; returns the exit
  /// status for main() (0, or 1 if the protocol channel failed).
  int run();

 private:
  std::unique_ptr<detail::WorkerImpl> impl_;
};

}  // namespace appose
