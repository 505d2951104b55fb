// Reaching objects that live in a worker: Service::get_var/put_var/call/proxy and WorkerObject.
// Every operation is one task whose script the service's ScriptSyntax writes, as the peers do.

#include "appose/worker_object.hpp"

#include <fmt/format.h>

#include "appose/service.hpp"
#include "service_impl.hpp"

namespace appose {

namespace {

std::shared_ptr<const ScriptSyntax> require_syntax(const Service& service) {
  auto syntax = service.syntax();
  if (!syntax) {
    throw Error(
        "no script syntax is set for this service: use Environment::python()/groovy(), or "
        "Service::syntax(\"python\")");
  }
  return syntax;
}

/// Inputs `arg0`, `arg1`, ... and their names, as the peers name them.
std::pair<Args, std::vector<std::string>> numbered(const std::vector<Value>& args) {
  Args inputs;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < args.size(); ++i) {
    names.push_back(fmt::format("arg{}", i));
    inputs.insert_or_assign(names.back(), args[i]);
  }
  return {std::move(inputs), std::move(names)};
}

std::shared_ptr<const ScriptSyntax> syntax_of(const WorkerObject& object) {
  auto impl = object.service();
  auto syntax = impl ? impl->syntax() : nullptr;
  if (!syntax) {
    throw Error(fmt::format("worker object '{}': its service is gone or has no script syntax",
                            object.var_name()));
  }
  return syntax;
}

}  // namespace

Value Service::get_var(std::string_view name) {
  auto syntax = require_syntax(*this);
  return task(syntax->get_var(name)).wait_for().result();
}

void Service::put_var(std::string_view name, Value value) {
  auto syntax = require_syntax(*this);
  task(syntax->put_var(name, "_value"), {{"_value", std::move(value)}}).wait_for();
}

Value Service::call(std::string_view function, Array args) {
  auto syntax = require_syntax(*this);
  auto [inputs, names] = numbered(args);
  return task(syntax->call(function, names), std::move(inputs)).wait_for().result();
}

WorkerObject Service::proxy(std::string var, std::optional<std::string> queue) {
  require_syntax(*this);
  return WorkerObject(std::move(var), front_->impl(), std::move(queue));
}

Value WorkerObject::run(const std::string& script, const std::vector<Value>& args) const {
  auto impl = service_.lock();
  auto front = impl ? impl->front() : nullptr;
  if (!front) {
    throw Error(fmt::format("the service of worker object '{}' is gone", var_name_));
  }
  Service service(std::move(front));
  auto [inputs, names] = numbered(args);
  return service.task(script, std::move(inputs), queue_).wait_for().result();
}

Value WorkerObject::get(std::string_view attribute) const {
  auto syntax = syntax_of(*this);
  return run(syntax->get_attribute(var_name_, attribute), {});
}

Value WorkerObject::call(std::string_view method, const std::vector<Value>& args) const {
  auto syntax = syntax_of(*this);
  auto [inputs, names] = numbered(args);
  return run(syntax->call(fmt::format("{}.{}", var_name_, method), names), args);
}

Value WorkerObject::operator()(const std::vector<Value>& args) const {
  auto syntax = syntax_of(*this);
  auto [inputs, names] = numbered(args);
  return run(syntax->call(var_name_, names), args);
}

std::vector<std::string> WorkerObject::attributes() const {
  auto syntax = syntax_of(*this);
  return run(syntax->get_attributes(var_name_), {}).get<std::vector<std::string>>();
}

}  // namespace appose
