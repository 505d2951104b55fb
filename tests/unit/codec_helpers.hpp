#pragma once

// Helpers shared by the tests of the JSON reader and writer, the line scanner, the protocol
// messages and resolve(): checking what an exception says, an independent UTF-8 check, and a
// generator of random values.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "appose/value.hpp"
#include "support/message_of.hpp"
#include "wire/messages.hpp"

namespace appose::test {

/// A quiet NaN, for values that must survive the wire as NaN.
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// +Infinity.
inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// A response of `type` for `task`, its other fields empty.
inline detail::codec::Response response(ResponseType type,
                                        std::optional<std::string> task = std::nullopt) {
  detail::codec::Response r;
  r.type = type;
  r.task = std::move(task);
  return r;
}

/// Whether `s` is valid UTF-8. Independent of the library's own decoder, so that the tests do
/// not grade it with itself.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1FU) : n == 3 ? (c & 0x0FU) : (c & 0x07U);
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (d & 0x3FU);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

/// Random values of every plain kind (big integers, non-finite and subnormal doubles, text
/// across all UTF-8 lengths), reproducible from a seed.
class RandomValues {
 public:
  explicit RandomValues(std::uint64_t seed) : rng_(seed) {}

  Value value(int depth) {
    int pick = static_cast<int>(rng_() % (depth > 0 ? 10U : 8U));
    switch (pick) {
      case 0:
        return nullptr;
      case 1:
        return rng_() % 2 == 0;
      case 2:
        return static_cast<std::int64_t>(rng_());
      case 3:
        return rng_() | (std::uint64_t{1} << 63U);
      case 4:
        return number();
      case 5:
        return big_integer();
      case 6:
      case 7:
        return text();
      case 8: {
        Array a;
        auto n = rng_() % 6;
        for (std::uint64_t i = 0; i < n; ++i)
          a.push_back(value(depth - 1));
        return a;
      }
      default: {
        Args o;
        auto n = rng_() % 6;
        for (std::uint64_t i = 0; i < n; ++i)
          o.insert_or_assign(text(), value(depth - 1));
        return o;
      }
    }
  }

  double number() {
    switch (rng_() % 8) {
      case 0:
        return kNaN;
      case 1:
        return rng_() % 2 == 0 ? kInf : -kInf;
      case 2:
        return rng_() % 2 == 0 ? 0.0 : -0.0;
      case 3:  // subnormal
        return std::bit_cast<double>(rng_() & 0x800FFFFFFFFFFFFFULL);
      default: {
        double d = std::bit_cast<double>(rng_());
        return std::isfinite(d) ? d : 1.5;
      }
    }
  }

  BigInteger big_integer() {
    std::string digits = rng_() % 2 == 0 ? "-" : "";
    digits += static_cast<char>('1' + rng_() % 9);
    auto n = 20 + rng_() % 40;
    for (std::uint64_t i = 0; i < n; ++i)
      digits += static_cast<char>('0' + rng_() % 10);
    return {digits};
  }

  std::string text() {
    std::string s;
    auto n = rng_() % 12;
    for (std::uint64_t i = 0; i < n; ++i) {
      char32_t cp = 0;
      switch (rng_() % 5) {
        case 0:
          cp = static_cast<char32_t>(rng_() % 0x80);
          break;
        case 1:
          cp = static_cast<char32_t>(0x80 + rng_() % (0x800 - 0x80));
          break;
        case 2:
          cp = static_cast<char32_t>(0x800 + rng_() % (0x10000 - 0x800));
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          break;
        case 3:
          cp = static_cast<char32_t>(0x10000 + rng_() % (0x110000 - 0x10000));
          break;
        default:
          cp = static_cast<char32_t>(0x20 + rng_() % 0x5F);
      }
      append(s, cp);
    }
    return s;
  }

  static void append(std::string& s, char32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace appose::test
