#pragma once

/// \file
/// A reference to an object that lives in a worker process.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "appose/export.hpp"

namespace appose {

class Value;
class Args;
class Service;
namespace detail {
class ServiceImpl;
class ServiceFront;
class TaskImpl;
}  // namespace detail

/// A worker-side object that JSON could not carry: the worker kept it under `var_name` and sent
/// `{"appose_type":"worker_object","var_name":...}` instead (or Service::proxy() named an
/// exported variable). Its members are reached through tasks whose scripts the service's
/// ScriptSyntax generates; each call blocks until that task ends.
///
/// Lifetime: like a Task, the handle keeps its service alive (a proxy returned from a function
/// whose Service went out of scope still works). Two exceptions keep ownership acyclic: a
/// WorkerObject inside the inputs of a started task, and one that a debug, log or listener
/// callback captures, must not be the last reference a service's own internals hold to it.
/// Task inputs are handled for you (see Task::inputs()); for callbacks capture the var_name()
/// or a weak reference instead.
class APPOSE_EXPORT WorkerObject {
 public:
  WorkerObject() = default;
  /// A handle to the worker variable `var_name` of `service` (empty: no service; every
  /// operation then throws appose::Error). Service::proxy() is the usual way to make one.
  explicit WorkerObject(std::string var_name, std::shared_ptr<detail::ServiceFront> service = {},
                        std::optional<std::string> queue = std::nullopt)
      : var_name_(std::move(var_name)),
        weak_front_(service),
        front_(std::move(service)),
        queue_(std::move(queue)) {}

  /// The name under which the worker keeps the object.
  [[nodiscard]] const std::string& var_name() const noexcept { return var_name_; }
  /// The queue its operations run on (`"main"`: the worker's main thread; empty: the default).
  /// An object an operation returns directly inherits it.
  [[nodiscard]] const std::optional<std::string>& queue() const noexcept { return queue_; }
  /// The service the object lives in (empty for a handle made without one).
  [[nodiscard]] std::shared_ptr<detail::ServiceImpl> service() const;

  /// An attribute's value (a field, or for a method a WorkerObject for the bound method).
  /// Throws TaskException if the worker fails, appose::Error if there is no service or it is
  /// closed.
  [[nodiscard]] Value get(std::string_view attribute) const;
  /// Calls a method with `args` and returns its result (WorkerObjects for objects JSON cannot
  /// carry). A WorkerObject argument of the same service is passed as the object it names.
  Value call(std::string_view method, const std::vector<Value>& args) const;
  /// Calls a method with positional `args` and keyword arguments `kwargs` (Python
  /// `obj.method(*args, **kwargs)`; Groovy named arguments). Keywords must be identifiers;
  /// anything else throws appose::Error before a task is sent.
  Value call(std::string_view method, const std::vector<Value>& args, const Args& kwargs) const;
  /// Calls a method without arguments. (Overloads rather than a default argument: Clang
  /// cannot instantiate `std::vector<Value>{}` where Value is still incomplete.)
  Value call(std::string_view method) const;
  /// Calls the object itself (a function or callable object).
  Value operator()(const std::vector<Value>& args) const;
  /// Calls the object itself with positional and keyword arguments (see call()).
  Value operator()(const std::vector<Value>& args, const Args& kwargs) const;
  /// Calls the object itself without arguments.
  Value operator()() const;
  /// The names of the object's attributes.
  [[nodiscard]] std::vector<std::string> attributes() const;

  friend bool operator==(const WorkerObject& a, const WorkerObject& b) {
    return a.var_name_ == b.var_name_ && !a.weak_front_.owner_before(b.weak_front_) &&
           !b.weak_front_.owner_before(a.weak_front_);
  }

 private:
  friend class detail::TaskImpl;
  friend class Service;
  [[nodiscard]] Value run(const std::string& script, Args inputs) const;
  /// The same reference without the ownership of its service (see Task::inputs()).
  [[nodiscard]] WorkerObject unowned() const;

  std::string var_name_;
  // The service, for identity and for an unowned() copy; front_ keeps it alive (empty in an
  // unowned() copy).
  std::weak_ptr<detail::ServiceFront> weak_front_;
  std::shared_ptr<detail::ServiceFront> front_;
  std::optional<std::string> queue_;
};

}  // namespace appose
