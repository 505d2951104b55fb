#pragma once

// Internals of Service and Task (see ARCHITECTURE.md, "Handles and ownership"):
//
//   Service handle ──> ServiceFront ──> ServiceImpl <── Reaper (after the last handle is gone)
//   Task handle ────> TaskImpl, and the ServiceFront (a task keeps its service alive)
//   WorkerObject ───> ServiceFront (disowned in the inputs of a started task: no cycle)
//   ServiceImpl ───> pending TaskImpls (its task table)
//
// ServiceFront exists so that "the last user handle is gone" is an event: its destructor hands
// the ServiceImpl to the process-wide Reaper, which closes the worker's stdin, kills it after
// the grace period and joins the service's threads, so that no user thread ever blocks on it.
//
// Where they live: ServiceImpl in host/service_impl.cpp (the worker's life, requests) and
// host/service_output.cpp (the worker's output and exit); EventQueue, Reaper in their own
// files; TaskImpl and TaskWaiters in host/task.cpp; ServiceFront and Service in
// host/service.cpp.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "appose/service.hpp"
#include "appose/task.hpp"
#include "host/event_queue.hpp"
#include "host/request_writer.hpp"
#include "platform/process.hpp"
#include "wire/messages.hpp"

namespace appose::detail {

class TaskImpl;

/// One service and its worker: the process, the task table, what the worker printed, and the
/// threads (I/O, events). The public Service forwards to it through a ServiceFront.
class ServiceImpl : public std::enable_shared_from_this<ServiceImpl> {
 public:
  /// A service not started yet.
  explicit ServiceImpl(ServiceConfig config);
  ServiceImpl(const ServiceImpl&) = delete;
  ServiceImpl& operator=(const ServiceImpl&) = delete;
  /// Kills a worker still running (normally the Reaper has finished it) and joins the threads.
  ~ServiceImpl();

  /// Service::init(); throws once started.
  void set_init(std::string script);
  /// Service::env(); throws once started.
  void set_env(const std::map<std::string, std::optional<std::string>>& vars);
  /// Service::debug().
  void set_debug(std::function<void(std::string_view)> cb);
  /// Service::log().
  void set_log(std::function<void(std::string_view)> cb);
  /// Service::shutdown_grace().
  void set_grace(std::chrono::milliseconds grace);
  /// How long the worker may take to exit after EOF before the Reaper kills it.
  [[nodiscard]] std::chrono::milliseconds grace() const;
  /// The front whose destruction releases this service (weak: the front owns us).
  void set_front(std::weak_ptr<ServiceFront> front) { front_ = std::move(front); }
  /// Service::syntax(syntax).
  void set_syntax(std::shared_ptr<const ScriptSyntax> syntax);
  /// The script syntax set, if any.
  [[nodiscard]] std::shared_ptr<const ScriptSyntax> syntax() const;
  /// The front, while a user handle holds it.
  [[nodiscard]] std::shared_ptr<ServiceFront> front() const { return front_.lock(); }

  /// Starts the worker and the I/O thread; a no-op once started. Throws with the command when
  /// the worker cannot be started.
  void start();
  /// Kills the worker (if running), waits for it, and starts a fresh one.
  void restart();
  /// Sends `line` (one request, newline included) for `task`, entering it in the task table;
  /// crashes it at once if the worker is gone. Throws once the service is closed.
  void submit(const std::shared_ptr<TaskImpl>& task, std::string line);
  /// Sends a CANCEL for `task_id`, if the worker still runs and the service is not closed.
  void send_cancel(const std::string& task_id);
  /// Service::close(): EOF to the worker; no more requests.
  void close();
  /// Kills the worker's process group, if it runs; `reason` (a sentence saying who killed it
  /// and why) goes into the crash report, unless the worker had exited already or an earlier
  /// kill gave one.
  void kill(std::string reason);
  /// Service::wait_for(): the exit code once the worker has exited and every callback about
  /// it has run; nullopt on timeout. Throws if never started.
  std::optional<int> wait_for(std::optional<std::chrono::milliseconds> timeout);
  /// Started, and its worker not seen to exit.
  [[nodiscard]] bool is_alive() const;
  /// The worker has exited and the service has finished with it (pending tasks crashed).
  [[nodiscard]] bool exited() const;
  /// Service::invalid_lines(): the most recent unparsable stdout lines.
  [[nodiscard]] std::vector<std::string> invalid_lines() const;
  /// Service::error_lines(): the most recent stderr lines.
  [[nodiscard]] std::vector<std::string> error_lines() const;
  /// Service::worker_info(): what the worker's HELLO said.
  [[nodiscard]] std::optional<WorkerInfo> worker_info() const;
  /// Service::init_error().
  [[nodiscard]] std::optional<std::string> init_error() const;
  /// Records the init script's failure: `full` (the traceback a failed task carries) replaces
  /// what an earlier report said; a partial one (appose-python's one-line warning) only fills
  /// an empty slot.
  void set_init_error(std::string error, bool full);
  /// The configuration, env() changes included.
  [[nodiscard]] const ServiceConfig& config() const { return config_; }
  /// The worker's process id; -1 before the start.
  [[nodiscard]] std::int64_t pid() const;
  /// How requests to this worker are encoded (what its kind can decode).
  [[nodiscard]] codec::WriteOptions write_options() const;

  /// Posts to the event thread.
  void post(std::function<void()> fn) { events_.post(std::move(fn)); }
  /// Gives `message` to the log callback (and the debug one), on the event thread.
  void log(std::string message);
  /// Gives `message` to the debug callback as the service's, on the event thread.
  void debug_service(std::string message);
  /// Whether the calling thread is this service's event thread.
  [[nodiscard]] bool on_event_thread() const noexcept { return events_.on_queue_thread(); }

  /// Called by the Reaper once the last handle is gone: EOF to the worker.
  void release();
  /// Called by the Reaper after the worker has exited (or by the destructor after killing it):
  /// joins the I/O thread and the event thread.
  void join_threads();

 private:
  /// Reports the worker's output and exit to the service (host/service_output.cpp).
  class OutputHandler;

  /// Reads the worker's output until it exits, then finishes (the I/O thread).
  void io_loop();
  /// Decodes one stdout line and applies what it holds (I/O thread).
  void handle_stdout_line(std::string_view line);
  /// Keeps one stderr line and looks for appose-python's init warning (I/O thread).
  void handle_stderr_line(std::string line);
  /// Applies a response to the task `task_id` (the response's own id, which may be unset:
  /// the fast lane leaves it in the line), which leaves the table when it ends (I/O thread).
  void deliver(std::string_view task_id, codec::Response&& response);
  /// Records a HELLO as worker_info(), reporting a protocol mismatch (I/O thread).
  void handle_hello(const codec::Response& hello);
  /// Answers a CALL with an error REPLY (I/O thread).
  void reply_error(const std::string& call, std::string error);
  /// Why this service cannot serve `call`.
  [[nodiscard]] static std::string unsupported_call(const codec::Response& call);
  /// Keeps an unparsable stdout line, saying `why` to the debug callback.
  void record_invalid(std::string text, std::string_view why);
  /// Reaps the worker, crashes the pending tasks with the report, and marks the service
  /// exited (I/O thread, once the output is drained).
  void finish_after_exit();
  /// The report a crashed task carries: exit code, kill reason, the tails of the output.
  [[nodiscard]] std::string crash_report(int exit_code) const;
  /// Gives `message` to the debug callback, as "[<prefix>-<id>] message".
  void debug(std::string_view prefix, std::string message);
  /// Reports a request that could not be written, and kills the worker, so that its tasks
  /// crash (RequestWriter's Failed).
  void write_failed(std::error_code ec);

  const int id_;
  ServiceConfig config_;
  std::weak_ptr<ServiceFront> front_;

  mutable std::mutex mu_;  // guards everything below that the I/O thread and callers share
  std::condition_variable exited_cv_;
  enum class State : std::uint8_t { idle, running, exited } state_ = State::idle;
  // start() has finished starting the worker (its I/O thread too): read without mu_ by the
  // start() every task makes; cleared by restart() before it stops the worker.
  std::atomic<bool> started_{false};
  std::string init_script_;
  std::string init_file_;
  std::function<void(std::string_view)> debug_cb_;
  /// Whether debug_cb_ is set, read without the lock: the I/O thread skips building the text
  /// of a received line when nobody would see it. A callback set while a line is read may miss
  /// that line, as it would have missed one read a moment earlier.
  std::atomic<bool> debugging_{false};
  std::function<void(std::string_view)> log_cb_;
  std::shared_ptr<const ScriptSyntax> syntax_;
  std::chrono::milliseconds grace_{5000};
  platform::Process process_;
  bool exit_seen_ = false;
  std::optional<int> exit_code_;
  std::string dead_report_;
  // Set once the pending tasks have been crashed (before state_ becomes exited, so that
  // Service::wait_for() returns only after every pending task is CRASHED): from then on a
  // submitted task is crashed at once instead of entering the table.
  bool tasks_closed_ = false;
  // By id; hashed, as ids are long and alike (32 hex digits): a lookup per response. The key
  // is a view of the task's own id (TaskImpl::id_, which never changes), alive as long as the
  // entry's pointer: filing a task copies no string, and a response's id is looked up straight
  // from the line it was read from.
  std::unordered_map<std::string_view, std::shared_ptr<TaskImpl>> tasks_;
  // The most recent lines only (kKeptLines each, each cut at kKeptLineBytes): a worker that
  // prints for days must not grow the host without bound. The counts say how many were let go.
  std::deque<std::string> invalid_lines_;
  std::deque<std::string> error_lines_;
  std::size_t invalid_dropped_ = 0;
  std::size_t error_dropped_ = 0;
  // Why the service killed its worker, if it did (added to the crash report).
  std::string kill_reason_;
  std::optional<WorkerInfo> worker_info_;
  std::optional<std::string> init_error_;
  bool init_error_full_ = false;

  // Guards process_'s stdin for the writes and the close of requests_. Lock order: mu_ before
  // write_mu_ (only start() and restart() take both); a blocked write holds write_mu_ alone,
  // so kill() and the I/O thread never wait for it.
  std::mutex write_mu_;
  // The requests, in order (one write per request, or per batch of tasks in flight). Its
  // closed() is close(): called by the user, or the Reaper.
  RequestWriter requests_;

  std::thread io_thread_;  // ends once the worker has exited and its output is drained
  // Serialises restart(): two at once would both join io_thread_ and both assign a new one.
  // Taken by callers and by listeners that restart (the event thread), never by the I/O
  // thread; while held, restart() waits only for the I/O thread, never for the event thread.
  std::mutex restart_mu_;
  EventQueue events_;
};

/// Owned by the user's Service handles (and Task handles); its destruction starts shutdown.
class ServiceFront {
 public:
  /// Fronts `impl`.
  explicit ServiceFront(std::shared_ptr<ServiceImpl> impl) : impl_(std::move(impl)) {}
  ServiceFront(const ServiceFront&) = delete;
  ServiceFront& operator=(const ServiceFront&) = delete;
  /// Hands the service to the Reaper.
  ~ServiceFront();
  /// The service behind.
  [[nodiscard]] const std::shared_ptr<ServiceImpl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<ServiceImpl> impl_;
};

/// Where Task::wait_for() waits. Kept apart from the TaskImpl, which owns the outputs (and so
/// their shared-memory blocks), so that an internal thread can drop its last reference to the
/// task *before* it wakes the waiters: once wait_for() returns, the caller's handles are the
/// only ones left, and dropping them releases the outputs at once, deterministically.
class TaskWaiters {
 public:
  /// The terminal state is set and the I/O side holds the task no more. `settled`: no listener
  /// is left to run (else settled() follows from the event thread).
  void finished(bool settled);
  /// The terminal event's listeners have run and the event thread holds the task no more.
  void settled();
  /// On an event thread (a listener waiting for a task) only `finished` counts, or a listener
  /// waiting for its own task would wait for itself.
  bool wait(bool on_event_thread, std::optional<std::chrono::milliseconds> timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  bool settled_ = false;
};

class TaskImpl : public std::enable_shared_from_this<TaskImpl> {
 public:
  TaskImpl(std::weak_ptr<ServiceImpl> service, std::string script, Args inputs,
           std::optional<std::string> queue);

  const std::string id_;
  const std::string script_;
  const std::optional<std::string> queue_;

  Args& inputs() { return inputs_; }
  void listen(TaskListener listener);
  /// Sends the task. With `if_initial`, a task that another thread has started already is left
  /// alone (Task::wait_for()); otherwise that is an error (Task::start()).
  void start(const std::shared_ptr<ServiceFront>& front, bool if_initial = false);
  bool wait(std::optional<std::chrono::milliseconds> timeout);
  void cancel();

  /// What applying a response did; see release().
  struct Applied {
    bool terminal = false;   // this response ended the task
    bool listeners = false;  // ...and its listeners will run on the event thread
  };
  /// Applies a response from the worker (I/O thread).
  [[nodiscard]] Applied handle(codec::Response&& response);
  /// Ends the task as CRASHED with `report` (worker gone).
  [[nodiscard]] Applied crash(std::string report);
  /// Drops the caller's reference to `task`, then wakes its waiters if `applied` ended it. Every
  /// internal thread that ends a task goes through here (see TaskWaiters).
  static void release(std::shared_ptr<TaskImpl> task, Applied applied);

  mutable std::mutex mu_;
  TaskStatus status_ = TaskStatus::INITIAL;
  bool started_ = false;  // a start() has sent the task (or crashed it), or is about to
  // A start() has sent the task (or crashed it): set last, read without a lock by the start
  // Task::wait_for() makes, which has nothing to do then.
  std::atomic<bool> sent_{false};
  Args outputs_;
  std::optional<std::string> error_;
  std::optional<std::string> message_;
  std::optional<std::int64_t> current_, maximum_;
  Value info_;

 private:
  Applied apply(codec::Response&& response);
  void dispatch(TaskEvent event, bool terminal);
  void run_listeners(const TaskEvent& event, bool terminal,
                     const std::weak_ptr<ServiceImpl>& service);
  [[nodiscard]] Args adopt_outputs(Args outputs) const;
  /// Makes the WorkerObjects in `v` stop owning their service (see Task::inputs()).
  static void disown_worker_objects(Value& v);

  const std::shared_ptr<TaskWaiters> waiters_ = std::make_shared<TaskWaiters>();
  std::mutex start_mu_;  // serialises start() attempts; taken before mu_, never inside it
  std::weak_ptr<ServiceImpl> service_;
  Args inputs_;
  // Frozen once the task starts; read by the event thread only, which drops them after the
  // terminal event (a listener capturing its Service must not keep it alive for ever).
  std::vector<TaskListener> listeners_;
};

}  // namespace appose::detail
