#pragma once

// The engine behind appose::Worker and appose::WorkerTask (include/appose/worker.hpp): requests
// in from the protocol channel, operations on a pool of threads and on the thread that called
// run(), responses out. What it needs from the OS (the channel, the host watch) lives in
// src/platform/.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
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
#include <utility>
#include <vector>

#include "appose/worker.hpp"
#include "platform/alarm.hpp"
#include "platform/protocol_channel.hpp"
#include "wire/messages.hpp"

namespace appose::detail {

/// A defined operation and the thread it runs on (Worker::define()).
struct OperationEntry {
  Operation run;
  Dispatch dispatch = Dispatch::pool;
};

/// One request being served: what a WorkerTask refers to while its operation runs.
class WorkerTaskImpl {
 public:
  /// How the task ends once its operation returns.
  enum class Ending : std::uint8_t { complete, cancel, fail };

  /// The worker serving the task, for updates and exports.
  WorkerImpl* worker = nullptr;
  /// The request's task id.
  std::string id;
  /// The operation's name: the request's script, trimmed.
  std::string operation;
  /// The operation defined under that name, looked up once when the request is read; null if
  /// there is none (the task then fails, naming the known ones).
  const OperationEntry* entry = nullptr;
  /// The request's inputs, their blocks attached.
  Args inputs;
  /// What the operation produces; sent with the COMPLETION.
  Args outputs;
  /// Set by a CANCEL request, from the reader thread.
  std::atomic<bool> cancel_requested{false};
  /// Run by the thread that read its request: an immediate task (Dispatch::immediate), or a
  /// pool task while the pool was idle (WorkerImpl::handle_request()).
  bool on_reader = false;
  /// Its responses are held back and written with others (WorkerImpl::respond()): those of an
  /// `on_reader` task until `released`, those of any other task for at most kTakeover.
  bool held = false;
  /// Another thread has taken over reading because this `on_reader` pool task ran too long (an
  /// immediate task never is released): its responses are written at once from then on. Set
  /// under both WorkerImpl::mu and WorkerImpl::held_mu, so either lock is enough to read it.
  bool released = false;

  /// Records how the task is to end (WorkerTask::cancel(), fail(), or a throw): the last call
  /// wins.
  void end_as(Ending e, std::string message = {});
  /// How the task is to end, and the failure message if it fails.
  std::pair<Ending, std::string> take_ending();

 private:
  /// The operation's thread and a throw's handler both set the ending.
  std::mutex mu;
  /// How the task ends; a task whose operation just returns completes.
  Ending ending = Ending::complete;
  /// The failure message, for Ending::fail.
  std::string failure;
};

/// The worker itself: its settings (from the Worker facade), its exports, and the serving loop.
class WorkerImpl {
 public:
  /// The operations by name (Worker::define()).
  std::map<std::string, OperationEntry, std::less<>> operations;
  /// Runs once before the first request is read (Worker::on_init()).
  std::function<void(Worker&)> init;
  /// Whether run() sends a HELLO first (Worker::hello(); APPOSE_WORKER_HELLO=0 overrides).
  bool hello = true;
  /// Whether run() moves the protocol off the standard streams (Worker::shield_protocol()).
  bool shield = true;
  /// How many operations run at once off the main thread (Worker::max_concurrency()).
  std::size_t concurrency = std::max(2U, std::thread::hardware_concurrency());

  /// Blocks handed over to the host, held open until the worker ends where a block dies with
  /// its last handle (Windows' named mappings): the protocol has no acknowledgement of the
  /// host's attach, so letting go earlier could free a block before the host maps it. Where
  /// names outlive handles (POSIX) it stays empty. Guarded by `handed_mu`.
  std::vector<SharedMemory> handed_blocks;
  std::mutex handed_mu;

  /// Guards `exports`, which operations on several threads read and write.
  mutable std::mutex exports_mu;
  /// Values kept by export_value() for later tasks.
  std::map<std::string, Value, std::less<>> exports;

  /// Encodes and sends one response of `task` (null: of no task that runs, such as a HELLO).
  /// Outputs of a COMPLETION are handed over to the host only once the line exists (an
  /// unencodable output fails the task and stays the worker's), and taken back if the line
  /// cannot be written. The responses of `held` tasks not `released` join those held back,
  /// which go out in one write when a thread is about to wait (for input, or for a task:
  /// flush_held()), with an UPDATE (progress is never held), when they reach kHeldLimit, or
  /// when the oldest has waited kTakeover (watch(), for a thread that went on to a long task):
  /// a task's LAUNCH and final response, and those of tasks that arrived together, cost the
  /// host one wake-up instead of one per line.
  void respond(codec::Response response, const WorkerTaskImpl* task = nullptr);
  /// Sends a response of `task` that carries nothing but its type (see
  /// codec::append_task_event()), as respond() would.
  void respond_plain(const WorkerTaskImpl& task, ResponseType type);
  /// Writes the held responses now.
  void flush_held();

  /// Sends an UPDATE for `task` (WorkerTask::update()).
  void update(WorkerTaskImpl& task, std::optional<std::string> message,
              std::optional<std::int64_t> current, std::optional<std::int64_t> maximum, Value info);

  /// Serves until stdin ends and every task has finished (Worker::run()); returns 0, or 1 if
  /// the protocol channel could not be taken.
  int run(Worker& facade);

 private:
  /// Announces the worker (HELLO), so that a service can check the protocol version.
  void send_hello();
  /// One thread of the pool: takes the reader's part when it is free (read_requests()), else
  /// runs queued tasks, until the input has ended and the queue is empty.
  void pool_thread();
  /// Reads and dispatches requests until the channel ends (then lets the serving loops
  /// finish), or until another thread took over reading while this one ran a task.
  void read_requests();
  /// Reads the requests on one line and hands each to handle_request(); reports the rest.
  /// Returns false when this thread is no longer the reader.
  bool handle_line(std::string_view line);
  /// Queues (or runs, Dispatch::immediate) an EXECUTE, flags a CANCEL, reports a REPLY. A pool
  /// task is run here, by the reader, when `may_run_here` (its line held nothing else), no
  /// other request is waiting to be read, the queue is empty and a pool thread is idle to take
  /// over reading should it run longer than kTakeover (watch()). Returns false when
  /// that happened: this thread is no longer the reader.
  bool handle_request(codec::Request request, bool may_run_here = false);
  /// Hands reading over to an idle pool thread when the task the reader runs has run for
  /// kTakeover, and writes held responses once the oldest has waited that long; runs on its
  /// own thread, woken by `alarm`, until the alarm stops.
  void watch();
  /// Has the alarm ring within kTakeover, unless it is set already (one system call per
  /// setting, not per task: watch() sets it again for what is left when it rings).
  void arm_alarm();
  /// Ends a task that never started with a FAILURE, so that its host does not wait for ever.
  void fail_request(std::string task_id, std::string error);
  /// Whether task `id` is queued or running.
  bool is_active(const std::string& id);
  /// Runs tasks from the main queue until it is empty and stdin has ended.
  void serve_main();
  /// Writes the held responses with `lock` (on `mu`) released: what a thread does before it
  /// waits for work, or ends.
  void flush_unlocked(std::unique_lock<std::mutex>& lock);
  /// Takes the first task of `queue` and runs it with `lock` (on `mu`) released.
  void run_next(std::unique_lock<std::mutex>& lock,
                std::deque<std::shared_ptr<WorkerTaskImpl>>& queue);
  /// Runs one task's operation between its LAUNCH and its final response.
  void execute(WorkerTaskImpl& task);

  /// Writes `lines` (whole lines, each with its newline) for `task`, or holds them (see
  /// respond()); `handed`: the blocks they hand over to the host.
  void send_lines(std::string_view lines, std::vector<SharedMemory>& handed, bool update,
                  const WorkerTaskImpl* task);
  /// Writes the held responses; `held_mu` is held.
  void write_held();
  /// After a response was written (`ok`) or not: its handed-over blocks stay the host's (and,
  /// where blocks die with their handles, open here), or become the worker's again.
  void sent(bool ok, std::vector<SharedMemory>& handed);

  /// Held responses are written once they reach this many bytes, whatever comes next.
  static constexpr std::size_t kHeldLimit = std::size_t{64} << 10;
  /// How long a pool task runs on the reader thread before another thread takes over reading:
  /// the longest a request or CANCEL that arrives meanwhile waits to be read, and a response
  /// held back waits to be sent (a LAUNCH, or the end of a task its thread followed with a
  /// long one). A task that ends sooner (most short ones) saves the hand-off to the pool,
  /// a context switch or two, and its LAUNCH and final response go out in one write. While
  /// tasks keep coming, watch() wakes about once per kTakeover: at 0.5 ms that wake
  /// showed in the 99th percentile of a round trip (30-36 µs pinned, against 15-19 µs at 1 ms;
  /// docs/benchmarks.md).
  static constexpr std::chrono::microseconds kTakeover{1000};

  /// Requests in, responses out; taken from stdin/stdout by run().
  platform::ProtocolChannel channel;
  /// Guards `held_lines`, `held_since` and `held_blocks`: tasks on several threads hold
  /// responses, and an operation may send updates from threads of its own.
  std::mutex held_mu;
  /// Responses of `held` tasks not written yet, each ending in a newline, in order.
  std::string held_lines;
  /// When the first of `held_lines` was held.
  std::chrono::steady_clock::time_point held_since;
  /// The blocks handed over in `held_lines`, taken back if they cannot be written.
  std::vector<SharedMemory> held_blocks;
  /// Rings when the task the reader runs may have run for kTakeover, or held responses may
  /// have waited that long (watch()); null where the system would not give a timer, and then
  /// the reader runs no pool task itself and only immediate tasks hold their responses.
  std::unique_ptr<platform::Alarm> alarm;
  /// The alarm is set; cleared by watch() when it rings, before it looks what is left to
  /// watch (so a setting it misses is made by arm_alarm()).
  std::atomic<bool> alarm_set{false};
  /// Guards the queues, `active`, `eof` and the reader's state below.
  std::mutex mu;
  /// Wake one pool thread when a task is queued or the reader's part is free, or the main
  /// thread when a task is queued for it; all of them when the input has ended. One signal per
  /// queue: a request wakes one thread, not every idle one (each needless wake-up is a context
  /// switch per task).
  std::condition_variable pool_ready, main_ready;
  /// No thread reads requests: the first pool thread to see it takes the part.
  bool reader_wanted = true;
  /// Pool threads waiting for work, any of which can take over reading.
  std::size_t idle = 0;
  /// The pool task the reader is running itself, and since when; null when none.
  std::shared_ptr<WorkerTaskImpl> reader_task;
  std::chrono::steady_clock::time_point reader_task_since;
  /// Tasks waiting for a pool thread, and those for the thread that called run()
  /// (`queue: "main"`), in order of arrival.
  std::deque<std::shared_ptr<WorkerTaskImpl>> pool_queue, main_queue;
  /// Tasks queued or running, by id: CANCELs find them here, and a second EXECUTE for one is
  /// refused.
  std::unordered_map<std::string, std::shared_ptr<WorkerTaskImpl>> active;
  /// The input has ended: the serving loops return once their queues are empty.
  bool eof = false;
};

}  // namespace appose::detail
