#include "host/event_queue.hpp"

#include <memory>
#include <utility>

namespace appose::detail {

namespace {

// The queue whose thread this is, if any: a per-thread fact, not shared state.
thread_local const EventQueue* current_queue = nullptr;

}  // namespace

EventQueue::~EventQueue() {
  if (thread_.joinable() && !on_queue_thread()) stop_and_join();
  if (thread_.joinable()) thread_.detach();
}

void EventQueue::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(fn));
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
}

void EventQueue::flush() {
  if (on_queue_thread()) return;
  // Shared with the marker: the waiter may return (and leave) while the queue's thread is
  // still inside notify_all().
  struct Marker {
    std::mutex mu;
    std::condition_variable cv;
    bool reached = false;
  };
  auto marker = std::make_shared<Marker>();
  {
    // Checked and queued under one lock: a marker queued after stop_and_join() took the queue
    // would never run.
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back([marker] {
      std::lock_guard marker_lock(marker->mu);
      marker->reached = true;
      marker->cv.notify_all();
    });
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_one();
  }
  std::unique_lock lock(marker->mu);
  marker->cv.wait(lock, [&] { return marker->reached; });
}

void EventQueue::stop_and_join() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  // Callbacks posted after the thread ended (none in practice) run here, in order.
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(queue_);
  }
  for (auto& fn : rest)
    fn();
}

bool EventQueue::on_queue_thread() const noexcept {
  return current_queue == this;
}
bool EventQueue::on_any_queue_thread() noexcept {
  return current_queue != nullptr;
}

void EventQueue::run() {
  current_queue = this;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();          // callbacks catch their own exceptions
    fn = nullptr;  // destroy captured handles outside the lock
    lock.lock();
  }
  current_queue = nullptr;
}

}  // namespace appose::detail
