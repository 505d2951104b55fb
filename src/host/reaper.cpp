#include "host/reaper.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "host/service_impl.hpp"

namespace appose::detail {

Reaper& Reaper::instance() {
  // Deliberately never destroyed: services may be released during static destruction, after a
  // function-local static would already be gone.
  static Reaper* reaper = [] {
    auto* r = new Reaper();
    std::atexit([] { Reaper::instance().drain_at_exit(); });
    return r;
  }();
  return *reaper;
}

Reaper::Reaper() {
  std::thread([this] { run(); }).detach();
}

void Reaper::adopt(std::shared_ptr<ServiceImpl> service) {
  if (service->pid() < 0) return;  // never started: nothing to finish
  auto grace = service->grace();
  service->release();
  std::lock_guard lock(mu_);
  jobs_.push_back({std::move(service), std::chrono::steady_clock::now() + grace, grace, false});
  cv_.notify_all();
}

void Reaper::notify() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void Reaper::schedule(std::chrono::steady_clock::time_point deadline, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  timers_.emplace(deadline, std::move(fn));
  cv_.notify_all();
}

void Reaper::run() {
  std::unique_lock lock(mu_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<ServiceImpl>> finished;
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->service->exited()) {
        finished.push_back(std::move(it->service));
        it = jobs_.erase(it);
        continue;
      }
      if (!it->killed && now >= it->deadline) {
        it->service->kill(fmt::format(
            "The service killed the worker: its last handle was dropped, and the worker had not "
            "exited {} ms after EOF on its stdin (Service::shutdown_grace()).",
            it->grace.count()));
        it->killed = true;
      }
      if (!it->killed) next = std::min(next, it->deadline);
      ++it;
    }
    std::vector<std::function<void()>> due;
    while (!timers_.empty() && timers_.begin()->first <= now) {
      due.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    if (!timers_.empty()) next = std::min(next, timers_.begin()->first);
    if (!due.empty()) {
      lock.unlock();
      for (auto& fn : due)
        fn();
      due.clear();
      lock.lock();
    }
    if (!finished.empty()) {
      lock.unlock();
      for (auto& s : finished)
        s->join_threads();
      finished.clear();  // destroys the services here, on the reaper's thread
      lock.lock();
      cv_.notify_all();
      continue;
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, next);
    }
  }
}

void Reaper::drain_at_exit() {
  // At exit, wait for the released workers: they have EOF already (an idle Python worker exits
  // at once), and the reaper thread kills those still running at the end of their grace
  // period, so the host leaves no worker behind. Services still held by live handles are not
  // waited for: their workers read EOF when this process's end closes the pipes.
  std::unique_lock lock(mu_);
  auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (const auto& job : jobs_)
    limit = std::max(limit, job.deadline + std::chrono::seconds(1));
  cv_.wait_until(lock, limit, [&] { return jobs_.empty(); });
}

}  // namespace appose::detail
