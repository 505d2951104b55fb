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

#include "support/same_value.hpp"

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

using test::same_value;

}  // namespace appose::fuzz
