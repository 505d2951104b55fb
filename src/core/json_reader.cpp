#include "core/json_reader.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "core/json.hpp"
#include "core/json_scan.hpp"
#include "util/utf8.hpp"

namespace appose::detail::codec {

namespace {

/// Arrays that reach this many elements are counted ahead (see Reader::count_elements).
constexpr std::size_t kCountAfter = 1024;

bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// Past the bytes a string can hold as they are, from `p` on: printable ASCII but the quote
/// and the backslash. (Bytes >= 0x80 are checked as UTF-8; control characters must be escaped
/// in JSON.)
const char* skip_plain(const char* p, const char* end) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  const auto* stop = plain_run_end(u, reinterpret_cast<const unsigned char*>(end), true);
  return p + (stop - u);
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A recursive-descent JSON reader over a whole line, starting anywhere in it (offsets in
/// errors are offsets in the line). It does not throw on bad input: it returns false and
/// remembers where and why, because the line scanner probes many start positions in garbage.
/// Invalid UTF-8 inside strings does not stop it: the bytes are replaced and the first
/// position is remembered, so the caller can see where the broken object ends and reject it
/// whole (rather than mistake an object nested inside it for a message).
class Reader {
 public:
  explicit Reader(std::string_view text, std::size_t start = 0)
      : begin_(text.data()), p_(text.data() + start), end_(text.data() + text.size()) {}

  bool value(Value& out, int depth = 0) {
    skip_space();
    if (p_ == end_) return fail("unexpected end of line");
    switch (*p_) {
      case '{':
        return object(out, depth);
      case '[':
        return array(out, depth);
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = Value(std::move(s));
        return true;
      }
      case 't':
        return literal("true", Value(true), out);
      case 'f':
        return literal("false", Value(false), out);
      case 'n':
        return literal("null", Value(), out);
      case 'N':
        return literal("NaN", Value(std::numeric_limits<double>::quiet_NaN()), out);
      case 'I':
        return literal("Infinity", Value(std::numeric_limits<double>::infinity()), out);
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number(out);
        return fail("unexpected character");
    }
  }

  void skip_space() noexcept {
    while (p_ < end_ && is_json_space(*p_))
      ++p_;
  }

  /// The flat read behind read_flat_object(); p_ is at the object's '{'.
  bool flat_object(FlatObject& out) {
    ++p_;
    skip_space();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      skip_space();
      if (p_ == end_ || *p_ != '"') return false;
      const char* key = ++p_;
      p_ = skip_plain(p_, end_);
      if (p_ == end_ || *p_ != '"') return false;  // an escape or a non-ASCII byte in the key
      const std::string_view name(key, static_cast<std::size_t>(p_ - key));
      ++p_;
      if (out.size == FlatObject::kMaxFields || out.find(name) != nullptr) return false;
      skip_space();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_space();
      FlatField& field = out.fields[out.size++];
      field.key = name;
      field.text.reset();
      field.value.reset();
      const char* text = p_ + 1;
      const char* q = text;
      if (p_ < end_ && *p_ == '"') q = skip_plain(q, end_);
      if (p_ < end_ && *p_ == '"' && q < end_ && *q == '"') {
        field.text = std::string_view(text, static_cast<std::size_t>(q - text));
        p_ = q + 1;
      } else if (!value(field.value.emplace(), 1) || bad_utf8_) {
        return false;
      }
      skip_space();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  [[nodiscard]] std::size_t position() const noexcept { return offset(p_); }
  [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }
  [[nodiscard]] std::size_t error_position() const noexcept { return error_pos_; }
  [[nodiscard]] std::string_view error() const noexcept { return error_; }
  /// Offset of the first invalid UTF-8 byte met inside a string, if any.
  [[nodiscard]] std::optional<std::size_t> bad_utf8() const noexcept { return bad_utf8_; }

 private:
  bool fail(std::string_view why) {
    error_ = why;
    error_pos_ = offset(p_);
    return false;
  }

  [[nodiscard]] std::size_t offset(const char* p) const noexcept {
    return static_cast<std::size_t>(p - begin_);
  }

  bool object(Value& out, int depth) {
    if (depth >= kMaxDepth) return fail("nesting deeper than 512 levels");
    ++p_;
    Args obj;
    skip_space();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      out = Value(std::move(obj));
      return true;
    }
    while (true) {
      skip_space();
      if (p_ == end_) return fail("unexpected end of line in an object");
      if (*p_ != '"') return fail("expected a string key");
      std::string key;
      if (!string(key)) return false;
      skip_space();
      if (p_ == end_) return fail("unexpected end of line in an object");
      if (*p_ != ':') return fail("expected ':' after a key");
      ++p_;
      Value item;
      if (!value(item, depth + 1)) return false;
      // A repeated key keeps its first position and its last value, as Python's dict does.
      obj.insert_or_assign(std::move(key), std::move(item));
      skip_space();
      if (p_ == end_) return fail("unexpected end of line in an object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        break;
      }
      return fail("expected ',' or '}' in an object");
    }
    out = Value(std::move(obj));
    return true;
  }

  bool array(Value& out, int depth) {
    if (depth >= kMaxDepth) return fail("nesting deeper than 512 levels");
    ++p_;
    Array arr;
    skip_space();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      out = Value(std::move(arr));
      return true;
    }
    bool counted = false;
    while (true) {
      if (!counted && arr.size() >= kCountAfter && arr.size() == arr.capacity()) {
        counted = true;
        if (std::optional<std::size_t> rest = count_elements()) arr.reserve(arr.size() + *rest);
      }
      arr.emplace_back();
      if (!value(arr.back(), depth + 1)) return false;
      skip_space();
      if (p_ == end_) return fail("unexpected end of line in an array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        break;
      }
      return fail("expected ',' or ']' in an array");
    }
    out = Value(std::move(arr));
    return true;
  }

  // Large arrays are counted before they are filled: growing a vector by doubling touches
  // twice the memory of the final array, and fresh memory (page faults) is what a
  // many-megabyte array of numbers costs most. Returns the number of elements from here to the
  // closing bracket, or nullopt if the array does not close or the counting budget (one extra
  // pass over the line) is spent, as it would be by large arrays nested in large arrays.
  std::optional<std::size_t> count_elements() {
    std::size_t commas = 0;
    std::size_t nesting = 0;
    const char* q = p_;
    const char* stop = end_;
    if (static_cast<std::size_t>(end_ - q) > count_budget_) stop = q + count_budget_;
    while (q < stop) {
      char c = *q;
      if (c == '"') {
        ++q;
        while (q < stop && *q != '"')
          q += (*q == '\\' && stop - q > 1) ? 2 : 1;
        if (q == stop) break;
      } else if (c == '[' || c == '{') {
        ++nesting;
      } else if (c == ']' || c == '}') {
        if (nesting == 0) {
          auto scanned = static_cast<std::size_t>(q - p_);
          count_budget_ -= scanned;
          // Every element takes a byte and a comma; more commas than that is a broken array
          // that must not make us reserve memory for it.
          if (commas > scanned / 2) return std::nullopt;
          return commas + 1;
        }
        --nesting;
      } else if (c == ',' && nesting == 0) {
        ++commas;
      }
      ++q;
    }
    count_budget_ = 0;
    return std::nullopt;
  }

  bool string(std::string& s) {
    ++p_;  // the opening quote
    const char* run = p_;
    auto flush = [&] { s.append(run, p_); };
    while (true) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_) return fail("unterminated string");
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        flush();
        ++p_;
        return true;
      }
      if (c == '\\') {
        flush();
        if (!escape(s)) return false;
        run = p_;
        continue;
      }
      if (c < 0x20U) return fail("control character in a string (it must be escaped)");
      utf8::Step step = utf8::decode(reinterpret_cast<const unsigned char*>(p_),
                                     reinterpret_cast<const unsigned char*>(end_));
      if (!step.valid) {
        flush();
        if (!bad_utf8_) bad_utf8_ = offset(p_);
        s += utf8::kReplacement;
        p_ += step.length;
        run = p_;
        continue;
      }
      p_ += step.length;
    }
  }

  bool hex4(const char* at, unsigned& unit) const noexcept {
    if (end_ - at < 4) return false;
    unit = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(at[i]);
      if (h < 0) return false;
      unit = (unit << 4U) | static_cast<unsigned>(h);
    }
    return true;
  }

  bool escape(std::string& s) {
    if (end_ - p_ < 2) return fail("unterminated escape");
    char c = p_[1];
    char plain = 0;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        plain = c;
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u':
        return unicode_escape(s);
      default:
        return fail("invalid escape in a string");
    }
    s += plain;
    p_ += 2;
    return true;
  }

  // UTF-8 cannot hold a lone surrogate, which Python's json accepts; it becomes U+FFFD.
  bool unicode_escape(std::string& s) {
    unsigned unit = 0;
    if (!hex4(p_ + 2, unit)) return fail("invalid \\u escape");
    p_ += 6;
    if (unit >= 0xD800U && unit <= 0xDBFFU) {
      unsigned low = 0;
      if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && hex4(p_ + 2, low) && low >= 0xDC00U &&
          low <= 0xDFFFU) {
        p_ += 6;
        utf8::append(s, 0x10000U + ((unit - 0xD800U) << 10U) + (low - 0xDC00U));
        return true;
      }
      s += utf8::kReplacement;
      return true;
    }
    if (unit >= 0xDC00U && unit <= 0xDFFFU) {
      s += utf8::kReplacement;
      return true;
    }
    utf8::append(s, unit);
    return true;
  }

  bool literal(std::string_view word, Value v, Value& out) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return fail("invalid literal");
    }
    p_ += word.size();
    out = std::move(v);
    return true;
  }

  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  bool number(Value& out) {
    const char* start = p_;
    bool negative = *p_ == '-';
    if (negative) {
      ++p_;
      if (p_ < end_ && *p_ == 'I') {
        return literal("Infinity", Value(-std::numeric_limits<double>::infinity()), out);
      }
    }
    if (p_ == end_ || !digit(*p_)) return fail("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && digit(*p_))
        ++p_;
    }
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !digit(*p_)) return fail("invalid number: digits expected after '.'");
      while (p_ < end_ && digit(*p_))
        ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return fail("invalid number: digits expected in exponent");
      while (p_ < end_ && digit(*p_))
        ++p_;
    }
    if (integral) {
      std::int64_t i = 0;
      if (std::from_chars(start, p_, i).ec == std::errc{}) {
        out = Value(i);
        return true;
      }
      std::uint64_t u = 0;
      if (!negative && std::from_chars(start, p_, u).ec == std::errc{}) {
        out = Value(u);
        return true;
      }
      out = Value(BigInteger{std::string(start, p_)});
      return true;
    }
    double d = 0;
    if (std::from_chars(start, p_, d).ec != std::errc{}) {
      // Out of range: strtod gives what Python gives, +-inf for overflow and 0 (or the
      // nearest subnormal) for underflow.
      d = std::strtod(std::string(start, p_).c_str(), nullptr);
    }
    out = Value(d);
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::size_t count_budget_ = static_cast<std::size_t>(end_ - begin_);
  std::string_view error_;
  std::size_t error_pos_ = 0;
  std::optional<std::size_t> bad_utf8_;
};

}  // namespace

ReadResult read_value(std::string_view text, std::size_t start, Value& out, int depth) {
  Reader reader(text, start);
  ReadResult result;
  result.ok = reader.value(out, depth);
  result.end = reader.position();
  result.error = reader.error();
  result.error_position = reader.error_position();
  result.bad_utf8 = reader.bad_utf8();
  return result;
}

bool read_flat_object(std::string_view line, FlatObject& out) {
  out.size = 0;
  std::size_t start = 0;
  while (start < line.size() && is_line_space(line[start]))
    ++start;
  if (start == line.size() || line[start] != '{') return false;
  Reader reader(line, start);
  if (!reader.flat_object(out)) return false;
  for (std::size_t i = reader.position(); i < line.size(); ++i) {
    if (!is_line_space(line[i])) return false;
  }
  return true;
}

Value parse(std::string_view text) {
  Reader reader(text);
  Value v;
  if (!reader.value(v)) {
    throw ProtocolError(
        fmt::format("invalid JSON at byte {}: {}", reader.error_position(), reader.error()),
        reader.error_position());
  }
  reader.skip_space();
  if (!reader.at_end()) {
    throw ProtocolError(
        fmt::format("invalid JSON at byte {}: text after the value", reader.position()),
        reader.position());
  }
  if (auto bad = reader.bad_utf8()) {
    throw ProtocolError(fmt::format("invalid UTF-8 in a JSON string at byte {}", *bad), *bad);
  }
  return v;
}

}  // namespace appose::detail::codec
