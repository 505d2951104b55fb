#include "codec.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

namespace appose::detail::codec {

namespace {

/// Deeper nesting is refused (on read and on write) so that a hostile or broken line cannot
/// exhaust the stack; Python's own json gives up near 1000.
constexpr int kMaxDepth = 512;

/// At most this many reasons are listed in one note about an invalid piece of a line.
constexpr std::size_t kMaxReasons = 3;

/// Arrays that reach this many elements are counted ahead (see Reader::count_elements).
constexpr std::size_t kCountAfter = 1024;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

constexpr std::string_view kHexDigits = "0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// UTF-8

struct Utf8Step {
  char32_t code_point = 0;
  std::size_t length = 1;  ///< bytes consumed; for an invalid sequence, its maximal subpart
  bool valid = false;
};

// Strict decoding (Unicode table 3-7): overlong forms, surrogates and code points beyond
// U+10FFFF are invalid. An invalid sequence reports the length of its maximal valid prefix so
// that replacement follows the Unicode recommendation (one U+FFFD per maximal subpart), as
// Python's errors="replace" does.
Utf8Step decode_utf8(const unsigned char* p, const unsigned char* end) noexcept {
  unsigned b0 = p[0];
  if (b0 < 0x80U) return {b0, 1, true};
  std::size_t need = 0;
  unsigned lo = 0x80U;
  unsigned hi = 0xBFU;
  char32_t cp = 0;
  if (b0 >= 0xC2U && b0 <= 0xDFU) {
    need = 1;
    cp = b0 & 0x1FU;
  } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
    need = 2;
    cp = b0 & 0x0FU;
    if (b0 == 0xE0U) lo = 0xA0U;
    if (b0 == 0xEDU) hi = 0x9FU;
  } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
    need = 3;
    cp = b0 & 0x07U;
    if (b0 == 0xF0U) lo = 0x90U;
    if (b0 == 0xF4U) hi = 0x8FU;
  } else {
    return {0xFFFD, 1, false};
  }
  std::size_t i = 1;
  for (std::size_t k = 0; k < need; ++k, ++i) {
    if (p + i >= end) return {0xFFFD, i, false};
    unsigned b = p[i];
    if (b < lo || b > hi) return {0xFFFD, i, false};
    cp = (cp << 6U) | (b & 0x3FU);
    lo = 0x80U;
    hi = 0xBFU;
  }
  return {cp, i, true};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80U) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800U) {
    out += static_cast<char>(0xC0U | (cp >> 6U));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  } else if (cp < 0x10000U) {
    out += static_cast<char>(0xE0U | (cp >> 12U));
    out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  } else {
    out += static_cast<char>(0xF0U | (cp >> 18U));
    out += static_cast<char>(0x80U | ((cp >> 12U) & 0x3FU));
    out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  }
}

const unsigned char* bytes_of(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Invalid bytes become U+FFFD, so that what we report is always valid UTF-8.
std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const unsigned char* p = bytes_of(s);
  const unsigned char* end = p + s.size();
  const unsigned char* run = p;
  while (p < end) {
    if (*p < 0x80U) {
      ++p;
      continue;
    }
    Utf8Step step = decode_utf8(p, end);
    if (!step.valid) {
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      out += kReplacement;
      run = p + step.length;
    }
    p += step.length;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
  return out;
}

bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Wider than JSON's set: a stray form feed or vertical tab on a line is not worth recording.
bool is_line_space(char c) noexcept {
  return is_json_space(c) || c == '\v' || c == '\f';
}

// ---------------------------------------------------------------------------------------------
// Writer

// Python's float repr: the shortest digits that round-trip, in positional form for decimal
// exponents -4..15 (with ".0" when there is no fraction) and scientific form otherwise, with
// a signed exponent of at least two digits ("1e+16", "1e-05").
void write_double(std::string& out, double d) {
  if (d == 0) {
    out += std::signbit(d) ? "-0.0" : "0.0";
    return;
  }
  std::array<char, 64> buf{};
  // Without a precision, to_chars gives the shortest representation that round-trips.
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  std::string_view sci(buf.data(), static_cast<std::size_t>(end - buf.data()));
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  std::size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  std::string_view exp_text = sci.substr(e_pos + 1);
  int exponent = 0;
  std::from_chars(exp_text.data() + (exp_text.front() == '+' ? 1 : 0),
                  exp_text.data() + exp_text.size(), exponent);
  std::array<char, 20> digits_buf{};
  std::size_t n = 0;
  for (char c : mantissa) {
    if (c != '.') digits_buf[n++] = c;
  }
  std::string_view digits(digits_buf.data(), n);

  if (exponent < -4 || exponent >= 16) {
    out += digits.front();
    if (n > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += exponent < 0 ? "e-" : "e+";
    int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  } else if (exponent < 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
  } else {
    auto int_digits = static_cast<std::size_t>(exponent) + 1;
    if (n <= int_digits) {
      out += digits;
      out.append(int_digits - n, '0');
      out += ".0";
    } else {
      out += digits.substr(0, int_digits);
      out += '.';
      out += digits.substr(int_digits);
    }
  }
}

// Byte classes of ASCII for string writing: 0 = copy as is; otherwise the escape.
constexpr std::array<char, 128> make_escape_table() {
  std::array<char, 128> t{};
  for (std::size_t c = 0; c < 0x20; ++c)
    t[c] = 'u';
  t[0x7F] = 'u';  // Python's ensure_ascii escapes DEL too
  t['"'] = '"';
  t['\\'] = '\\';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  return t;
}
constexpr std::array<char, 128> kEscape = make_escape_table();

void append_u_escape(std::string& out, unsigned unit) {
  out += "\\u";
  out += kHexDigits[(unit >> 12U) & 0xFU];
  out += kHexDigits[(unit >> 8U) & 0xFU];
  out += kHexDigits[(unit >> 4U) & 0xFU];
  out += kHexDigits[unit & 0xFU];
}

class Writer {
 public:
  Writer(std::string& out, const WriteOptions& options) : out_(out), options_(options) {}

  void value(const Value& v) {
    switch (v.kind()) {
      case Value::Kind::null:
        out_ += "null";
        break;
      case Value::Kind::boolean:
        out_ += std::get<bool>(v.variant()) ? "true" : "false";
        break;
      case Value::Kind::integer:
        integer(std::get<std::int64_t>(v.variant()));
        break;
      case Value::Kind::unsigned_integer:
        integer(std::get<std::uint64_t>(v.variant()));
        break;
      case Value::Kind::floating:
        floating(std::get<double>(v.variant()));
        break;
      case Value::Kind::big_integer:
        big_integer(std::get<BigInteger>(v.variant()));
        break;
      case Value::Kind::string:
        string(std::get<std::string>(v.variant()));
        break;
      case Value::Kind::array:
        array(std::get<Array>(v.variant()));
        break;
      case Value::Kind::object:
        object(std::get<Args>(v.variant()));
        break;
      case Value::Kind::ndarray:
        ndarray(std::get<NDArray>(v.variant()));
        break;
      case Value::Kind::shared_memory:
        shm(std::get<SharedMemory>(v.variant()));
        break;
      case Value::Kind::worker_object:
        out_ += R"({"appose_type":"worker_object","var_name":)";
        string(std::get<WorkerObject>(v.variant()).var_name());
        out_ += '}';
        break;
    }
  }

  void object(const Args& o) {
    enter();
    out_ += '{';
    path_.push_back({});
    bool first = true;
    for (const auto& [key, item] : o) {
      if (!first) out_ += ',';
      first = false;
      path_.back().key = key;
      string(key);
      out_ += ':';
      value(item);
    }
    path_.pop_back();
    out_ += '}';
    leave();
  }

  void string(std::string_view s) {
    out_.reserve(out_.size() + s.size() + 2);
    out_ += '"';
    const unsigned char* p = bytes_of(s);
    const unsigned char* end = p + s.size();
    while (p < end) {
      const unsigned char* run = p;
      while (p < end && *p < 0x80U && kEscape[*p] == 0)
        ++p;
      out_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      if (p == end) break;
      if (*p < 0x80U) {
        char e = kEscape[*p];
        if (e == 'u') {
          append_u_escape(out_, *p);
        } else {
          out_ += '\\';
          out_ += e;
        }
        ++p;
        continue;
      }
      Utf8Step step = decode_utf8(p, end);
      if (!step.valid) {
        throw ProtocolError(fmt::format(
            "the string at {} is not valid UTF-8 (byte 0x{:02x} at offset {}); JSON strings "
            "must be UTF-8",
            where(), *p, p - bytes_of(s)));
      }
      if (step.code_point < 0x10000U) {
        append_u_escape(out_, step.code_point);
      } else {
        char32_t v = step.code_point - 0x10000U;
        append_u_escape(out_, 0xD800U + (v >> 10U));
        append_u_escape(out_, 0xDC00U + (v & 0x3FFU));
      }
      p += step.length;
    }
    out_ += '"';
  }

  /// Names the part of the message being written, for error messages.
  void push_key(std::string_view key) { path_.push_back({key, 0, false}); }
  void pop() { path_.pop_back(); }

 private:
  struct Segment {
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;
  };

  template <typename Int>
  void integer(Int i) {
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), i);
    out_.append(buf.data(), end);
  }

  void floating(double d) {
    if (std::isfinite(d)) {
      write_double(out_, d);
      return;
    }
    std::string_view token = std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity");
    if (options_.non_finite == NonFinite::refuse) {
      throw ProtocolError(fmt::format(
          "cannot send {} at {}: this worker cannot read non-finite numbers (NaN, Infinity); "
          "send it as a string or null instead",
          token, where()));
    }
    out_ += token;
  }

  void big_integer(const BigInteger& b) {
    std::string_view d = b.digits;
    std::string_view magnitude = d.starts_with('-') ? d.substr(1) : d;
    bool ok = !magnitude.empty() && (magnitude.size() == 1 || magnitude.front() != '0');
    for (char c : magnitude)
      ok = ok && c >= '0' && c <= '9';
    if (!ok) {
      throw ProtocolError(fmt::format("the big integer at {} is not a decimal integer: '{}'",
                                      where(), sanitize_utf8(d)));
    }
    out_ += d;
  }

  void array(const Array& a) {
    enter();
    out_ += '[';
    path_.push_back({{}, 0, true});
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i > 0) out_ += ',';
      path_.back().index = i;
      value(a[i]);
    }
    path_.pop_back();
    out_ += ']';
    leave();
  }

  void shm(const SharedMemory& s) {
    if (!s) throw ProtocolError(fmt::format("cannot send an empty SharedMemory at {}", where()));
    out_ += R"({"appose_type":"shm","name":)";
    string(s.name());
    out_ += R"(,"rsize":)";
    integer(static_cast<std::uint64_t>(s.rsize()));
    // A region is written field by field as it was given (docs/protocol.md): a reference that
    // came over the wire goes back byte for byte.
    const ShmRegion& region = s.region();
    if (region.offset) {
      out_ += R"(,"offset":)";
      integer(static_cast<std::uint64_t>(*region.offset));
    }
    if (region.length) {
      out_ += R"(,"length":)";
      integer(static_cast<std::uint64_t>(*region.length));
    }
    if (region.managed) out_ += *region.managed ? R"(,"managed":true)" : R"(,"managed":false)";
    out_ += '}';
  }

  void ndarray(const NDArray& a) {
    if (!a) throw ProtocolError(fmt::format("cannot send an empty NDArray at {}", where()));
    if (a.dtype() == DType::float16 && !options_.float16_arrays) {
      throw ProtocolError(fmt::format(
          "cannot send the float16 array at {}: this worker cannot decode float16 arrays; "
          "convert it to float32 first",
          where()));
    }
    out_ += R"({"appose_type":"ndarray","dtype":)";
    string(dtype_name(a.dtype()));
    out_ += R"(,"shape":[)";
    bool first = true;
    for (std::uint64_t dim : a.shape().c_dims()) {
      if (!first) out_ += ',';
      first = false;
      integer(dim);
    }
    out_ += R"(],"shm":)";
    shm(a.shm());
    out_ += '}';
  }

  void enter() {
    if (++depth_ > kMaxDepth) {
      throw ProtocolError(fmt::format(
          "the value at {} is nested deeper than {} levels, which no Appose reader accepts",
          where(), kMaxDepth));
    }
  }
  void leave() { --depth_; }

  [[nodiscard]] std::string where() const {
    std::string s;
    for (const Segment& seg : path_) {
      if (seg.is_index) {
        s += fmt::format("[{}]", seg.index);
      } else {
        if (!s.empty()) s += '.';
        s += sanitize_utf8(seg.key);
      }
    }
    return s.empty() ? std::string("the top level") : s;
  }

  std::string& out_;
  const WriteOptions& options_;
  std::vector<Segment> path_;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Reader

// Bytes a string can hold as they are: printable ASCII but the quote and the backslash.
// (Bytes >= 0x80 are checked as UTF-8; control characters must be escaped in JSON.)
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (std::size_t c = 0x20; c < 0x80; ++c)
    t[c] = true;
  t['"'] = false;
  t['\\'] = false;
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A recursive-descent JSON reader over a whole line, starting anywhere in it (offsets in
/// errors are offsets in the line). It does not throw on bad input: it returns false and
/// remembers where and why, because split_line probes many start positions in garbage.
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
      while (p_ < end_ && kPlain[static_cast<unsigned char>(*p_)])
        ++p_;
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
      Utf8Step step = decode_utf8(reinterpret_cast<const unsigned char*>(p_),
                                  reinterpret_cast<const unsigned char*>(end_));
      if (!step.valid) {
        flush();
        if (!bad_utf8_) bad_utf8_ = offset(p_);
        s += kReplacement;
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
        append_utf8(s, 0x10000U + ((unit - 0xD800U) << 10U) + (low - 0xDC00U));
        return true;
      }
      s += kReplacement;
      return true;
    }
    if (unit >= 0xDC00U && unit <= 0xDFFFU) {
      s += kReplacement;
      return true;
    }
    append_utf8(s, unit);
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

// ---------------------------------------------------------------------------------------------
// split_line

class LineSplitter {
 public:
  explicit LineSplitter(std::string_view line) : line_(line) {}

  LineContents run() {
    std::size_t i = 0;
    // '[' is probed only from here on, so that failed probes stay linear in total.
    std::size_t bracket_floor = 0;
    while (i < line_.size()) {
      std::size_t c = i;
      while (c < line_.size() && line_[c] != '{' && (line_[c] != '[' || c < bracket_floor))
        ++c;
      if (c == line_.size()) break;
      Reader reader(line_, c);
      Value v;
      bool ok = reader.value(v);
      if (line_[c] == '{') {
        if (ok && !reader.bad_utf8()) {
          flush(c, true);
          out_.messages.push_back(std::move(v.as_object()));
          i = run_start_ = reader.position();
        } else if (ok) {
          reasons_.push_back(fmt::format(
              "the JSON object at bytes {}-{} holds invalid UTF-8 in a string (byte {}): "
              "rejected rather than altered",
              c, reader.position(), *reader.bad_utf8()));
          i = reader.position();
        } else {
          reasons_.push_back(fmt::format("no complete JSON object from byte {}: {} at byte {}", c,
                                         reader.error(), reader.error_position()));
          // Resuming after the error, not after the '{', keeps an object nested in a broken
          // one from being taken for a message.
          i = reader.error_position() + 1;
        }
      } else if (ok) {
        // A JSON array (a script printing a list) is not a message, even if it holds objects.
        reasons_.push_back(
            fmt::format("bytes {}-{} hold a JSON array, not an object", c, reader.position()));
        i = reader.position();
      } else {
        bracket_floor = reader.error_position() + 1;
        i = c + 1;
      }
    }
    flush(line_.size(), false);
    return std::move(out_);
  }

 private:
  // Records line_[run_start_, end) as invalid unless it is white space. Pieces next to a
  // message are trimmed; a line without any message is kept whole, indentation included.
  void flush(std::size_t end, bool before_message) {
    std::size_t a = run_start_;
    std::size_t b = end;
    bool whole_line = !before_message && out_.messages.empty();
    if (!whole_line) {
      while (a < b && is_line_space(line_[a]))
        ++a;
      while (b > a && is_line_space(line_[b - 1]))
        --b;
    }
    bool blank = true;
    for (std::size_t k = a; k < b && blank; ++k)
      blank = is_line_space(line_[k]);
    if (!blank) {
      out_.invalid.push_back(sanitize_utf8(line_.substr(a, b - a)));
      std::string why;
      if (reasons_.empty()) {
        why = "text outside any JSON object";
      } else {
        for (std::size_t k = 0; k < reasons_.size() && k < kMaxReasons; ++k) {
          if (k > 0) why += "; ";
          why += reasons_[k];
        }
        if (reasons_.size() > kMaxReasons) {
          why += fmt::format("; and {} more", reasons_.size() - kMaxReasons);
        }
      }
      out_.notes.push_back(fmt::format("invalid text at bytes {}-{}: {}", a, b, why));
    }
    reasons_.clear();
  }

  std::string_view line_;
  std::size_t run_start_ = 0;
  std::vector<std::string> reasons_;
  LineContents out_;
};

// ---------------------------------------------------------------------------------------------
// Requests and responses

std::string describe(const Value& v) {
  std::string_view kind = v.kind_name();
  if (v.is_null()) return "null";
  bool vowel = kind.front() == 'a' || kind.front() == 'i' || kind.front() == 'o' ||
               kind.front() == 'u' || kind.front() == 'e' || kind.starts_with("nd");
  return fmt::format("{} {}", vowel ? "an" : "a", kind);
}

[[noreturn]] void wrong_type(std::string_view what, std::string_view key, std::string_view wanted,
                             const Value& v) {
  throw ProtocolError(
      fmt::format("{}: '{}' must be {}, but it is {}", what, key, wanted, describe(v)));
}

// The string under `key`; absent and null both mean "not given".
std::optional<std::string> take_string(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) wrong_type(what, key, "a string", *v);
  return std::get<std::string>(v->variant());
}

std::optional<std::int64_t> take_int(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  try {
    return v->get<std::int64_t>();
  } catch (const TypeError&) {
    wrong_type(what, key, "an integer that fits in 64 bits", *v);
  }
}

Args take_object(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_object()) wrong_type(what, key, "an object", *v);
  return std::move(v->as_object());
}

// ---------------------------------------------------------------------------------------------
// resolve

using WorkerObjectFactory = std::function<WorkerObject(std::string var_name)>;

class Resolver {
 public:
  explicit Resolver(const WorkerObjectFactory& make_worker_object)
      : make_worker_object_(make_worker_object) {}

  void value(Value& v) {
    if (v.is_array()) {
      Array& a = v.as_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        path_.push_back(fmt::format("[{}]", i));
        value(a[i]);
        path_.pop_back();
      }
      return;
    }
    if (!v.is_object()) return;
    Args& o = v.as_object();
    if (const Value* type = o.find("appose_type"); type != nullptr && type->is_string()) {
      const auto& name = std::get<std::string>(type->variant());
      if (name == "shm") {
        v = Value(shm(o));
        return;
      }
      if (name == "ndarray") {
        v = Value(ndarray(o));
        return;
      }
      if (name == "worker_object" && make_worker_object_) {
        v = Value(make_worker_object_(string_field(o, "worker_object", "var_name")));
        return;
      }
    }
    members(o);
  }

  void members(Args& o) {
    for (auto& [key, item] : o) {
      path_.push_back(key);
      value(item);
      path_.pop_back();
    }
  }

 private:
  [[nodiscard]] std::string where() const {
    std::string s;
    for (const std::string& seg : path_) {
      if (!s.empty() && !seg.starts_with('[')) s += '.';
      s += seg;
    }
    return s.empty() ? std::string("the top level") : s;
  }

  [[noreturn]] void malformed(std::string_view type, std::string_view problem) const {
    throw ProtocolError(fmt::format("malformed '{}' object at {}: {}", type, where(), problem));
  }

  std::string string_field(const Args& o, std::string_view type, std::string_view key) const {
    const Value* v = o.find(key);
    if (v == nullptr) malformed(type, fmt::format("no '{}'", key));
    if (!v->is_string())
      malformed(type, fmt::format("'{}' is {}, not a string", key, describe(*v)));
    return std::get<std::string>(v->variant());
  }

  std::uint64_t size_field(const Value* v, std::string_view type, std::string_view key) const {
    if (v == nullptr) malformed(type, fmt::format("no '{}'", key));
    try {
      return v->get<std::uint64_t>();
    } catch (const TypeError&) {
      malformed(type,
                fmt::format("'{}' must be a non-negative integer, not {}", key, describe(*v)));
    }
  }

  std::size_t optional_size(const Args& o, std::string_view key) const {
    std::uint64_t n = size_field(o.find(key), "shm", key);
    if (n > std::numeric_limits<std::size_t>::max()) {
      malformed("shm", fmt::format("'{}' is too large", key));
    }
    return static_cast<std::size_t>(n);
  }

  SharedMemory shm(const Args& o) const {
    std::string name = string_field(o, "shm", "name");
    const std::size_t rsize = optional_size(o, "rsize");
    // After 0.12 a reference may name a region of the block (docs/protocol.md).
    ShmRegion region;
    if (o.find("offset") != nullptr) region.offset = optional_size(o, "offset");
    if (o.find("length") != nullptr) region.length = optional_size(o, "length");
    if (const Value* managed = o.find("managed")) {
      if (managed->kind() != Value::Kind::boolean) {
        malformed("shm", fmt::format("'managed' is {}, not a boolean", describe(*managed)));
      }
      region.managed = std::get<bool>(managed->variant());
    }
    SharedMemory block = SharedMemory::attach(name, rsize);
    try {
      return block.with_region(region);
    } catch (const Error& e) {
      malformed("shm", e.what());
    }
  }

  NDArray ndarray(Args& o) {
    std::string dtype_text = string_field(o, "ndarray", "dtype");
    std::optional<DType> dtype = parse_dtype(dtype_text);
    if (!dtype) malformed("ndarray", fmt::format("unknown dtype '{}'", dtype_text));
    const Value* shape = o.find("shape");
    if (shape == nullptr) malformed("ndarray", "no 'shape'");
    if (!shape->is_array()) malformed("ndarray", "'shape' is not an array");
    std::vector<std::uint64_t> dims;
    for (const Value& d : shape->as_array())
      dims.push_back(size_field(&d, "ndarray", "shape"));
    Value* block = o.find("shm");
    if (block == nullptr) malformed("ndarray", "no 'shm'");
    path_.emplace_back("shm");
    value(*block);
    path_.pop_back();
    if (block->kind() != Value::Kind::shared_memory) {
      malformed("ndarray", "'shm' is not an 'shm' object");
    }
    return NDArray(*dtype, Shape(std::move(dims)), std::get<SharedMemory>(block->variant()));
  }

  const WorkerObjectFactory& make_worker_object_;
  std::vector<std::string> path_;
};

bool non_finite(const Value& v) noexcept {
  switch (v.kind()) {
    case Value::Kind::floating:
      return !std::isfinite(std::get<double>(v.variant()));
    case Value::Kind::array:
      for (const Value& item : std::get<Array>(v.variant())) {
        if (non_finite(item)) return true;
      }
      return false;
    case Value::Kind::object:
      for (const auto& [key, item] : std::get<Args>(v.variant())) {
        if (non_finite(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions

std::string write(const Value& value, const WriteOptions& options) {
  std::string out;
  write_to(out, value, options);
  return out;
}

void write_to(std::string& out, const Value& value, const WriteOptions& options) {
  Writer(out, options).value(value);
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

LineContents split_line(std::string_view line) {
  try {
    return LineSplitter(line).run();
  } catch (const std::exception& e) {
    // Only allocation failure gets here; the line must still not take the reader down.
    LineContents out;
    out.invalid.push_back(sanitize_utf8(line));
    out.notes.push_back(fmt::format("the line could not be split: {}", e.what()));
    return out;
  }
}

namespace {

/// The fields both request encoders write, in appose-python's order.
void write_request_head(Writer& w, std::string& out, std::string_view task, RequestType type) {
  out += R"({"task":)";
  w.string(task);
  out += R"(,"requestType":)";
  w.string(to_string(type));
}

void write_execute_body(Writer& w, std::string& out, std::string_view script, const Args& inputs,
                        const std::optional<std::string>& queue) {
  out += R"(,"script":)";
  w.string(script);
  out += R"(,"inputs":)";
  w.push_key("inputs");
  w.object(inputs);
  w.pop();
  out += R"(,"queue":)";
  if (queue) {
    w.string(*queue);
  } else {
    out += "null";
  }
}

/// CALL and RELEASE (after 0.12): `responseType` first, then the fields in the order of
/// upstream's examples.
void write_taskless(Writer& w, std::string& out, const Response& r) {
  out += R"({"responseType":)";
  w.string(to_string(r.type));
  if (r.type == ResponseType::CALL) {
    out += R"(,"call":)";
    w.string(r.call);
    out += R"(,"var":)";
    w.string(r.var);
    out += R"(,"op":)";
    w.string(r.op);
    if (r.name) {
      out += R"(,"name":)";
      w.string(*r.name);
    }
    if (r.op == "call") {
      out += R"(,"args":)";
      w.push_key("args");
      w.value(Value(r.args));
      w.pop();
    }
  } else {
    out += R"(,"regions":[)";
    for (std::size_t i = 0; i < r.regions.size(); ++i) {
      if (i != 0) out += ',';
      out += R"({"name":)";
      w.string(r.regions[i].name);
      out += R"(,"offset":)";
      out += std::to_string(r.regions[i].offset);
      out += '}';
    }
    out += ']';
  }
  out += '}';
}

/// The fields of a CALL; `r.call` is set already.
void read_call(Args& message, Response& r) {
  const std::string what = fmt::format("CALL {}", sanitize_utf8(r.call));
  std::optional<std::string> var = take_string(message, "var", what);
  if (!var) throw ProtocolError(fmt::format("{} names no service object ('var')", what));
  r.var = std::move(*var);
  std::optional<std::string> op = take_string(message, "op", what);
  if (!op || (*op != "get" && *op != "call" && *op != "dir")) {
    throw ProtocolError(fmt::format("{} has {} 'op': it must be \"get\", \"call\" or \"dir\"", what,
                                    op ? "an unknown" : "no"));
  }
  r.op = std::move(*op);
  r.name = take_string(message, "name", what);
  if (r.op == "get" && !r.name)
    throw ProtocolError(fmt::format("{}: op 'get' needs a 'name'", what));
  if (r.op != "get" && r.name) {
    throw ProtocolError(fmt::format("{}: 'name' goes only with op 'get'", what));
  }
  if (Value* args = message.find("args"); args != nullptr && !args->is_null()) {
    if (r.op != "call")
      throw ProtocolError(fmt::format("{}: 'args' goes only with op 'call'", what));
    if (!args->is_array()) wrong_type(what, "args", "an array", *args);
    r.args = std::move(args->as_array());
  }
}

/// The regions of a RELEASE: `[{"name":..., "offset":...}, ...]`.
void read_release(Args& message, Response& r) {
  constexpr std::string_view what = "RELEASE";
  Value* regions = message.find("regions");
  if (regions == nullptr || regions->is_null()) return;
  if (!regions->is_array()) wrong_type(what, "regions", "an array", *regions);
  for (Value& entry : regions->as_array()) {
    if (!entry.is_object()) wrong_type(what, "regions[]", "an object", entry);
    Args& o = entry.as_object();
    std::optional<std::string> name = take_string(o, "name", what);
    if (!name) throw ProtocolError("RELEASE: a region without a block 'name'");
    ReleasedRegion region{std::move(*name), 0};
    if (Value* offset = o.find("offset"); offset != nullptr && !offset->is_null()) {
      try {
        region.offset = offset->get<std::uint64_t>();
      } catch (const TypeError&) {
        wrong_type(what, "offset", "a non-negative integer", *offset);
      }
    }
    r.regions.push_back(std::move(region));
  }
}

}  // namespace

std::string encode_request(const Request& request, const WriteOptions& options) {
  std::string out;
  Writer w(out, options);
  if (request.type == RequestType::REPLY) {
    throw ProtocolError("a REPLY carries a call id, not a task: write it with encode_reply()");
  }
  write_request_head(w, out, request.task, request.type);
  if (request.type == RequestType::EXECUTE) {
    write_execute_body(w, out, request.script, request.inputs, request.queue);
  }
  out += '}';
  return out;
}

std::string encode_reply(const Reply& reply, const WriteOptions& options) {
  std::string out;
  Writer w(out, options);
  // Upstream's REPLY (after 0.12) answers a CALL and carries no task.
  out += R"({"requestType":"REPLY","call":)";
  w.string(reply.call);
  if (reply.error) {
    out += R"(,"error":)";
    w.string(*reply.error);
  } else {
    out += R"(,"result":)";
    w.push_key("result");
    w.value(reply.result.value_or(Value()));
    w.pop();
  }
  out += '}';
  return out;
}

std::string encode_execute(std::string_view task, std::string_view script, const Args& inputs,
                           const std::optional<std::string>& queue, const WriteOptions& options) {
  std::string out;
  Writer w(out, options);
  write_request_head(w, out, task, RequestType::EXECUTE);
  write_execute_body(w, out, script, inputs, queue);
  out += "}\n";
  return out;
}

std::string encode_response(const Response& response, const WriteOptions& options) {
  std::string out;
  Writer w(out, options);
  if (response.type == ResponseType::CRASH) {
    throw ProtocolError("CRASH is never sent by a worker: the service makes it up");
  }
  if (response.type == ResponseType::HELLO) {
    // Upstream's HELLO (after 0.12.0) leads with responseType and carries no task.
    out += R"({"responseType":"HELLO")";
    if (response.implementation) {
      out += R"(,"implementation":)";
      w.string(*response.implementation);
    }
    if (response.version) {
      out += R"(,"version":)";
      w.string(*response.version);
    }
    out += '}';
    return out;
  }
  if (response.type == ResponseType::CALL || response.type == ResponseType::RELEASE) {
    write_taskless(w, out, response);
    return out;
  }
  if (!response.task) {
    throw ProtocolError(fmt::format("a {} response needs a task id", to_string(response.type)));
  }
  // Payload first, then task and responseType: the order of appose-python's worker.
  out += '{';
  auto key = [&](std::string_view k) {
    out += '"';
    out += k;
    out += "\":";
  };
  switch (response.type) {
    case ResponseType::UPDATE:
      if (response.message) {
        key("message");
        w.string(*response.message);
        out += ',';
      }
      if (response.current) {
        key("current");
        out += std::to_string(*response.current);
        out += ',';
      }
      if (response.maximum) {
        key("maximum");
        out += std::to_string(*response.maximum);
        out += ',';
      }
      // Python's task.update() always sends info, null when not given.
      key("info");
      w.push_key("info");
      w.value(response.info);
      w.pop();
      out += ',';
      break;
    case ResponseType::COMPLETION:
      key("outputs");
      w.push_key("outputs");
      w.object(response.outputs);
      w.pop();
      out += ',';
      break;
    case ResponseType::FAILURE:
      if (response.error) {
        key("error");
        w.string(*response.error);
        out += ',';
      }
      break;
    default:
      break;
  }
  key("task");
  w.string(*response.task);
  out += R"(,"responseType":)";
  w.string(to_string(response.type));
  out += '}';
  return out;
}

Request to_request(Args message) {
  constexpr std::string_view what = "request";
  if (const Value* t = message.find("requestType");
      t != nullptr && t->is_string() && std::get<std::string>(t->variant()) == "REPLY") {
    Request reply;  // no task: the caller reads its fields with to_reply()
    reply.type = RequestType::REPLY;
    return reply;
  }
  Request r;
  std::optional<std::string> task = take_string(message, "task", what);
  if (!task) throw ProtocolError("request without a 'task' id");
  r.task = std::move(*task);
  std::optional<std::string> type = take_string(message, "requestType", what);
  if (!type) throw ProtocolError(fmt::format("request for task {} has no 'requestType'", r.task));
  std::optional<RequestType> parsed = parse_request_type(*type);
  if (!parsed) {
    throw ProtocolError(fmt::format("request for task {} has an unknown requestType '{}'", r.task,
                                    sanitize_utf8(*type)));
  }
  r.type = *parsed;
  if (r.type == RequestType::EXECUTE) {
    // Like the Python worker: a missing script is an empty one, missing inputs are none.
    r.script = take_string(message, "script", what).value_or(std::string());
    r.inputs = take_object(message, "inputs", what);
    r.queue = take_string(message, "queue", what);
  }
  return r;
}

Response to_response(Args message) {
  constexpr std::string_view what = "response";
  Response r;
  std::optional<std::string> type = take_string(message, "responseType", what);
  if (!type) throw ProtocolError("response without a 'responseType'");
  std::optional<ResponseType> parsed = parse_response_type(*type);
  if (!parsed) {
    throw ProtocolError(
        fmt::format("response with an unknown responseType '{}'", sanitize_utf8(*type)));
  }
  if (*parsed == ResponseType::CRASH) {
    // The service makes CRASH up when a worker dies; appose-python 0.12 ignores one that
    // arrives on the wire, and so does this reader (the task is left as it was).
    throw ProtocolError("response with responseType CRASH, which no worker sends");
  }
  r.type = *parsed;
  r.task = take_string(message, "task", what);
  switch (r.type) {
    case ResponseType::UPDATE:
      r.message = take_string(message, "message", what);
      r.current = take_int(message, "current", what);
      r.maximum = take_int(message, "maximum", what);
      if (Value* info = message.find("info")) r.info = std::move(*info);
      break;
    case ResponseType::COMPLETION:
      r.outputs = take_object(message, "outputs", what);
      break;
    case ResponseType::FAILURE:
      if (Value* error = message.find("error"); error != nullptr && !error->is_null()) {
        // A script may fail with any object (Python's task.fail(obj)); a terminal response
        // must not be lost over its type, so a non-string error is kept as its JSON text.
        r.error = error->is_string() ? std::get<std::string>(error->variant()) : write(*error);
      }
      break;
    case ResponseType::HELLO:
      r.implementation = take_string(message, "implementation", what);
      r.version = take_string(message, "version", what);
      break;
    case ResponseType::CALL: {
      std::optional<std::string> call = take_string(message, "call", what);
      if (!call) throw ProtocolError("CALL without a 'call' id, so it cannot be answered");
      r.call = std::move(*call);
      read_call(message, r);
      break;
    }
    case ResponseType::RELEASE:
      read_release(message, r);
      break;
    default:
      break;
  }
  return r;
}

Reply to_reply(Args message) {
  constexpr std::string_view what = "REPLY request";
  Reply r;
  std::optional<std::string> call = take_string(message, "call", what);
  if (!call) throw ProtocolError("REPLY request without a 'call' id");
  r.call = std::move(*call);
  r.error = take_string(message, "error", what);
  if (Value* result = message.find("result")) r.result = std::move(*result);
  return r;
}

bool known_without_task(const Args& message) {
  const Value* type = message.find("responseType");
  return message.find("task") == nullptr && type != nullptr && type->is_string() &&
         parse_response_type(std::get<std::string>(type->variant())).has_value();
}

std::optional<std::string> call_id(const Args& message) {
  const Value* type = message.find("responseType");
  const Value* call = message.find("call");
  if (type == nullptr || !type->is_string() || call == nullptr || !call->is_string()) {
    return std::nullopt;
  }
  if (std::get<std::string>(type->variant()) != "CALL") return std::nullopt;
  return std::get<std::string>(call->variant());
}

Value resolve(Value value,
              const std::function<WorkerObject(std::string var_name)>& make_worker_object) {
  Resolver(make_worker_object).value(value);
  return value;
}

Args resolve(Args args,
             const std::function<WorkerObject(std::string var_name)>& make_worker_object) {
  Resolver(make_worker_object).members(args);
  return args;
}

bool has_non_finite(const Value& value) noexcept {
  return non_finite(value);
}

bool is_valid_utf8(std::string_view text) noexcept {
  const unsigned char* p = bytes_of(text);
  const unsigned char* end = p + text.size();
  while (p < end) {
    if (*p < 0x80U) {
      ++p;
      continue;
    }
    Utf8Step step = decode_utf8(p, end);
    if (!step.valid) return false;
    p += step.length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  return sanitize_utf8(text);
}

}  // namespace appose::detail::codec
