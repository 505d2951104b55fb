#pragma once

// Helpers shared by the tests: where the real peers are, and running a peer script.

#include <gtest/gtest.h>

#include <appose/environment.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <optional>
#include <string>
#include <vector>

namespace appose::test {

/// The peer virtual environment's python (APPOSE_PEER_PYTHON), if it exists.
std::optional<std::string> peer_python();
/// The jars of appose-java and its dependencies (APPOSE_PEER_JAVA_LIB/*.jar), if present.
std::optional<std::vector<std::string>> peer_java_classpath();
/// Whether a missing peer must fail the test (CI) rather than skip it.
bool peers_required();
/// The conformance/ folder of shared/ (APPOSE_CONFORMANCE_DIR).
std::string conformance_dir();

struct ProcessResult {
  int exit_code = -1;  ///< exit status, or -signal
  std::string out;
  std::string err;
};

/// Runs `argv` to completion (no shell), feeding `input` on stdin, capturing stdout/stderr.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {});

/// An Environment over the peer virtual environment (its bin directory first on the search).
appose::Environment peer_env();

/// A one-shot flag a listener sets and the test waits for.
class Signal {
 public:
  void set() {
    {
      std::lock_guard lock(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

/// Runs a Python script with the peer's interpreter: `python -c script args...`.
ProcessResult run_python(const std::string& script, const std::vector<std::string>& args = {},
                         const std::string& input = {});

}  // namespace appose::test

/// Skips the test (loudly) when the appose-python peer is missing, or fails it when peers are
/// required (CI). Use at the top of every interop test that needs the Python peer.
#define APPOSE_REQUIRE_PYTHON_PEER()                                                       \
  do {                                                                                     \
    if (!::appose::test::peer_python()) {                                                  \
      if (::appose::test::peers_required()) {                                              \
        FAIL() << "appose-python peer missing (APPOSE_PEER_PYTHON); run scripts/peers.sh"; \
      }                                                                                    \
      GTEST_SKIP() << "*** SKIPPED: appose-python peer missing; run scripts/peers.sh ***"; \
    }                                                                                      \
  } while (0)

/// Like APPOSE_REQUIRE_PYTHON_PEER(), for appose-java (and a `java` on PATH).
#define APPOSE_REQUIRE_JAVA_PEER()                                                         \
  do {                                                                                     \
    if (!::appose::test::peer_java_classpath()) {                                          \
      if (::appose::test::peers_required()) {                                              \
        FAIL() << "appose-java peer missing (APPOSE_PEER_JAVA_LIB); run scripts/peers.sh"; \
      }                                                                                    \
      GTEST_SKIP() << "*** SKIPPED: appose-java peer missing; run scripts/peers.sh ***";   \
    }                                                                                      \
  } while (0)
