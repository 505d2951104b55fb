#pragma once

// JSON text <-> appose::Value. Internal to the library.
//
// appose-cpp has its own JSON reader and writer over appose::Value rather than nlohmann's,
// because the wire needs what nlohmann cannot give in one pass: Python's NaN/Infinity tokens,
// integers beyond 64 bits kept exactly, reading from any position of a line with the byte
// position of where a value ends or breaks (the line scanner, wire/line_scan.hpp), invalid
// UTF-8 that must not throw, and ASCII-only output with \uXXXX escapes exactly as Python's
// json.dumps writes it. They share namespace codec with the wire's messages and line scanner
// (src/wire), which they were split from: one namespace for text <-> values at both layers.

#include <cstdint>
#include <string>
#include <string_view>

#include "appose/value.hpp"

namespace appose::detail::codec {

/// Deeper nesting is refused (on read and on write) so that a hostile or broken line cannot
/// exhaust the stack; Python's own json gives up near 1000.
inline constexpr int kMaxDepth = 512;

/// What to do with NaN and +-Infinity when writing.
enum class NonFinite : std::uint8_t {
  python_tokens,  ///< write NaN / Infinity / -Infinity (Python's json reads them)
  refuse,         ///< throw ProtocolError naming the path of the value (Java cannot read them)
};

/// What the reader at the other end can decode.
struct WriteOptions {
  /// NaN and +-Infinity: written as Python's tokens, or refused.
  NonFinite non_finite = NonFinite::python_tokens;
  /// Whether the reader decodes float16 arrays. appose-java cannot (the line becomes invalid
  /// and the task hangs there), so for it such an array is a ProtocolError naming its path.
  bool float16_arrays = true;
};

/// Writes `value` as compact JSON (separators "," and ":"), ASCII only: every code point above
/// 0x7F as \uXXXX (surrogate pairs beyond the BMP), control characters as \n, \t, ... or
/// \u00XX, exactly as Python's json.dumps(ensure_ascii=True) does. Doubles use the shortest
/// representation that round-trips, always with a '.' or an exponent (Python's repr).
/// Appose objects are written in their wire form. Throws ProtocolError for non-finite doubles
/// under NonFinite::refuse, and for strings that are not valid UTF-8.
std::string write(const Value& value, const WriteOptions& options = {});
/// Appends to `out` instead of returning a new string.
void write_to(std::string& out, const Value& value, const WriteOptions& options = {});

/// Parses exactly one JSON value (surrounding white space allowed). Accepts Python's NaN,
/// Infinity and -Infinity; integers beyond 64 bits become BigInteger. Objects keep insertion
/// order; a repeated key keeps the last value (as Python does). `appose_type` objects stay
/// plain objects. Throws ProtocolError with the byte offset on malformed input or invalid
/// UTF-8. Nesting deeper than kMaxDepth is an error, not a stack overflow.
Value parse(std::string_view text);

/// Whether `value` holds a non-finite double anywhere (for workers that cannot read them).
bool has_non_finite(const Value& value) noexcept;

}  // namespace appose::detail::codec
