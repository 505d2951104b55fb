#pragma once

// How protocol errors name the kind of a value they did not expect ("it is a string").

#include <string>

#include "appose/value.hpp"

namespace appose::detail::codec {

/// The kind of `v` with its article ("a string", "an integer", "an ndarray"), or "null".
std::string describe(const Value& v);

}  // namespace appose::detail::codec
