#pragma once

// Shared by the libFuzzer targets (docs/fuzzing.md): a property check that survives NDEBUG
// (the fuzz preset is RelWithDebInfo, so assert() would vanish), and a value comparison that
// a round trip can be held to.

#include <appose/error.hpp>
#include <appose/value.hpp>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <variant>

namespace appose::fuzz {

// Macros rather than std::source_location: clang-14 with libstdc++ 12 has no
// __builtin_source_location, so <source_location> is empty there.

/// Aborts, so that libFuzzer saves the input as a crash, when a documented property fails.
#define APPOSE_FUZZ_CHECK(ok, what) ::appose::fuzz::check_at((ok), (what), __FILE__, __LINE__)
/// An exception of a kind the API does not document: abort with its message, which libFuzzer's
/// own "uncaught exception" report would not show.
#define APPOSE_FUZZ_UNEXPECTED(during, e) \
  ::appose::fuzz::unexpected_at((during), (e), __FILE__, __LINE__)

inline void check_at(bool ok, const char* what, const char* file, int line) {
  if (ok) return;
  std::fprintf(stderr, "FUZZ PROPERTY FAILED at %s:%d: %s\n", file, line, what);
  std::abort();
}

[[noreturn]] inline void unexpected_at(const char* during, const std::exception& e,
                                       const char* file, int line) {
  std::fprintf(stderr, "FUZZ UNEXPECTED EXCEPTION at %s:%d during %s: %s\n", file, line, during,
               e.what());
  std::abort();
}

/// Deep equality for round trips: Value's operator== follows IEEE 754 (NaN != NaN, 0.0 == -0.0),
/// but the wire keeps NaN as NaN and -0.0 as -0.0, so a round trip must give back the same
/// double bit for bit, any NaN standing for every NaN (the wire has one NaN token).
inline bool same(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::floating: {
      auto x = std::get<double>(a.variant());
      auto y = std::get<double>(b.variant());
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y);
    }
    case Value::Kind::array: {
      const Array& x = std::get<Array>(a.variant());
      const Array& y = std::get<Array>(b.variant());
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::object: {
      const Args& x = std::get<Args>(a.variant());
      const Args& y = std::get<Args>(b.variant());
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->first != j->first || !same(i->second, j->second)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

}  // namespace appose::fuzz
