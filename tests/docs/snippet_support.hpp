#pragma once

// What the generated main() of a doc snippet uses (tests/docs/extract_snippets.py): a missing
// peer skips the test (or fails it under APPOSE_REQUIRE_PEERS=1, as the interop tests do), an
// exception fails it naming the page and line, and a hidden check (<!-- snippet-check -->)
// fails it naming the expression.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace appose_docs {

/// ctest's SKIP_RETURN_CODE for the doc snippet tests.
inline constexpr int kSkip = 77;

/// -1 when `path` (a peer's interpreter or jar directory) exists; otherwise the exit code:
/// kSkip, or 1 when CI requires the peers.
inline int require_peer(const char* peer, const char* path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return -1;
  const char* required = std::getenv("APPOSE_REQUIRE_PEERS");
  const bool fail = required != nullptr && std::string(required) == "1";
  std::fprintf(stderr, "*** %s: %s peer missing at %s; run scripts/peers.sh ***\n",
               fail ? "FAILED" : "SKIPPED", peer, path);
  return fail ? 1 : kSkip;
}

/// The exit code of a snippet that threw.
inline int threw(const char* where, const std::exception& e) {
  std::fprintf(stderr, "%s: the snippet threw: %s\n", where, e.what());
  return 1;
}

}  // namespace appose_docs

/// A hidden check after a snippet: throws (failing the test) when `expr` is false.
#define APPOSE_DOCS_EXPECT(expr)                                                        \
  do {                                                                                  \
    if (!(expr))                                                                        \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                               ": expected " #expr);                                    \
  } while (0)
