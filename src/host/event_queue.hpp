#pragma once

// The thread a service runs its callbacks on (task listeners, debug and log output), so that
// they never run on the thread reading the worker's output, and run in order.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace appose::detail {

/// Runs queued callbacks in order on one thread of its own, started on first use.
class EventQueue {
 public:
  EventQueue() = default;
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  /// Runs what is queued and ends the thread; on the queue's own thread, detaches it instead.
  ~EventQueue();

  /// Queues `fn`; starts the thread on first use. `fn` catches its own exceptions.
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

}  // namespace appose::detail
