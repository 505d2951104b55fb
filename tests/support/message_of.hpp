#pragma once

// What a thrown exception says, for tests that check an error's message (header-only: the
// tests of the public API link no test support library).

#include <gtest/gtest.h>

#include <string>

namespace appose::test {

/// What the exception of type E thrown by f() says; a test failure if it throws none.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

}  // namespace appose::test
