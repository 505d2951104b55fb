#pragma once

// Visiting the shared-memory blocks a Value holds, at any depth: the service needs them to keep
// a task's own input blocks when they come back as outputs, the worker to hand output blocks
// over to the host.

#include "appose/value.hpp"

namespace appose::detail {

/// Calls `f(SharedMemory)` for every block in `v` (an NDArray's block included).
template <typename F>
void for_each_block(const Value& v, F&& f) {
  switch (v.kind()) {
    case Value::Kind::shared_memory:
      f(v.get<SharedMemory>());
      break;
    case Value::Kind::ndarray:
      f(v.get<NDArray>().shm());
      break;
    case Value::Kind::array:
      for (const auto& item : v.as_array())
        for_each_block(item, f);
      break;
    case Value::Kind::object:
      for (const auto& [k, item] : v.as_object())
        for_each_block(item, f);
      break;
    default:
      break;
  }
}

}  // namespace appose::detail
