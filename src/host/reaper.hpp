#pragma once

// The process-wide finisher of released services (see host/service_impl.hpp): once a service's
// last handle is gone, it closes the worker's stdin, kills it after the grace period and joins
// the service's threads, so that no user thread ever blocks on that. It also runs the
// hard-cancel deadlines of tasks.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace appose::detail {

class ServiceImpl;

/// See the file comment. One per process, with one thread, never destroyed.
class Reaper {
 public:
  /// The process's reaper, started on first use.
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
