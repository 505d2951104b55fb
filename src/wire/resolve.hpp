#pragma once

// Decoded messages -> live objects: the `appose_type` objects of a message (docs/protocol.md)
// become SharedMemory blocks, NDArrays on them and WorkerObjects. The JSON reader leaves them
// plain objects, because attaching to a block is an OS call with its own errors.

#include <functional>
#include <string>

#include "appose/value.hpp"

namespace appose::detail::codec {

/// Turns `appose_type` objects at any depth into live objects: `shm` and `ndarray` attach to
/// their blocks (SharedMemory::attach), `worker_object` calls `make_worker_object` (or, if it
/// is empty, stays a plain object). Unknown `appose_type`s stay plain objects. Throws
/// appose::Error naming the block when one cannot be attached or is too small.
Value resolve(Value value,
              const std::function<WorkerObject(std::string var_name)>& make_worker_object = {});
/// The same for every member of `args` (a message's inputs or outputs).
Args resolve(Args args,
             const std::function<WorkerObject(std::string var_name)>& make_worker_object = {});

}  // namespace appose::detail::codec
