#pragma once

/// \file
/// Everything appose offers, in one include.

#include "appose/builder.hpp"        // IWYU pragma: export
#include "appose/catalog.hpp"        // IWYU pragma: export
#include "appose/environment.hpp"    // IWYU pragma: export
#include "appose/error.hpp"          // IWYU pragma: export
#include "appose/ndarray.hpp"        // IWYU pragma: export
#include "appose/protocol.hpp"       // IWYU pragma: export
#include "appose/scheme.hpp"         // IWYU pragma: export
#include "appose/service.hpp"        // IWYU pragma: export
#include "appose/shared_memory.hpp"  // IWYU pragma: export
#include "appose/task.hpp"           // IWYU pragma: export
#include "appose/value.hpp"          // IWYU pragma: export
#include "appose/version.hpp"        // IWYU pragma: export
#include "appose/worker.hpp"         // IWYU pragma: export
#include "appose/worker_object.hpp"  // IWYU pragma: export
