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
namespace detail {
class ServiceImpl;
}

/// A worker-side object that JSON could not carry: the worker kept it under `var_name` and sent
/// `{"appose_type":"worker_object","var_name":...}` instead (or Service::proxy() named an
/// exported variable). Its members are reached through tasks whose scripts the service's
/// ScriptSyntax generates; each call blocks until that task ends. The handle refers to its
/// service weakly: it does not keep the worker alive.
class APPOSE_EXPORT WorkerObject {
 public:
  WorkerObject() = default;
  explicit WorkerObject(std::string var_name, std::weak_ptr<detail::ServiceImpl> service = {},
                        std::optional<std::string> queue = std::nullopt)
      : var_name_(std::move(var_name)), service_(std::move(service)), queue_(std::move(queue)) {}

  /// The name under which the worker keeps the object.
  [[nodiscard]] const std::string& var_name() const noexcept { return var_name_; }
  /// The queue its operations run on (`"main"`: the worker's main thread; empty: the default).
  /// An object an operation returns directly inherits it.
  [[nodiscard]] const std::optional<std::string>& queue() const noexcept { return queue_; }
  /// The service the object lives in (empty if unknown or gone: once no Service or Task handle
  /// refers to it, even while its internals are still winding down).
  [[nodiscard]] std::shared_ptr<detail::ServiceImpl> service() const;

  /// An attribute's value (a field, or for a method a WorkerObject for the bound method).
  /// Throws TaskException if the worker fails, appose::Error if the service is gone.
  [[nodiscard]] Value get(std::string_view attribute) const;
  /// Calls a method with `args` and returns its result (WorkerObjects for objects JSON cannot
  /// carry). A WorkerObject argument of the same service is passed as the object it names.
  Value call(std::string_view method, const std::vector<Value>& args) const;
  /// Calls a method without arguments. (Overloads rather than a default argument: Clang
  /// cannot instantiate `std::vector<Value>{}` where Value is still incomplete.)
  Value call(std::string_view method) const;
  /// Calls the object itself (a function or callable object).
  Value operator()(const std::vector<Value>& args) const;
  /// Calls the object itself without arguments.
  Value operator()() const;
  /// The names of the object's attributes.
  [[nodiscard]] std::vector<std::string> attributes() const;

  friend bool operator==(const WorkerObject& a, const WorkerObject& b) {
    return a.var_name_ == b.var_name_ && !a.service_.owner_before(b.service_) &&
           !b.service_.owner_before(a.service_);
  }

 private:
  [[nodiscard]] Value run(const std::string& script, Args inputs) const;

  std::string var_name_;
  std::weak_ptr<detail::ServiceImpl> service_;
  std::optional<std::string> queue_;
};

}  // namespace appose
