#pragma once

// Reading one JSON value from anywhere in a line, for the line scanner (wire/line_scan.hpp),
// which starts at every '{' of a stdout line and needs more than a value or an exception:
// where the value ended, where and why it broke, and whether a string held invalid UTF-8.
// The reader itself stays inside json_reader.cpp, with codec::parse, so that the compiler
// inlines its parts into one recursive function: with a call per number or array, reading a
// long array of numbers took about 4% more instructions.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "appose/value.hpp"

namespace appose::detail::codec {

/// How reading one value ended.
struct ReadResult {
  bool ok = false;                      ///< a whole value was read
  std::size_t end = 0;                  ///< the offset reached: just past the value when ok
  std::string_view error;               ///< why it broke (a static string), when !ok
  std::size_t error_position = 0;       ///< the offset where it broke, when !ok
  std::optional<std::size_t> bad_utf8;  ///< the first invalid UTF-8 byte inside a string
};

/// Reads one JSON value from text[start..] (leading JSON white space skipped) into `out`, as
/// codec::parse reads (Python's NaN/Infinity, big integers, depth limit), but without
/// throwing on bad input: the result says where and why it broke. Invalid UTF-8 inside a
/// string does not stop it: the bytes are replaced by U+FFFD and the first one's offset is
/// reported, so the caller can see where the broken object ends and reject it whole (rather
/// than mistake an object nested inside it for a message). Offsets are offsets in `text`.
/// `depth` is the nesting around the value (1 for a member of a message's object), counted
/// toward the depth limit as when the whole message is read.
ReadResult read_value(std::string_view text, std::size_t start, Value& out, int depth = 0);

/// White space around the objects of a line: JSON's, plus the vertical tab and form feed (a
/// stray one on a line is not worth recording). split_line() and read_flat_object() agree on it.
[[nodiscard]] constexpr bool is_line_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// One member of a FlatObject. A string of printable ASCII without escapes (task ids, message
/// types, operation names: nearly every string of a protocol message) is a view into the
/// line, so reading it allocates nothing; any other value is decoded into `value`. Exactly
/// one of `text` and `value` is set. (Optional rather than null, so that the members a line
/// does not use cost nothing to make and destroy.)
struct FlatField {
  std::string_view key;                  ///< as written: only keys without escapes are accepted
  std::optional<std::string_view> text;  ///< the plain string's contents, when it is one
  std::optional<Value> value;            ///< the value otherwise
};

/// The members of a one-level read of an object (read_flat_object()), in line order.
struct FlatObject {
  /// More members than this, and the line is left to the general reader.
  static constexpr std::size_t kMaxFields = 8;
  std::array<FlatField, kMaxFields> fields;
  std::size_t size = 0;
  /// The member called `key`, or nullptr.
  [[nodiscard]] FlatField* find(std::string_view key) noexcept {
    for (std::size_t i = 0; i < size; ++i) {
      if (fields[i].key == key) return &fields[i];
    }
    return nullptr;
  }
};

/// Reads `line` as exactly one JSON object, with only line white space (split_line's: JSON's
/// plus vertical tab and form feed) around it, into its members, without building a Value
/// tree for the object itself. For the protocol's fast lane: it accepts only what it can read
/// exactly as read_value() would and returns false for everything else (a key with escapes,
/// a repeated key, more than FlatObject::kMaxFields members, invalid UTF-8, broken JSON, any
/// other text on the line), leaving such lines to split_line(), which reads and reports them.
bool read_flat_object(std::string_view line, FlatObject& out);

}  // namespace appose::detail::codec
