#pragma once

// The requests a service sends its worker, in the order they are sent, whole lines each. One
// task at a time costs one write by the thread that starts it: the shortest path. Tasks started
// while others are in flight are queued instead, and a thread of the writer's own writes all
// that has queued in one write: a caller that keeps 64 tasks in flight pays one wake-up per
// batch rather than a write (three system calls with the SIGPIPE guard) per task, and the
// worker reads the batch at once (issue 18; docs/benchmarks.md, row 6h).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace appose::detail {

/// See the file comment. Thread-safe; the callbacks run on the thread that writes (a caller
/// of send(), or the writer's thread), never two at once, and without any lock of the writer's
/// held, so they may take their own.
class RequestWriter {
 public:
  /// Writes the bytes to the worker's stdin, all of them, or says why not.
  using Write = std::function<std::error_code(std::string_view)>;
  /// Closes the worker's stdin (EOF).
  using Close = std::function<void()>;
  /// A write failed: no answer can come to what it carried.
  using Failed = std::function<void(std::error_code)>;

  RequestWriter(Write write, Close close, Failed failed);
  RequestWriter(const RequestWriter&) = delete;
  RequestWriter& operator=(const RequestWriter&) = delete;
  /// Stops the writer's thread (what is queued is dropped).
  ~RequestWriter();

  /// Sends `line` (newline included), after everything sent before it. With `batch` false it
  /// is written at once by this thread unless another write is under way or lines are
  /// queued; otherwise (or with `batch`) it is queued for the writer's thread. A batched line
  /// waits while kQueueLimit bytes are queued, as a write waits for a full pipe, so that a
  /// worker slower than its caller cannot grow the queue without bound; an unbatched one (a
  /// CANCEL, the I/O thread's REPLY) never waits for room. A failed write is reported through
  /// Failed, not thrown. Throws appose::Error once close() was called.
  void send(std::string_view line, bool batch);
  /// Refuses further lines; the worker's stdin is closed once what is queued is written.
  void close();
  /// Whether close() was called.
  [[nodiscard]] bool closed() const noexcept { return closed_.load(); }
  /// Makes the writer fresh for a new worker: stops its thread, drops what is queued and opens
  /// it again. For Service::restart(), once the old worker has exited.
  void reset();
  /// Stops the writer's thread and waits for it, dropping what is queued: for once the worker
  /// has exited (a line queued later starts the thread again).
  void stop();

  /// What send() throws with once the writer is closed (and the service says, refusing a task
  /// before it sends it).
  static constexpr const char* kClosedMessage =
      "the service is closed: no more tasks can be sent to it";

  /// Bytes queued beyond which a batched send() waits for the writer's thread.
  static constexpr std::size_t kQueueLimit = std::size_t{1} << 20;

 private:
  /// The writer's thread: writes what is queued whenever no other write is under way.
  void run();
  /// Ends this thread's turn at the stream (`lock` on mu_ held): hands over to the writer's
  /// thread what was queued meanwhile, or closes the stream if that was asked and nothing is.
  void release(std::unique_lock<std::mutex>& lock);
  /// Closes the stream, taking its turn for it, with `lock` on mu_ released meanwhile.
  void close_now(std::unique_lock<std::mutex>& lock);
  /// Writes `bytes` with no lock held, and reports a failure.
  void write(std::string_view bytes);

  const Write write_;
  const Close close_;
  const Failed failed_;

  std::mutex mu_;
  std::condition_variable ready_;    // the writer's thread waits on it
  std::condition_variable drained_;  // a batched send() waits on it for room in the queue
  std::string queued_;               // lines waiting for the writer's thread, in order
  std::string spare_;                // the writer's buffer, swapped with queued_ to keep capacity
  bool busy_ = false;                // a thread is writing (or closing): the stream's one turn
  bool close_pending_ = false;       // close() came while lines were queued or being written
  bool stop_ = false;                // the writer's thread is to end
  std::atomic<bool> closed_{false};
  std::thread thread_;  // started by the first queued line
};

}  // namespace appose::detail
