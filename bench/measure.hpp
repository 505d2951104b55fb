#pragma once

// The measurements the benchmark programs share (bench/compare, bench/task_rtt,
// bench/worker_rtt), so that every program times a thing the same way: the floors (a line
// through a pipe and back), this library's Service on appose-python's worker and on the C++
// worker, and the peers (appose-python, appose-java) timing themselves in their own process.
//
// Every function returns raw samples (microseconds, or tasks per second for the in-flight
// runs); stats() and rate_stats() turn them into a median and a tail. Warm-up samples are
// already dropped. Failures throw (std::exception); callers decide whether that is "n/a".
// The ones that need only the public API (statistics, the Service on the C++ worker) are in
// portable.hpp, which builds on Windows too.

#include <appose/appose.hpp>

#include <sched.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portable.hpp"

namespace appose::bench {

class Child;  // child.hpp

/// The command line that starts appose-python's worker exactly as the peers start it.
constexpr std::string_view kPythonWorkerCode =
    "import appose.python_worker; appose.python_worker.main()";

/// appose-python's worker with print() serialised by a lock. Its responses are written as text
/// and newline separately, from each task's own thread, so with many tasks in flight two of
/// them can interleave into one unreadable line and their tasks never finish; appose-cpp's
/// private-channel bootstrap serialises them, and so does this, for the peers' services too
/// (bench/python/peer_bench.py and bench/java/PeerBench.java hold the same code).
constexpr std::string_view kLockedPythonWorkerCode = R"(import builtins, threading
import appose.python_worker as w
lock = threading.Lock()
def locked_print(*args, **kwargs):
    with lock:
        builtins.print(*args, **kwargs)
w.print = locked_print
w.main())";

/// The next line from `fd` (without its newline); `buffer` keeps what was read beyond it.
std::string read_line(int fd, std::string& buffer);

/// Runs the calling thread on one CPU for as long as it lives, then puts its former CPUs back.
/// Threads and processes started meanwhile inherit the one CPU (sched_setaffinity is per thread
/// and inherited through clone and posix_spawn), so a service made while it lives has its I/O
/// thread and its worker on that CPU too: every hop between them is then a context switch on
/// that CPU rather than a wake-up across CPUs, whose cost on a VM swamps the work (issue 18).
/// Throws std::system_error if the CPU cannot be used (offline, or not in this process's set).
class PinnedToCpu {
 public:
  explicit PinnedToCpu(int cpu);
  ~PinnedToCpu();
  PinnedToCpu(const PinnedToCpu&) = delete;
  PinnedToCpu& operator=(const PinnedToCpu&) = delete;

 private:
  cpu_set_t before_{};
};

/// What a finished child printed.
struct ChildOutput {
  int exit_code = 0;
  bool timed_out = false;  // killed at the deadline: `out` and `err` hold what came before
  std::string out, err;
};

/// Runs `argv` with stdin closed, collects stdout and stderr (both drained, so a chatty child
/// never blocks), and kills its process group if it outlives `timeout`.
ChildOutput run_child(const std::vector<std::string>& argv,
                      std::chrono::seconds timeout = std::chrono::seconds(600));
/// Wall time of running `argv` to its exit, `runs` times (one more untimed run first).
std::vector<double> process_times(const std::vector<std::string>& argv, int runs);

// ---- floors: no Appose at all --------------------------------------------------------------

/// A request-sized line through a Python process that echoes it back: the least a Python
/// worker can cost (pipes, two context switches, Python's line reading and writing).
std::vector<double> python_echo_floor(const std::string& python, int iterations);
/// Sends `line` to `process`, a child that echoes it, and reads it back: `iterations` timed
/// times after kWarmup untimed; then closes its stdin and waits for it.
std::vector<double> echo_round_trips(Child& process, const std::string& line, int iterations);
/// An EXECUTE-sized line through `cat` and back: the least any worker can cost.
std::vector<double> cat_floor(int iterations);
/// The C++ worker fed by hand (no Service): requests written and lines read here, up to the
/// COMPLETION. What the worker SDK costs on its own.
std::vector<double> bare_worker(const std::string& worker_ops, int iterations,
                                std::string_view operation);

// ---- this library's Service ----------------------------------------------------------------

/// This library's service on appose-python's worker, found next to `python`.
appose::Service python_service(const std::string& python,
                               appose::Channel channel = appose::Channel::private_fds);
/// This library's service on `python -c code`, launched plainly (no bootstrap).
appose::Service python_code_service(const std::string& python, std::string_view code);

/// Round trips of a task on appose-python's worker that receives a float32 NDArray of `bytes`
/// and reads its last element (not the whole array): the handoff's cost. Allocation is not
/// timed. Throws if the worker reads back something else than what was written.
std::vector<double> ndarray_handoff(appose::Service& service, std::size_t bytes, int iterations);

/// The list of integers the JSON-input measurement sends: about 8 bytes each on the wire.
appose::Array json_payload(std::size_t count);
/// Round trips of `len(data)` on appose-python's worker with `data` = json_payload(count),
/// one untimed first. Building the input is not timed; encoding it is.
std::vector<double> json_input(appose::Service& service, std::size_t count, int iterations);

/// Bytes free in the shared-memory file system (/dev/shm), or nullopt if unknown.
std::optional<std::size_t> shm_free_bytes();

// ---- the peers, timing themselves ----------------------------------------------------------

/// What a peer's benchmark program printed for one job: its samples, or why it has none.
struct PeerJob {
  std::vector<double> samples;
  std::string failure;
};
/// One line per job from a peer's benchmark program (`JOB samples...` or `JOB ! why`).
using PeerResults = std::map<std::string, PeerJob>;
/// The samples of `job`; throws with the peer's reason if it has none.
std::vector<double> peer_samples(const PeerResults& results, const std::string& job);

/// Runs bench/python/peer_bench.py (appose-python's Service) with `jobs` (see that file).
PeerResults python_peer(const std::string& python, const std::vector<std::string>& jobs);
/// Runs bench/java/PeerBench.java (appose-java's Service, single-file mode, no javac step)
/// with the jars of `lib_dir` and `jobs` (see that file).
PeerResults java_peer(const std::string& python, const std::string& lib_dir,
                      const std::vector<std::string>& jobs);
/// The appose-java version of the jars in `lib_dir` (from appose-X.Y.Z.jar), or "".
std::string java_lib_version(const std::string& lib_dir);

}  // namespace appose::bench
