// The public Service: a handle on a ServiceFront (see host/service_impl.hpp), each call
// forwarded to the ServiceImpl behind it.

#include "appose/service.hpp"

#include <fmt/format.h>
#include <utility>

#include "host/reaper.hpp"
#include "host/service_impl.hpp"
#include "util/read_file.hpp"

namespace appose {

namespace detail {

ServiceFront::~ServiceFront() {
  if (impl_) Reaper::instance().adopt(std::move(impl_));
}

}  // namespace detail

Service::Service(ServiceConfig config) {
  auto impl = std::make_shared<detail::ServiceImpl>(std::move(config));
  front_ = std::make_shared<detail::ServiceFront>(impl);
  impl->set_front(front_);
}

Service& Service::init(std::string script) {
  front_->impl()->set_init(std::move(script));
  return *this;
}

Service& Service::env(const std::map<std::string, std::optional<std::string>>& vars) {
  front_->impl()->set_env(vars);
  return *this;
}

Service& Service::debug(std::function<void(std::string_view)> callback) {
  front_->impl()->set_debug(std::move(callback));
  return *this;
}

Service& Service::log(std::function<void(std::string_view)> callback) {
  front_->impl()->set_log(std::move(callback));
  return *this;
}

Service& Service::shutdown_grace(std::chrono::milliseconds grace) {
  front_->impl()->set_grace(grace);
  return *this;
}

Service& Service::restart() {
  front_->impl()->restart();
  return *this;
}

Service& Service::syntax(std::string_view name) {
  auto s = syntax_for(name);
  if (!s) throw Error(fmt::format("no script syntax named '{}' (known: python, groovy)", name));
  front_->impl()->set_syntax(std::move(s));
  return *this;
}

Service& Service::syntax(std::shared_ptr<const ScriptSyntax> syntax) {
  front_->impl()->set_syntax(std::move(syntax));
  return *this;
}

std::shared_ptr<const ScriptSyntax> Service::syntax() const {
  return front_->impl()->syntax();
}

Service& Service::start() {
  front_->impl()->start();
  return *this;
}

Task Service::task(std::string script, Args inputs, std::optional<std::string> queue) {
  auto impl = std::make_shared<detail::TaskImpl>(front_->impl(), std::move(script),
                                                 std::move(inputs), std::move(queue));
  return Task(std::move(impl), front_);
}

Task Service::task_file(const std::string& path, Args inputs, std::optional<std::string> queue) {
  // Read as the builders read configuration files: UTF-8 checked, universal newlines.
  return task(detail::read_text_file(path), std::move(inputs), std::move(queue));
}

void Service::close() {
  front_->impl()->close();
}
void Service::kill() {
  front_->impl()->kill("The service killed the worker: Service::kill() was called.");
}
int Service::wait_for() {
  return *front_->impl()->wait_for(std::nullopt);
}
std::optional<int> Service::wait_for(std::chrono::milliseconds timeout) {
  return front_->impl()->wait_for(timeout);
}
bool Service::is_alive() const {
  return front_->impl()->is_alive();
}
std::vector<std::string> Service::invalid_lines() const {
  return front_->impl()->invalid_lines();
}
std::vector<std::string> Service::error_lines() const {
  return front_->impl()->error_lines();
}
std::optional<WorkerInfo> Service::worker_info() const {
  return front_->impl()->worker_info();
}
std::optional<std::string> Service::init_error() const {
  return front_->impl()->init_error();
}
const ServiceConfig& Service::config() const {
  return front_->impl()->config();
}
std::int64_t Service::pid() const {
  return front_->impl()->pid();
}

}  // namespace appose
