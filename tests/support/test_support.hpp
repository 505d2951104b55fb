#pragma once

// Helpers shared by the tests: where the real peers are, and running a peer script.

#include <gtest/gtest.h>

#include <algorithm>
#include <appose/environment.hpp>
#include <appose/error.hpp>
#include <appose/task.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

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
/// tests/conformance/, the protocol's conformance vectors (APPOSE_CONFORMANCE_DIR).
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

/// Waits until process `pid` has exited (a zombie counts as exited; no polling of the process
/// table): ExitWatch(pid).exited_within(timeout).
bool wait_exit(std::int64_t pid, std::chrono::milliseconds timeout);

/// One process's exit as a descriptor, for tests that must learn when a process they do not
/// reap (a grandchild, a worker) is gone. Open it while the pid cannot be reused yet (before
/// anyone may reap the process), wait on it later. Linux: a pidfd. macOS: a kqueue holding an
/// EVFILT_PROC/NOTE_EXIT event for the pid; macOS refuses to watch a zombie (ESRCH), so a zombie
/// found when opening counts as exited at once. POSIX only (support/test_support.cpp).
class ExitWatch {
 public:
  explicit ExitWatch(std::int64_t pid);
  ~ExitWatch();
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;

  /// Whether the process was found (running or a zombie); error() says why not otherwise.
  bool opened() const { return error_ == 0; }
  /// The errno of the failed open (ESRCH: no such process any more), or 0.
  int error() const { return error_; }
  /// Whether the process has exited within `timeout` (at once if it was already gone when the
  /// watch was opened, ESRCH included).
  bool exited_within(std::chrono::milliseconds timeout) const;

 private:
  int fd_ = -1;
  bool exited_ = false;
  int error_ = 0;
};

/// Whether shared-memory block `name` (without the leading slash) exists. Linux: a file in
/// /dev/shm. macOS, whose namespace has no folder: shm_open(O_RDONLY) succeeds. POSIX only.
bool shm_block_exists(const std::string& name);

/// Threads and open descriptors of this process, for the tests that check nothing is left
/// behind. Linux: the entries of /proc/self/task and /proc/self/fd (the iterator's own
/// descriptor is in every count alike). macOS, which has no /proc: libproc's task info and
/// descriptor list. POSIX only.
struct ThreadsAndFds {
  std::size_t threads = 0;
  std::size_t fds = 0;
  friend bool operator==(const ThreadsAndFds&, const ThreadsAndFds&) = default;
};
ThreadsAndFds threads_and_fds();

/// The resident size of process `pid` (this process when 0), in bytes; 0 if it cannot be read.
/// Linux: /proc/<pid>/statm. macOS: proc_pidinfo's task info. POSIX only.
std::size_t resident_bytes(std::int64_t pid = 0);

/// A pipe whose ends are both close-on-exec, so that no other test's child inherits them
/// (pipe2(O_CLOEXEC) on Linux; pipe() then FD_CLOEXEC on macOS, which has no pipe2). Throws
/// std::system_error. POSIX only.
void open_cloexec_pipe(int (&fds)[2]);

/// Marks `fd` close-on-exec (for what macOS cannot open so: accepted sockets, pipes) and
/// returns it. POSIX only.
int set_cloexec(int fd);

/// Starts `task` and waits for its LAUNCH (the script is running), failing the test if none
/// comes within 10 s.
void start_and_await_launch(appose::Task& task);

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

/// Lines a callback receives (debug, log), safe to read while they arrive. The callback shares
/// the state: debug and log callbacks may still run after the test's handles are gone.
class Lines {
 public:
  std::function<void(std::string_view)> sink() const {
    return [state = state_](std::string_view line) {
      std::lock_guard lock(state->mu);
      state->lines.emplace_back(line);
      state->cv.notify_all();
    };
  }
  /// Waits until some line contains every one of `parts`.
  bool wait_for(const std::vector<std::string>& parts,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, timeout, [&] {
      return std::any_of(state_->lines.begin(), state_->lines.end(), [&](const std::string& l) {
        return std::all_of(parts.begin(), parts.end(),
                           [&](const std::string& p) { return l.find(p) != std::string::npos; });
      });
    });
  }
  std::vector<std::string> all() const {
    std::lock_guard lock(state_->mu);
    return state_->lines;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> lines;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

/// Runs `f` again (up to 5 times) when appose-java 0.9.0's Groovy worker fails a task with
/// "thread death" before starting it (a race in its janitor thread); only for idempotent work.
template <typename F>
auto retry_thread_death(F&& f) {
  for (int attempt = 1;; ++attempt) {
    try {
      return f();
    } catch (const appose::TaskException& e) {
      if (attempt == 5 || e.task().error() != "thread death") throw;
    }
  }
}

/// The message of the BuildException `f` throws, or "(no BuildException)": a test then
/// compares messages with one assertion, whether or not anything was thrown.
template <typename F>
std::string build_error_of(F&& f) {
  try {
    f();
  } catch (const appose::BuildException& e) {
    return e.what();
  }
  return "(no BuildException)";
}

/// A fresh directory under the system's temporary directory (canonical path), removed with
/// everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(std::string_view prefix = "appose-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// Sets (value) or unsets (nullopt) a variable for the scope of a test and restores the old
/// value after, so that tests also pass when several run in one process.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ScopedEnv(std::string name, std::nullptr_t) = delete;  // unset with std::nullopt
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// Writes `content` to `path` (making its folders) as a file its owner may run (rwx------).
void write_executable(const std::filesystem::path& path, std::string_view content);

/// The uv of the peers' virtual environment (`pip install uv`), if it is there.
std::optional<std::filesystem::path> peer_uv();

/// Runs a Python script with the peer's interpreter: `python -c script args...`.
ProcessResult run_python(const std::string& script, const std::vector<std::string>& args = {},
                         const std::string& input = {});

/// The example C++ worker (examples/worker_ops), for the tests whose target defines
/// APPOSE_WORKER_OPS (only when the examples are built); empty otherwise. Internal linkage:
/// each test program sees its own definition.
#ifdef APPOSE_WORKER_OPS
constexpr const char* kWorkerOps = APPOSE_WORKER_OPS;
#else
constexpr const char* kWorkerOps = "";
#endif

}  // namespace appose::test

/// Skips the test when the example worker was not built (APPOSE_BUILD_EXAMPLES=OFF).
#define APPOSE_REQUIRE_WORKER_OPS()                                           \
  do {                                                                        \
    if (std::string_view(::appose::test::kWorkerOps).empty() ||               \
        !std::filesystem::exists(::appose::test::kWorkerOps)) {               \
      GTEST_SKIP() << "worker_ops was not built (APPOSE_BUILD_EXAMPLES=OFF)"; \
    }                                                                         \
  } while (0)

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

/// Like APPOSE_REQUIRE_PYTHON_PEER(), for the uv the peers' venv holds.
#define APPOSE_REQUIRE_UV()                                                               \
  do {                                                                                    \
    APPOSE_REQUIRE_PYTHON_PEER();                                                         \
    if (!::appose::test::peer_uv()) {                                                     \
      if (::appose::test::peers_required()) FAIL() << "uv missing; run scripts/peers.sh"; \
      GTEST_SKIP() << "*** SKIPPED: uv missing; run scripts/peers.sh ***";                \
    }                                                                                     \
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
