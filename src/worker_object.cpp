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

/// The worker-side variable a WorkerObject argument names, checked to live in `service`. The
/// workers do not decode a `worker_object` input back into the object (appose-python keeps it as
/// a dict), so such an argument is named in the script instead of sent.
std::string variable_of(const WorkerObject& object, const detail::ServiceImpl* service) {
  auto owner = object.service();
  if (!owner || owner.get() != service) {
    throw Error(fmt::format(
        "worker object '{}' lives in another service (or its service is gone): it cannot be "
        "passed to this one",
        object.var_name()));
  }
  return object.var_name();
}

/// Inputs `arg0`, `arg1`, ... and their names, as the peers name them; a WorkerObject argument
/// of `service` is referred to by its variable instead.
std::pair<Args, std::vector<std::string>> numbered(const std::vector<Value>& args,
                                                   const detail::ServiceImpl* service) {
  Args inputs;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind() == Value::Kind::worker_object) {
      names.push_back(variable_of(args[i].get<WorkerObject>(), service));
      continue;
    }
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
  if (value.kind() == Value::Kind::worker_object) {
    // Another name for an object already in the worker.
    task(syntax->put_var(name, variable_of(value.get<WorkerObject>(), front_->impl().get())))
        .wait_for();
    return;
  }
  task(syntax->put_var(name, "_value"), {{"_value", std::move(value)}}).wait_for();
}

Value Service::call(std::string_view function, Array args) {
  auto syntax = require_syntax(*this);
  auto [inputs, names] = numbered(args, front_->impl().get());
  return task(syntax->call(function, names), std::move(inputs)).wait_for().result();
}

WorkerObject Service::proxy(std::string var, std::optional<std::string> queue) {
  require_syntax(*this);
  return WorkerObject(std::move(var), front_->impl(), std::move(queue));
}

std::shared_ptr<detail::ServiceImpl> WorkerObject::service() const {
  auto impl = service_.lock();
  return impl && impl->front() ? impl : nullptr;
}

Value WorkerObject::run(const std::string& script, Args inputs) const {
  auto impl = service_.lock();
  auto front = impl ? impl->front() : nullptr;
  if (!front) {
    throw Error(fmt::format("the service of worker object '{}' is gone", var_name_));
  }
  Service service(std::move(front));
  Value result = service.task(script, std::move(inputs), queue_).wait_for().result();
  if (queue_ && result.kind() == Value::Kind::worker_object) {
    // An object reached through a main-thread object is most likely main-thread bound too.
    const auto& object = result.get<WorkerObject>();
    return WorkerObject(object.var_name_, object.service_, queue_);
  }
  return result;
}

Value WorkerObject::get(std::string_view attribute) const {
  auto syntax = syntax_of(*this);
  return run(syntax->get_attribute(var_name_, attribute), {});
}

Value WorkerObject::call(std::string_view method, const std::vector<Value>& args) const {
  auto syntax = syntax_of(*this);
  auto [inputs, names] = numbered(args, service().get());
  return run(syntax->call(fmt::format("{}.{}", var_name_, method), names), std::move(inputs));
}

Value WorkerObject::operator()(const std::vector<Value>& args) const {
  auto syntax = syntax_of(*this);
  auto [inputs, names] = numbered(args, service().get());
  return run(syntax->call(var_name_, names), std::move(inputs));
}

std::vector<std::string> WorkerObject::attributes() const {
  auto syntax = syntax_of(*this);
  return run(syntax->get_attributes(var_name_), {}).get<std::vector<std::string>>();
}

Value WorkerObject::call(std::string_view method) const {
  return call(method, std::vector<Value>{});
}

Value WorkerObject::operator()() const {
  return (*this)(std::vector<Value>{});
}

}  // namespace appose
