#include "core/json_writer.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "core/json_scan.hpp"
#include "util/utf8.hpp"

namespace appose::detail::codec {

// Literals are appended as views (`sv`): appending a `const char*` measures it with strlen at
// run time, on every message.
using namespace std::string_view_literals;

namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";

// Python's float repr: the shortest digits that round-trip, in positional form for decimal
// exponents -4..15 (with ".0" when there is no fraction) and scientific form otherwise, with
// a signed exponent of at least two digits ("1e+16", "1e-05").
void write_double(std::string& out, double d) {
  if (d == 0) {
    out += std::signbit(d) ? "-0.0"sv : "0.0"sv;
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
    out += exponent < 0 ? "e-"sv : "e+"sv;
    int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  } else if (exponent < 0) {
    out += "0."sv;
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
  } else {
    auto int_digits = static_cast<std::size_t>(exponent) + 1;
    if (n <= int_digits) {
      out += digits;
      out.append(int_digits - n, '0');
      out += ".0"sv;
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
  out += "\\u"sv;
  out += kHexDigits[(unit >> 12U) & 0xFU];
  out += kHexDigits[(unit >> 8U) & 0xFU];
  out += kHexDigits[(unit >> 4U) & 0xFU];
  out += kHexDigits[unit & 0xFU];
}

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

template <typename Int>
void JsonWriter::integer(Int i) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), i);
  out_.append(buf.data(), end);
}

void JsonWriter::value(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      out_ += "null"sv;
      break;
    case Value::Kind::boolean:
      out_ += std::get<bool>(v.variant()) ? "true"sv : "false"sv;
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
      out_ += R"({"appose_type":"worker_object","var_name":)"sv;
      string(std::get<WorkerObject>(v.variant()).var_name());
      out_ += '}';
      break;
  }
}

void JsonWriter::object(const Args& o) {
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

void JsonWriter::string(std::string_view s) {
  out_.reserve(out_.size() + s.size() + 2);
  out_ += '"';
  const unsigned char* p = utf8::bytes_of(s);
  const unsigned char* end = p + s.size();
  while (p < end) {
    const unsigned char* run = p;
    p = plain_run_end(p, end, /*del_plain=*/false);  // where kEscape says 0
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
    utf8::Step step = utf8::decode(p, end);
    if (!step.valid) {
      throw ProtocolError(fmt::format(
          "the string at {} is not valid UTF-8 (byte 0x{:02x} at offset {}); JSON strings "
          "must be UTF-8",
          where(), *p, p - utf8::bytes_of(s)));
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

void JsonWriter::floating(double d) {
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

void JsonWriter::big_integer(const BigInteger& b) {
  std::string_view d = b.digits;
  std::string_view magnitude = d.starts_with('-') ? d.substr(1) : d;
  bool ok = !magnitude.empty() && (magnitude.size() == 1 || magnitude.front() != '0');
  for (char c : magnitude)
    ok = ok && c >= '0' && c <= '9';
  if (!ok) {
    throw ProtocolError(fmt::format("the big integer at {} is not a decimal integer: '{}'", where(),
                                    utf8::to_valid(d)));
  }
  out_ += d;
}

void JsonWriter::array(const Array& a) {
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

void JsonWriter::shm(const SharedMemory& s) {
  if (!s) throw ProtocolError(fmt::format("cannot send an empty SharedMemory at {}", where()));
  out_ += R"({"appose_type":"shm","name":)"sv;
  string(s.name());
  out_ += R"(,"rsize":)"sv;
  integer(static_cast<std::uint64_t>(s.rsize()));
  // A region is written field by field as it was given (docs/protocol.md): a reference that
  // came over the wire goes back byte for byte.
  const ShmRegion& region = s.region();
  if (region.offset) {
    out_ += R"(,"offset":)"sv;
    integer(static_cast<std::uint64_t>(*region.offset));
  }
  if (region.length) {
    out_ += R"(,"length":)"sv;
    integer(static_cast<std::uint64_t>(*region.length));
  }
  if (region.managed) out_ += *region.managed ? R"(,"managed":true)"sv : R"(,"managed":false)"sv;
  out_ += '}';
}

void JsonWriter::ndarray(const NDArray& a) {
  if (!a) throw ProtocolError(fmt::format("cannot send an empty NDArray at {}", where()));
  if (a.dtype() == DType::float16 && !options_.float16_arrays) {
    throw ProtocolError(fmt::format(
        "cannot send the float16 array at {}: this worker cannot decode float16 arrays; "
        "convert it to float32 first",
        where()));
  }
  out_ += R"({"appose_type":"ndarray","dtype":)"sv;
  string(dtype_name(a.dtype()));
  out_ += R"(,"shape":[)"sv;
  bool first = true;
  for (std::uint64_t dim : a.shape().c_dims()) {
    if (!first) out_ += ',';
    first = false;
    integer(dim);
  }
  out_ += R"(],"shm":)"sv;
  shm(a.shm());
  out_ += '}';
}

void JsonWriter::enter() {
  if (++depth_ > kMaxDepth) {
    throw ProtocolError(fmt::format(
        "the value at {} is nested deeper than {} levels, which no Appose reader accepts", where(),
        kMaxDepth));
  }
}

std::string JsonWriter::where() const {
  std::string s;
  for (const Segment& seg : path_) {
    if (seg.is_index) {
      s += fmt::format("[{}]", seg.index);
    } else {
      if (!s.empty()) s += '.';
      s += utf8::to_valid(seg.key);
    }
  }
  return s.empty() ? std::string("the top level") : s;
}

std::string write(const Value& value, const WriteOptions& options) {
  std::string out;
  write_to(out, value, options);
  return out;
}

void write_to(std::string& out, const Value& value, const WriteOptions& options) {
  JsonWriter(out, options).value(value);
}

bool has_non_finite(const Value& value) noexcept {
  return non_finite(value);
}

}  // namespace appose::detail::codec
