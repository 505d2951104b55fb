#pragma once

/// \file
/// A reference to an object that lives in a worker process.

#include <memory>
#include <string>
#include <utility>

#include "appose/export.hpp"

namespace appose {

namespace detail {
class ServiceImpl;
}

/// A worker-side object that JSON could not carry: the worker kept it under `var_name` and sent
/// `{"appose_type":"worker_object","var_name":...}` instead. The handle remembers which service
/// it came from (weakly: it does not keep the service alive).
class APPOSE_EXPORT WorkerObject {
 public:
  WorkerObject() = default;
  explicit WorkerObject(std::string var_name, std::weak_ptr<detail::ServiceImpl> service = {})
      : var_name_(std::move(var_name)), service_(std::move(service)) {}

  /// The name under which the worker keeps the object.
  [[nodiscard]] const std::string& var_name() const noexcept { return var_name_; }
  /// The service the object lives in (empty if unknown or gone).
  [[nodiscard]] std::shared_ptr<detail::ServiceImpl> service() const { return service_.lock(); }

  friend bool operator==(const WorkerObject& a, const WorkerObject& b) {
    return a.var_name_ == b.var_name_ && !a.service_.owner_before(b.service_) &&
           !b.service_.owner_before(a.service_);
  }

 private:
  std::string var_name_;
  std::weak_ptr<detail::ServiceImpl> service_;
};

}  // namespace appose
