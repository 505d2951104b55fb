#pragma once

// Random identifiers: shared-memory names and task ids. Each call draws from a thread-local
// generator seeded from std::random_device, so there is no global mutable state and no lock.

#include <string>

namespace appose::detail {

/// `n` random lowercase hex digits.
std::string random_hex(std::size_t n);
/// A random (version 4) UUID without dashes: 32 lowercase hex digits, as appose-python writes
/// task ids.
std::string uuid4_hex();

}  // namespace appose::detail
