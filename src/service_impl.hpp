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

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "appose/service.hpp"
#include "appose/task.hpp"
#include "codec.hpp"
#include "platform/process.hpp"

namespace appose::detail {

class TaskImpl;

/// Runs queued callbacks in order on one thread: listeners and debug output, off the I/O thread.
class EventQueue {
 public:
  EventQueue() = default;
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  ~EventQueue();

  /// Queues `fn`; starts the thread on first use.
  void post(std::function<void()> fn);
  /// Waits until everything queued before this call has run. Returns at once on the queue's
  /// own thread (it would wait for itself) and on a stopped queue.
  void flush();
  /// Runs what is queued, then ends the thread. Must not be called on the queue's own thread.
  void stop_and_join();
  /// Whether the calling thread is this queue's thread.
  [[nodiscard]] bool on_queue_thread() const noexcept;
  /// Whether the calling thread is any EventQueue's thread.
  static bool on_any_queue_thread() noexcept;

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

class ServiceImpl : public std::enable_shared_from_this<ServiceImpl> {
 public:
  explicit ServiceImpl(ServiceConfig config);
  ServiceImpl(const ServiceImpl&) = delete;
  ServiceImpl& operator=(const ServiceImpl&) = delete;
  ~ServiceImpl();

  void set_init(std::string script);
  void set_env(const std::map<std::string, std::optional<std::string>>& vars);
  void set_debug(std::function<void(std::string_view)> cb);
  void set_log(std::function<void(std::string_view)> cb);
  void set_grace(std::chrono::milliseconds grace);
  [[nodiscard]] std::chrono::milliseconds grace() const;
  void set_front(std::weak_ptr<ServiceFront> front) { front_ = std::move(front); }
  void set_syntax(std::shared_ptr<const ScriptSyntax> syntax);
  [[nodiscard]] std::shared_ptr<const ScriptSyntax> syntax() const;
  [[nodiscard]] std::shared_ptr<ServiceFront> front() const { return front_.lock(); }

  void start();
  /// Kills the worker (if running), waits for it, and starts a fresh one.
  void restart();
  /// Sends a started task's EXECUTE, or crashes it at once if the worker is gone.
  /// Sends `line` (one request, newline included) for `task`.
  void submit(const std::shared_ptr<TaskImpl>& task, std::string line);
  void send_cancel(const std::string& task_id);
  void close();
  /// Kills the worker's process group, if it runs; `reason` (a sentence saying who killed it
  /// and why) goes into the crash report, unless the worker had exited already or an earlier
  /// kill gave one.
  void kill(std::string reason);
  std::optional<int> wait_for(std::optional<std::chrono::milliseconds> timeout);
  [[nodiscard]] bool is_alive() const;
  [[nodiscard]] bool exited() const;
  [[nodiscard]] std::vector<std::string> invalid_lines() const;
  [[nodiscard]] std::vector<std::string> error_lines() const;
  [[nodiscard]] std::optional<WorkerInfo> worker_info() const;
  [[nodiscard]] std::optional<std::string> init_error() const;
  /// Records the init script's failure: `full` (the traceback a failed task carries) replaces
  /// what an earlier report said; a partial one (appose-python's one-line warning) only fills
  /// an empty slot.
  void set_init_error(std::string error, bool full);
  [[nodiscard]] const ServiceConfig& config() const { return config_; }
  [[nodiscard]] std::int64_t pid() const;
  [[nodiscard]] codec::WriteOptions write_options() const;

  /// Posts to the event thread.
  void post(std::function<void()> fn) { events_.post(std::move(fn)); }
  void log(std::string message);
  void debug_service(std::string message);
  [[nodiscard]] bool on_event_thread() const noexcept { return events_.on_queue_thread(); }

  /// Called by the Reaper once the last handle is gone: EOF to the worker.
  void release();
  /// Called by the Reaper after the worker has exited (or by the destructor after killing it):
  /// joins the I/O thread and the event thread.
  void join_threads();

 private:
  void io_loop();
  void handle_stdout_line(std::string_view line);
  void handle_stderr_line(std::string line);
  /// Records a HELLO as worker_info(), reporting a protocol mismatch (I/O thread).
  void handle_hello(const codec::Response& hello);
  /// Answers a CALL with an error REPLY (I/O thread).
  void reply_error(const std::string& call, std::string error);
  /// Why this service cannot serve `call`.
  [[nodiscard]] static std::string unsupported_call(const codec::Response& call);
  void record_invalid(std::string text, std::string_view why);
  void finish_after_exit();
  [[nodiscard]] std::string crash_report(int exit_code) const;
  void debug(std::string_view prefix, std::string message);
  void write_line(const std::string& line);
  [[nodiscard]] std::shared_ptr<TaskImpl> find_task(const std::string& id);

  const int id_;
  ServiceConfig config_;
  std::weak_ptr<ServiceFront> front_;

  mutable std::mutex mu_;  // guards everything below that the I/O thread and callers share
  std::condition_variable exited_cv_;
  enum class State : std::uint8_t { idle, running, exited } state_ = State::idle;
  std::string init_script_;
  std::string init_file_;
  std::function<void(std::string_view)> debug_cb_;
  std::function<void(std::string_view)> log_cb_;
  std::shared_ptr<const ScriptSyntax> syntax_;
  std::chrono::milliseconds grace_{5000};
  Process process_;
  bool exit_seen_ = false;
  std::optional<int> exit_code_;
  std::string dead_report_;
  // Set once the pending tasks have been crashed (before state_ becomes exited, so that
  // Service::wait_for() returns only after every pending task is CRASHED): from then on a
  // submitted task is crashed at once instead of entering the table.
  bool tasks_closed_ = false;
  std::map<std::string, std::shared_ptr<TaskImpl>> tasks_;
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

  // One whole line per write. Lock order: mu_ before write_mu_ (only start() takes both);
  // a blocked write holds write_mu_ alone, so kill() and the I/O thread never wait for it.
  std::mutex write_mu_;
  bool stdin_closed_ = false;  // close() was called (by the user, or the Reaper)

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
  explicit ServiceFront(std::shared_ptr<ServiceImpl> impl) : impl_(std::move(impl)) {}
  ServiceFront(const ServiceFront&) = delete;
  ServiceFront& operator=(const ServiceFront&) = delete;
  ~ServiceFront();
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
  [[nodiscard]] Applied handle(codec::Response response);
  /// Ends the task as CRASHED with `report` (worker gone).
  [[nodiscard]] Applied crash(std::string report);
  /// Drops the caller's reference to `task`, then wakes its waiters if `applied` ended it. Every
  /// internal thread that ends a task goes through here (see TaskWaiters).
  static void release(std::shared_ptr<TaskImpl> task, Applied applied);

  mutable std::mutex mu_;
  TaskStatus status_ = TaskStatus::INITIAL;
  bool started_ = false;  // a start() has sent the task (or crashed it), or is about to
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

/// The process-wide finisher of released services (see the file comment).
class Reaper {
 public:
  static Reaper& instance();
  /// Takes over a service whose last handle is gone.
  void adopt(std::shared_ptr<ServiceImpl> service);
  /// A service's worker has exited: wake up to join it.
  void notify();
  /// Runs `fn` on the reaper's thread at `deadline` (hard-cancel deadlines). `fn` must be quick
  /// and must not throw.
  void schedule(std::chrono::steady_clock::time_point deadline, std::function<void()> fn);

 private:
  Reaper();
  void run();
  void drain_at_exit();

  struct Job {
    std::shared_ptr<ServiceImpl> service;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds grace;  // for the kill reason
    bool killed = false;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers_;
};

}  // namespace appose::detail
