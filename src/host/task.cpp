#include "appose/task.hpp"

#include <fmt/format.h>
#include <array>
#include <unordered_map>

#include "core/value_blocks.hpp"
#include "host/python_bootstrap.hpp"
#include "host/reaper.hpp"
#include "host/service_impl.hpp"
#include "util/random.hpp"
#include "wire/resolve.hpp"

namespace appose {

std::string_view to_string(TaskStatus status) noexcept {
  static constexpr std::array<std::string_view, 7> names = {
      "INITIAL", "QUEUED", "RUNNING", "COMPLETE", "CANCELED", "FAILED", "CRASHED"};
  return names[static_cast<std::size_t>(status)];
}

namespace detail {

namespace {

/// Blocks that arrive as outputs belong to the host (SHARED_MEMORY.md): they are unlinked once
/// the host drops them. A block the task's own inputs already hold (a script that returns its
/// input array) keeps the input's handle and ownership instead, so that returning an input
/// never destroys it.
Value adopt(Value v, const std::unordered_map<std::string, SharedMemory>& inputs) {
  switch (v.kind()) {
    case Value::Kind::shared_memory: {
      auto shm = v.get<SharedMemory>();
      // The input's handle, viewing the region the output names (it may differ).
      if (auto it = inputs.find(shm.name()); it != inputs.end()) {
        return it->second.with_region(shm.region());
      }
      shm.unlink_on_close(true);
      return shm;
    }
    case Value::Kind::ndarray: {
      auto a = v.get<NDArray>();
      if (auto it = inputs.find(a.shm().name()); it != inputs.end()) {
        return NDArray(a.dtype(), a.shape(), it->second.with_region(a.shm().region()));
      }
      SharedMemory shm = a.shm();
      shm.unlink_on_close(true);
      return a;
    }
    case Value::Kind::array: {
      Array out;
      out.reserve(v.as_array().size());
      for (auto& item : v.as_array())
        out.push_back(adopt(std::move(item), inputs));
      return out;
    }
    case Value::Kind::object: {
      Args out;
      for (auto& [k, item] : v.as_object())
        out.insert_or_assign(k, adopt(std::move(item), inputs));
      return out;
    }
    default:
      return v;
  }
}

std::string exception_text(TaskStatus status, const std::optional<std::string>& error) {
  switch (status) {
    case TaskStatus::FAILED:
      return "Task failed: " + error.value_or("Unknown error");
    case TaskStatus::CANCELED:
      return "Task was canceled";
    case TaskStatus::CRASHED:
      return "Task crashed: " + error.value_or("Worker process crashed");
    default:
      return {};
  }
}

/// Throws the TaskException of `task` if it ended in error; one lock for its status and error.
void throw_if_failed(TaskImpl& impl, const Task& task) {
  TaskStatus status;
  std::optional<std::string> error;
  {
    std::lock_guard lock(impl.mu_);
    status = impl.status_;
    if (is_error(status)) error = impl.error_;
  }
  if (is_error(status)) throw TaskException(exception_text(status, error), task);
}

}  // namespace

TaskImpl::TaskImpl(std::weak_ptr<ServiceImpl> service, std::string script, Args inputs,
                   std::optional<std::string> queue)
    : id_(uuid4_hex()),
      script_(std::move(script)),
      queue_(std::move(queue)),
      service_(std::move(service)),
      inputs_(std::move(inputs)) {}

void TaskImpl::listen(TaskListener listener) {
  std::lock_guard lock(mu_);
  if (started_) {
    throw Error("Task::listen(): the task has already started; add listeners before start()");
  }
  listeners_.push_back(std::move(listener));
}

void TaskImpl::start(const std::shared_ptr<ServiceFront>& front, bool if_initial) {
  // Task::wait_for() on a task sent already (the common case) takes no lock.
  if (if_initial && sent_.load(std::memory_order_acquire)) return;
  auto service = front ? front->impl() : service_.lock();
  if (!service) throw Error("Task::start(): the task's service is gone");
  // One start attempt at a time: a thread in wait_for() must not see the task as started while
  // another thread's attempt may still fail and leave it INITIAL (it would wait for ever).
  std::lock_guard start_lock(start_mu_);
  {
    std::lock_guard lock(mu_);
    if (started_) {
      if (if_initial) return;
      throw Error(
          fmt::format("Task::start(): task {} is {}, not INITIAL", id_, to_string(status_)));
    }
    started_ = true;
  }
  auto unclaim = [&] {
    std::lock_guard lock(mu_);
    started_ = false;
    status_ = TaskStatus::INITIAL;
  };
  try {
    // Encode before changing state: inputs the worker cannot read (NaN for Java, invalid UTF-8)
    // are the caller's error and leave the task INITIAL.
    std::string line =
        codec::encode_execute(id_, script_, inputs_, queue_, service->write_options());
    // Before the task enters the service's table, where owning proxies would make a cycle (and
    // before the I/O thread may read the inputs).
    for (auto& [name, value] : inputs_)
      disown_worker_objects(value);
    service->start();
    {
      std::lock_guard lock(mu_);
      status_ = TaskStatus::QUEUED;
    }
    service->submit(shared_from_this(), std::move(line));
  } catch (...) {
    // Nothing was sent (submit() throws only before writing): the task may be started again.
    unclaim();
    throw;
  }
  sent_.store(true, std::memory_order_release);
}

void TaskWaiters::finished(bool settled) {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    if (settled) settled_ = true;
  }
  cv_.notify_all();
}

void TaskWaiters::settled() {
  {
    std::lock_guard lock(mu_);
    settled_ = true;
  }
  cv_.notify_all();
}

bool TaskWaiters::wait(bool on_event_thread, std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(mu_);
  // Off the event thread, both internal threads must be done with the task (their order is
  // free: the event thread may run the listeners before the I/O thread calls finished()).
  auto done = [&] { return on_event_thread ? finished_ : finished_ && settled_; };
  if (timeout) return cv_.wait_for(lock, *timeout, done);
  cv_.wait(lock, done);
  return true;
}

bool TaskImpl::wait(std::optional<std::chrono::milliseconds> timeout) {
  // On an event thread the terminal event may be the very callback running now: wait for the
  // state only, or a listener waiting on its own task would deadlock.
  return waiters_->wait(EventQueue::on_any_queue_thread(), timeout);
}

void TaskImpl::release(std::shared_ptr<TaskImpl> task, Applied applied) {
  if (!applied.terminal) return;
  std::shared_ptr<TaskWaiters> waiters = task->waiters_;
  task.reset();
  waiters->finished(/*settled=*/!applied.listeners);
}

void TaskImpl::cancel() {
  {
    std::lock_guard lock(mu_);
    if (status_ != TaskStatus::QUEUED && status_ != TaskStatus::RUNNING) return;
  }
  if (auto service = service_.lock()) service->send_cancel(id_);
}

void TaskImpl::disown_worker_objects(Value& v) {
  switch (v.kind()) {
    case Value::Kind::worker_object:
      v = v.get<WorkerObject>().unowned();
      break;
    case Value::Kind::array:
      for (auto& item : v.as_array())
        disown_worker_objects(item);
      break;
    case Value::Kind::object:
      for (auto& [k, item] : v.as_object())
        disown_worker_objects(item);
      break;
    default:
      break;
  }
}

Args TaskImpl::adopt_outputs(Args outputs) const {
  std::unordered_map<std::string, SharedMemory> input_blocks;
  for (const auto& [k, v] : inputs_)
    for_each_block(v, [&](const SharedMemory& shm) { input_blocks.emplace(shm.name(), shm); });
  return adopt(Value(std::move(outputs)), input_blocks).get<Args>();
}

TaskImpl::Applied TaskImpl::handle(codec::Response&& response) {
  // Empty outputs (most small tasks') have nothing to resolve or adopt.
  if (response.type == ResponseType::COMPLETION && !response.outputs.empty()) {
    auto service = service_.lock();
    try {
      // Proxies own the service, as Task handles do; the task is out of the service's table
      // by now, so this makes no cycle.
      auto front = service ? service->front() : nullptr;
      std::function<WorkerObject(std::string)> proxy = [&](std::string name) {
        return WorkerObject(std::move(name), front);
      };
      response.outputs = adopt_outputs(codec::resolve(std::move(response.outputs), proxy));
    } catch (const std::exception& e) {
      // The worker said it completed, but what it returned cannot be used here (a block that
      // is gone or too small): the task fails with the reason rather than hanging or lying.
      response.type = ResponseType::FAILURE;
      response.error =
          fmt::format("The task completed, but its outputs could not be decoded: {}", e.what());
      response.outputs = {};
    }
  }
  if (response.type == ResponseType::FAILURE && response.error &&
      response.error->rfind(kInitFailedPrefix, 0) == 0) {
    // The bootstrap fails every task of a worker whose init script failed; recorded before the
    // task ends, so that whoever sees it fail sees Service::init_error() set.
    if (auto service = service_.lock()) {
      service->set_init_error(response.error->substr(std::string_view(kInitFailedPrefix).size()),
                              /*full=*/true);
    }
  }
  if (response.type == ResponseType::UPDATE && !response.info.is_null()) {
    try {
      response.info = codec::resolve(std::move(response.info));
    } catch (const std::exception& e) {
      if (auto service = service_.lock())
        service->log(fmt::format("task {}: UPDATE info kept undecoded: {}", id_, e.what()));
    }
  }
  return apply(std::move(response));
}

TaskImpl::Applied TaskImpl::crash(std::string report) {
  codec::Response response;
  response.type = ResponseType::CRASH;
  response.task = id_;
  response.error = std::move(report);
  return apply(std::move(response));
}

TaskImpl::Applied TaskImpl::apply(codec::Response&& r) {
  bool terminal = is_terminal(r.type);
  bool has_listeners;
  // Made only for listeners (most tasks have none).
  std::optional<TaskEvent> event;
  {
    std::lock_guard lock(mu_);
    if (is_finished(status_)) return {};  // first terminal response wins
    switch (r.type) {
      case ResponseType::LAUNCH:
        status_ = TaskStatus::RUNNING;
        break;
      case ResponseType::UPDATE:
        if (status_ == TaskStatus::QUEUED) status_ = TaskStatus::RUNNING;
        message_ = r.message;
        current_ = r.current;
        maximum_ = r.maximum;
        info_ = r.info;
        break;
      case ResponseType::COMPLETION:
        outputs_ = std::move(r.outputs);
        status_ = TaskStatus::COMPLETE;
        break;
      case ResponseType::CANCELATION:
        status_ = TaskStatus::CANCELED;
        break;
      case ResponseType::FAILURE:
        error_ = r.error;
        status_ = TaskStatus::FAILED;
        break;
      case ResponseType::CRASH:
        error_ = r.error;
        status_ = TaskStatus::CRASHED;
        break;
      case ResponseType::HELLO:
      case ResponseType::CALL:
      case ResponseType::RELEASE:
        return {};  // task-less: the service handles them before any task sees them
    }
    has_listeners = !listeners_.empty();
    if (has_listeners) {
      event.emplace(TaskEvent{Task(shared_from_this(), nullptr), r.type, std::move(r.message),
                              r.current, r.maximum, std::move(r.info)});
    }
  }
  if (has_listeners) dispatch(std::move(*event), terminal);
  return {terminal, has_listeners};
}

void TaskImpl::dispatch(TaskEvent event, bool terminal) {
  auto service = service_.lock();
  if (!service) {
    if (terminal) waiters_->settled();
    return;
  }
  event.task.service_ = service->front();
  service->post([self = shared_from_this(), event = std::optional<TaskEvent>(std::move(event)),
                 terminal, service = std::weak_ptr<ServiceImpl>(service)]() mutable {
    self->run_listeners(*event, terminal, service);
    if (!terminal) return;
    // Drop this thread's references to the task before waking its waiters (see TaskWaiters).
    std::shared_ptr<TaskWaiters> waiters = self->waiters_;
    event.reset();
    self.reset();
    waiters->settled();
  });
}

void TaskImpl::run_listeners(const TaskEvent& event, bool terminal,
                             const std::weak_ptr<ServiceImpl>& service) {
  for (const auto& listener : listeners_) {
    try {
      listener(event);
    } catch (const std::exception& e) {
      if (auto s = service.lock()) {
        s->log(fmt::format("a listener of task {} threw: {}", id_, e.what()));
      }
    } catch (...) {
      if (auto s = service.lock()) {
        s->log(fmt::format("a listener of task {} threw a non-standard exception", id_));
      }
    }
  }
  if (terminal) {
    // No event follows: drop the listeners and whatever they captured (often the Service).
    std::vector<TaskListener> done;
    {
      std::lock_guard lock(mu_);
      done.swap(listeners_);
    }
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Task

const std::string& Task::id() const {
  return impl_->id_;
}
const std::string& Task::script() const {
  return impl_->script_;
}
Args& Task::inputs() {
  return impl_->inputs();
}
const Args& Task::inputs() const {
  return impl_->inputs();
}
const std::optional<std::string>& Task::queue() const {
  return impl_->queue_;
}

Task& Task::listen(TaskListener listener) {
  impl_->listen(std::move(listener));
  return *this;
}

Task& Task::start() {
  impl_->start(service_);
  return *this;
}

Task& Task::wait_for() {
  impl_->start(service_, /*if_initial=*/true);
  impl_->wait(std::nullopt);
  detail::throw_if_failed(*impl_, *this);
  return *this;
}

bool Task::wait_for(std::chrono::milliseconds timeout) {
  impl_->start(service_, /*if_initial=*/true);
  if (!impl_->wait(timeout)) return false;
  detail::throw_if_failed(*impl_, *this);
  return true;
}

void Task::cancel() {
  impl_->cancel();
}

void Task::cancel(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(impl_->mu_);
    if (impl_->status_ != TaskStatus::QUEUED && impl_->status_ != TaskStatus::RUNNING) return;
  }
  impl_->cancel();
  std::weak_ptr<detail::ServiceImpl> service = service_ ? service_->impl() : nullptr;
  // The timer holds the task (not its service) so the deadline stands even if the caller drops
  // every handle; it kills only if this task is still unfinished then.
  detail::Reaper::instance().schedule(
      std::chrono::steady_clock::now() + grace, [task = impl_, service, grace] {
        {
          std::lock_guard lock(task->mu_);
          if (is_finished(task->status_)) return;
        }
        if (auto s = service.lock()) {
          s->log(
              fmt::format("task {} did not stop within {} ms of its cancel request: killing "
                          "the worker (its other tasks crash too)",
                          task->id_, grace.count()));
          s->kill(
              fmt::format("The service killed the worker: task {} did not stop within {} ms "
                          "of its cancel request (Task::cancel(grace)).",
                          task->id_, grace.count()));
        }
      });
}

TaskStatus Task::status() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->status_;
}

std::optional<std::string> Task::error() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->error_;
}

const Args& Task::outputs() const {
  static const Args none;  // immutable: what every unfinished task shows
  std::lock_guard lock(impl_->mu_);
  // outputs_ is assigned once, under mu_, as the status turns COMPLETE, and never again.
  return impl_->status_ == TaskStatus::COMPLETE ? impl_->outputs_ : none;
}

Value Task::result() const {
  std::lock_guard lock(impl_->mu_);
  const Value* v = impl_->outputs_.find("result");
  return v ? *v : Value();
}

std::optional<std::string> Task::message() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->message_;
}

std::optional<std::int64_t> Task::current() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->current_;
}

std::optional<std::int64_t> Task::maximum() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->maximum_;
}

Value Task::info() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->info_;
}

}  // namespace appose
