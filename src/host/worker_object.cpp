// Reaching objects that live in a worker: Service::get_var/put_var/call/proxy and WorkerObject.
// Every operation is one task whose script the service's ScriptSyntax writes, as the peers do.

#include "appose/worker_object.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "appose/service.hpp"
#include "host/service_impl.hpp"

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

/// Whether `name` can stand as a keyword in the generated script (and so cannot inject code).
bool is_identifier(std::string_view name) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !alpha(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

/// The script of a call with keyword arguments: numbered() for `args`, and inputs `kwarg_<k>`
/// for each keyword `k` (a WorkerObject again by its variable).
std::pair<std::string, Args> call_script(const ScriptSyntax& syntax, std::string_view function,
                                         const std::vector<Value>& args, const Args& kwargs,
                                         const detail::ServiceImpl* service) {
  auto [inputs, names] = numbered(args, service);
  std::vector<std::pair<std::string, std::string>> keywords;
  for (const auto& [keyword, value] : kwargs) {
    if (!is_identifier(keyword)) {
      throw Error(fmt::format(
          "keyword argument '{}' of {}: keywords must be identifiers (letters, digits, _)", keyword,
          function));
    }
    if (value.kind() == Value::Kind::worker_object) {
      keywords.emplace_back(keyword, variable_of(value.get<WorkerObject>(), service));
      continue;
    }
    keywords.emplace_back(keyword, "kwarg_" + keyword);
    inputs.insert_or_assign(keywords.back().second, value);
  }
  std::string script = kwargs.empty() ? syntax.call(function, names)
                                      : syntax.call_with_keywords(function, names, keywords);
  return {syntax.result(script), std::move(inputs)};
}

std::shared_ptr<const ScriptSyntax> syntax_of(const WorkerObject& object) {
  auto impl = object.service();
  auto syntax = impl ? impl->syntax() : nullptr;
  if (!syntax) {
    throw Error(fmt::format(
        "worker object '{}': it has no service (made without one, or an input of a task whose "
        "service is gone), or its service has no script syntax (Service::syntax())",
        object.var_name()));
  }
  return syntax;
}

}  // namespace

Value Service::get_var(std::string_view name) {
  auto syntax = require_syntax(*this);
  return task(syntax->result(syntax->get_var(name))).wait_for().result();
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
  return call(function, std::move(args), Args{});
}

Value Service::call(std::string_view function, Array args, Args kwargs) {
  auto syntax = require_syntax(*this);
  auto [script, inputs] = call_script(*syntax, function, args, kwargs, front_->impl().get());
  return task(std::move(script), std::move(inputs)).wait_for().result();
}

WorkerObject Service::proxy(std::string var, std::optional<std::string> queue) {
  require_syntax(*this);
  return WorkerObject(std::move(var), front_, std::move(queue));
}

std::shared_ptr<detail::ServiceImpl> WorkerObject::service() const {
  auto front = weak_front_.lock();
  return front ? front->impl() : nullptr;
}

WorkerObject WorkerObject::unowned() const {
  WorkerObject copy = *this;
  copy.front_.reset();
  return copy;
}

Value WorkerObject::run(const std::string& script, Args inputs) const {
  auto front = weak_front_.lock();
  if (!front) {
    throw Error(fmt::format(
        "worker object '{}' has no service: it was made without one, or it was an input of a "
        "task whose service is gone",
        var_name_));
  }
  Service service(std::move(front));
  Value result = service.task(script, std::move(inputs), queue_).wait_for().result();
  if (queue_ && result.kind() == Value::Kind::worker_object) {
    // An object reached through a main-thread object is most likely main-thread bound too.
    const auto& object = result.get<WorkerObject>();
    return WorkerObject(object.var_name_, object.front_, queue_);
  }
  return result;
}

Value WorkerObject::get(std::string_view attribute) const {
  auto syntax = syntax_of(*this);
  return run(syntax->result(syntax->get_attribute(var_name_, attribute)), {});
}

Value WorkerObject::call(std::string_view method, const std::vector<Value>& args) const {
  return call(method, args, Args{});
}

Value WorkerObject::call(std::string_view method, const std::vector<Value>& args,
                         const Args& kwargs) const {
  auto syntax = syntax_of(*this);
  auto [script, inputs] =
      call_script(*syntax, fmt::format("{}.{}", var_name_, method), args, kwargs, service().get());
  return run(script, std::move(inputs));
}

Value WorkerObject::operator()(const std::vector<Value>& args) const {
  return (*this)(args, Args{});
}

Value WorkerObject::operator()(const std::vector<Value>& args, const Args& kwargs) const {
  auto syntax = syntax_of(*this);
  auto [script, inputs] = call_script(*syntax, var_name_, args, kwargs, service().get());
  return run(script, std::move(inputs));
}

std::vector<std::string> WorkerObject::attributes() const {
  auto syntax = syntax_of(*this);
  return run(syntax->result(syntax->get_attributes(var_name_)), {}).get<std::vector<std::string>>();
}

Value WorkerObject::call(std::string_view method) const {
  return call(method, std::vector<Value>{});
}

Value WorkerObject::operator()() const {
  return (*this)(std::vector<Value>{});
}

}  // namespace appose
