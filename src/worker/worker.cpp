// The public face of the C++ worker SDK (include/appose/worker.hpp); the work is done by
// WorkerImpl (worker_impl.hpp).

#include "appose/worker.hpp"

#include <algorithm>
#include <mutex>

#include "worker/worker_impl.hpp"

namespace appose {

const std::string& WorkerTask::id() const {
  return impl_->id;
}
const std::string& WorkerTask::operation() const {
  return impl_->operation;
}
const Args& WorkerTask::inputs() const {
  return impl_->inputs;
}
Args& WorkerTask::outputs() {
  return impl_->outputs;
}

void WorkerTask::update(std::optional<std::string> message, std::optional<std::int64_t> current,
                        std::optional<std::int64_t> maximum, Value info) {
  impl_->worker->update(*impl_, std::move(message), current, maximum, std::move(info));
}

bool WorkerTask::cancel_requested() const {
  return impl_->cancel_requested;
}
void WorkerTask::cancel() {
  impl_->end_as(detail::WorkerTaskImpl::Ending::cancel);
}
void WorkerTask::fail(std::string message) {
  impl_->end_as(detail::WorkerTaskImpl::Ending::fail, std::move(message));
}

void WorkerTask::export_value(std::string name, Value value) {
  std::lock_guard lock(impl_->worker->exports_mu);
  impl_->worker->exports.insert_or_assign(std::move(name), std::move(value));
}

std::optional<Value> WorkerTask::exported(std::string_view name) const {
  std::lock_guard lock(impl_->worker->exports_mu);
  auto it = impl_->worker->exports.find(name);
  if (it == impl_->worker->exports.end()) return std::nullopt;
  return it->second;
}

Worker::Worker() : impl_(std::make_unique<detail::WorkerImpl>()) {}

Worker::~Worker() = default;

Worker& Worker::define(std::string name, Operation operation) {
  return define(std::move(name), std::move(operation), Dispatch::pool);
}

Worker& Worker::define(std::string name, Operation operation, Dispatch dispatch) {
  impl_->operations.insert_or_assign(std::move(name),
                                     detail::OperationEntry{std::move(operation), dispatch});
  return *this;
}

Worker& Worker::on_init(std::function<void(Worker&)> hook) {
  impl_->init = std::move(hook);
  return *this;
}

Worker& Worker::hello(bool enabled) {
  impl_->hello = enabled;
  return *this;
}

Worker& Worker::max_concurrency(std::size_t n) {
  impl_->concurrency = std::max<std::size_t>(1, n);
  return *this;
}

Worker& Worker::shield_protocol(bool enabled) {
  impl_->shield = enabled;
  return *this;
}

std::vector<std::string> Worker::operations() const {
  std::vector<std::string> names;
  for (const auto& [name, op] : impl_->operations)
    names.push_back(name);
  return names;
}

std::optional<Value> Worker::exported(std::string_view name) const {
  std::lock_guard lock(impl_->exports_mu);
  auto it = impl_->exports.find(name);
  if (it == impl_->exports.end()) return std::nullopt;
  return it->second;
}

void Worker::export_value(std::string name, Value value) {
  std::lock_guard lock(impl_->exports_mu);
  impl_->exports.insert_or_assign(std::move(name), std::move(value));
}

int Worker::run() {
  return impl_->run(*this);
}

}  // namespace appose
