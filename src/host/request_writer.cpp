#include "host/request_writer.hpp"

#include <utility>

#include "appose/error.hpp"
#include "platform/thread_policy.hpp"

namespace appose::detail {

RequestWriter::RequestWriter(Write write, Close close, Failed failed)
    : write_(std::move(write)), close_(std::move(close)), failed_(std::move(failed)) {}

RequestWriter::~RequestWriter() {
  stop();
}

void RequestWriter::send(std::string_view line, bool batch) {
  std::unique_lock lock(mu_);
  if (closed_) throw Error(kClosedMessage);
  if (!batch && !busy_ && queued_.empty()) {
    busy_ = true;
    lock.unlock();
    write(line);
    lock.lock();
    release(lock);
    return;
  }
  if (batch) {
    drained_.wait(lock, [&] { return queued_.size() < kQueueLimit || closed_; });
    if (closed_) throw Error(kClosedMessage);
  }
  const bool first = queued_.empty();
  queued_ += line;
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  // A later line finds the thread woken already, or busy_'s holder hands over in release().
  if (first && !busy_) ready_.notify_one();
}

void RequestWriter::close() {
  std::unique_lock lock(mu_);
  if (closed_.exchange(true)) return;
  drained_.notify_all();  // senders waiting for room are refused now
  if (busy_ || !queued_.empty()) {
    close_pending_ = true;  // release() closes once the queue is written
    return;
  }
  close_now(lock);
}

void RequestWriter::reset() {
  stop();
  std::lock_guard lock(mu_);
  close_pending_ = false;
  closed_ = false;
}

void RequestWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  ready_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mu_);
  stop_ = false;
  queued_.clear();
  drained_.notify_all();
  // close() came while lines were queued: with them dropped, the close is due now.
  if (close_pending_ && !busy_) close_now(lock);
}

void RequestWriter::run() {
  // Woken by a caller that is still starting tasks: on one CPU, running at once would write
  // one line per wake-up; run on, the caller queues the rest first and the writer writes them
  // all when it blocks (half the wake-ups, 7% more tasks per second: docs/benchmarks.md).
  platform::let_waker_run_on();
  std::unique_lock lock(mu_);
  while (true) {
    ready_.wait(lock, [&] { return stop_ || (!busy_ && !queued_.empty()); });
    if (stop_) return;
    spare_.swap(queued_);
    busy_ = true;
    drained_.notify_all();
    lock.unlock();
    write(spare_);
    spare_.clear();
    lock.lock();
    release(lock);
  }
}

void RequestWriter::release(std::unique_lock<std::mutex>& lock) {
  busy_ = false;
  if (!queued_.empty()) {
    ready_.notify_one();
    return;
  }
  if (close_pending_) close_now(lock);
}

void RequestWriter::close_now(std::unique_lock<std::mutex>& lock) {
  close_pending_ = false;
  busy_ = true;  // the stream's turn: no write may start while it closes
  lock.unlock();
  close_();
  lock.lock();
  busy_ = false;
}

void RequestWriter::write(std::string_view bytes) {
  if (const std::error_code ec = write_(bytes)) failed_(ec);
}

}  // namespace appose::detail
