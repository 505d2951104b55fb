#pragma once

// The JSON writer behind codec::write, open to encoders that compose a message field by field
// (wire/messages.cpp): they write the fixed parts of a line themselves and the values with
// this writer, which names the path of a value it cannot write (`inputs.x[2]`) in its errors.
// A message's inputs are written straight from the caller's Args, never copied into a Value.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "appose/value.hpp"
#include "core/json.hpp"

namespace appose::detail::codec {

/// Appends JSON to a string, as codec::write does (see json.hpp for the form written).
class JsonWriter {
 public:
  /// Appends to `out`; `options` must outlive the writer.
  JsonWriter(std::string& out, const WriteOptions& options) : out_(out), options_(options) {}

  /// Writes any value; Appose objects in their wire form.
  void value(const Value& v);
  /// Writes an object, its members in order.
  void object(const Args& o);
  /// Writes a string literal, ASCII only; throws ProtocolError if `s` is not valid UTF-8.
  void string(std::string_view s);

  /// Names the part of the message written next, for error messages; `key` must outlive the
  /// matching pop().
  void push_key(std::string_view key) { path_.push_back({key, 0, false}); }
  /// Ends the part named by the last push_key().
  void pop() { path_.pop_back(); }

 private:
  /// One step of the path from the top of the message to the value being written.
  struct Segment {
    std::string_view key;   ///< the member's key (objects)
    std::size_t index = 0;  ///< the element's index (arrays)
    bool is_index = false;  ///< which of the two
  };

  /// Writes an integer in decimal.
  template <typename Int>
  void integer(Int i);
  /// Writes a double as Python's repr does, or a non-finite one per options_.non_finite.
  void floating(double d);
  /// Writes a big integer's digits after checking that they are a decimal integer.
  void big_integer(const BigInteger& b);
  /// Writes an array, its elements in order.
  void array(const Array& a);
  /// Writes a SharedMemory reference, its region field by field as given.
  void shm(const SharedMemory& s);
  /// Writes an NDArray reference; float16 only if options_.float16_arrays.
  void ndarray(const NDArray& a);
  /// Counts one level of nesting; throws ProtocolError beyond kMaxDepth.
  void enter();
  /// Ends a level counted by enter().
  void leave() { --depth_; }
  /// The path of the value being written, for error messages ("the top level" if none).
  [[nodiscard]] std::string where() const;

  std::string& out_;
  const WriteOptions& options_;
  std::vector<Segment> path_;
  int depth_ = 0;
};

}  // namespace appose::detail::codec
