// bench/compare: one run, one table of ratios between this library and its peers (issue #8):
//   1. empty-task round trip on appose-python's worker: a raw pipe floor, this Service (private
//      channel and plain stdio), appose-python's Service, appose-java's Service;
//   2. empty-task round trip on the C++ worker (examples/worker_ops) against `cat`, with an
//      operation run on the worker's pool and one run where it is read (Dispatch::immediate);
//   3. start-up to the first completed task, against `python -c "import appose.python_worker"`;
//   4. NDArray handoff, 1 KiB against 1 GiB (the handoff should not grow with the array);
//   5. a 10 MB JSON input, this Service against appose-python's;
//   6. tasks per second with 64 in flight.
// With --pin CPU, the rows on the C++ worker (2a-2e, 3e, 6h, 6i) are measured a second time with
// this process and everything it starts pinned to that one CPU (rows 2a-p ... 6i-p): there a
// hop costs a context switch rather than a wake-up across vCPUs, and the ratio to the pinned
// cat floor shows this library's own work (issue 18). --native leaves out every other row.
// Every figure of the table is measured in the same run, so the ratios compare like with like
// even on a noisy machine. The peers time themselves in their own process (bench/python,
// bench/java), leaving out their interpreter's start-up. A peer that is missing (no java, no
// jars) gets "n/a" in its rows; the rest still runs.
//
// Usage: compare [--python PY] [--java-lib DIR] [--worker-ops PATH] [--pin CPU] [--native]
//                [--quick]
// See docs/benchmarks.md for what each row means and how to read it.

#include <appose/appose.hpp>

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "measure.hpp"

namespace {

namespace b = appose::bench;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::size_t kGiB = 1024 * kMiB;
constexpr int kWindow = 64;

struct Options {
  std::string python = APPOSE_BENCH_PEER_PYTHON;
  std::string java_lib = APPOSE_BENCH_JAVA_LIB;
  std::string worker_ops = APPOSE_BENCH_WORKER_OPS;
  bool quick = false;
  std::optional<int> pin;  // also measure the native rows pinned to this CPU
  bool native = false;     // only the rows on the C++ worker (and their floor)
};

/// How much to measure, in total per row. The full plan stays under about three minutes on
/// two cores, --quick under about thirty seconds.
struct Plan {
  /// Each series is measured in this many chunks, the rows taking turns, so that a burst of
  /// load on the machine falls on every row of a comparison alike rather than on one.
  int rounds = 4;
  int rtt = 2000;                    // round trips (kWarmup more per chunk, untimed)
  int startup = 20;                  // fresh services (one more per chunk, untimed)
  int handoff = 200;                 // round trips per NDArray size
  int json = 5;                      // 10 MB inputs (one round only: one more, untimed)
  std::size_t json_count = 1250000;  // seven-digit integers: about 10 MB of JSON
  int inflight_windows = 25;         // windows of kWindow tasks per chunk

  static Plan quick() {
    Plan p;
    p.rounds = 1;  // a smoke check: no turns, every fixed cost once
    p.rtt = 200;
    p.startup = 3;
    p.handoff = 20;
    p.json = 1;
    p.inflight_windows = 6;
    return p;
  }
  [[nodiscard]] int per_round(int total) const { return std::max(1, total / rounds); }
};

/// A baseline a row is compared with.
struct Baseline {
  std::string id;
  std::string label;
};

struct Row {
  std::string id;    // "1b": the group and the row
  std::string what;  // what was measured
  std::string unit = "µs";
  bool rate = false;                // tasks/s: higher is better, the tail is the 1st percentile
  std::vector<double> samples;      // of every round so far
  std::optional<b::Stats> stats;    // once the table is finished
  std::string error;                // why it is n/a
  std::vector<Baseline> baselines;  // ratios shown against these rows
  std::vector<Baseline> peers;      // for this library's rows: peers it should not lose to
};

class Table {
 public:
  Row& add(Row row) {
    index_[row.id] = rows_.size();
    rows_.push_back(std::move(row));
    return rows_.back();
  }
  Row& at(const std::string& id) { return rows_.at(index_.at(id)); }
  [[nodiscard]] const Row* find(const std::string& id) const {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &rows_[it->second];
  }
  [[nodiscard]] const std::vector<Row>& rows() const { return rows_; }
  /// Whether the row can still be measured (it has not failed).
  [[nodiscard]] bool open(const std::string& id) const {
    const Row* row = find(id);
    return row != nullptr && row->error.empty();
  }

  /// Runs `measure` for the row and keeps its samples; a failure makes the row n/a (reported
  /// under the table) and later rounds leave it out. A row not in the table (left out by
  /// --native, or pinned rows without --pin) is not measured.
  void measure(const std::string& id, const std::function<std::vector<double>()>& measure) {
    if (find(id) == nullptr) return;
    Row& row = at(id);
    if (!row.error.empty()) return;
    try {
      std::vector<double> samples = measure();
      if (samples.empty()) throw std::runtime_error("no samples");
      progress(row, row.rate ? b::rate_stats(samples) : b::stats(samples));
      row.samples.insert(row.samples.end(), samples.begin(), samples.end());
    } catch (const std::exception& e) {
      fail(id, e.what());
    }
  }
  /// Fills the row from a peer's job, or with the peer's failure.
  void from_peer(const std::string& id, const std::optional<b::PeerResults>& results,
                 const std::string& failure, const std::string& job) {
    measure(id, [&] {
      if (!results) throw std::runtime_error(failure);
      return b::peer_samples(*results, job);
    });
  }
  void fail(const std::string& id, std::string why) {
    if (find(id) == nullptr) return;
    Row& row = at(id);
    if (!row.error.empty()) return;
    row.error = std::move(why);
    row.samples.clear();
    fmt::print(stderr, "  {:<4} {:<66} n/a: {}\n", row.id, row.what, row.error);
  }
  /// Medians and tails over all rounds.
  void finish() {
    for (Row& row : rows_) {
      if (row.error.empty() && !row.samples.empty()) {
        row.stats = row.rate ? b::rate_stats(row.samples) : b::stats(row.samples);
      } else if (row.error.empty()) {
        row.error = "not measured";
      }
    }
  }

  static std::string number(double value, const Row& row) {
    double scaled = row.unit == "ms" ? value / 1000 : value;
    return row.rate ? fmt::format("{:.0f}", scaled) : fmt::format("{:.1f}", scaled);
  }

 private:
  static void progress(const Row& row, const b::Stats& s) {
    fmt::print(stderr, "  {:<4} {:<66} {:>10} {}\n", row.id, row.what, number(s.median, row),
               row.unit);
  }

  std::vector<Row> rows_;
  std::map<std::string, std::size_t> index_;
};

/// A row of the table; `unit` "tasks/s" makes it a rate.
Row row(std::string id, std::string what, std::string unit, std::vector<Baseline> baselines = {},
        std::vector<Baseline> peers = {}) {
  Row r;
  r.id = std::move(id);
  r.what = std::move(what);
  r.rate = unit == "tasks/s";
  r.unit = std::move(unit);
  r.baselines = std::move(baselines);
  r.peers = std::move(peers);
  return r;
}

/// A peer's results, or why there are none.
struct PeerRun {
  std::optional<b::PeerResults> results;
  std::string failure;
};

PeerRun run_peer(const std::function<b::PeerResults()>& run) {
  PeerRun r;
  try {
    r.results = run();
  } catch (const std::exception& e) {
    r.failure = e.what();
  }
  return r;
}

// ---- the machine -----------------------------------------------------------------------------

std::string first_field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto colon = line.find_first_of(":=", key.size());
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t\""));
    while (!value.empty() && (value.back() == '"' || value.back() == ' '))
      value.pop_back();
    return value;
  }
  return "unknown";
}

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string machine() {
  double ram_gib = 0;
  try {
    ram_gib = std::stod(first_field("/proc/meminfo", "MemTotal")) / (1024.0 * 1024.0);
  } catch (const std::exception&) {
  }
  utsname u{};
  ::uname(&u);
  return fmt::format("{}, {} cores, {:.1f} GiB RAM, {} (Linux {}), {}, {} build",
                     first_field("/proc/cpuinfo", "model name"), ::sysconf(_SC_NPROCESSORS_ONLN),
                     ram_gib, first_field("/etc/os-release", "PRETTY_NAME"), u.release, compiler(),
                     *APPOSE_BENCH_BUILD_TYPE ? APPOSE_BENCH_BUILD_TYPE : "untyped");
}

std::string first_line(const std::string& text) {
  auto nl = text.find('\n');
  return text.substr(0, nl);
}

std::string peer_versions(const Options& o) {
  std::string python = "appose-python n/a";
  try {
    auto r = b::run_child(
        {o.python, "-c", "import sys, appose; print(appose.__version__, sys.version.split()[0])"},
        std::chrono::seconds(60));
    std::string line = first_line(r.out);
    auto space = line.find(' ');
    if (r.exit_code == 0 && space != std::string::npos) {
      python = fmt::format("appose-python {} (Python {})", line.substr(0, space),
                           line.substr(space + 1));
    }
  } catch (const std::exception&) {
  }
  std::string java = "appose-java n/a";
  if (std::string v = b::java_lib_version(o.java_lib); !v.empty()) {
    std::string jvm;
    try {
      jvm = first_line(b::run_child({"java", "-version"}, std::chrono::seconds(60)).err);
    } catch (const std::exception&) {
      jvm = "no java";
    }
    java = fmt::format("appose-java {} ({})", v, jvm);
  }
  return fmt::format("appose-cpp {}; {}; {}", APPOSE_VERSION_STRING, python, java);
}

std::string now() {
  std::time_t t = std::time(nullptr);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return text;
}

// ---- the table ---------------------------------------------------------------------------------

bool worse(const Row& ours, double mine, double theirs) {
  return ours.rate ? mine < theirs : mine > theirs;
}

std::string ratio_cell(const Table& table, const Row& row) {
  std::string cell;
  for (const auto& base : row.baselines) {
    const Row* other = table.find(base.id);
    if (!other || !other->stats || !row.stats) continue;
    if (!cell.empty()) cell += "; ";
    cell += fmt::format("{:.2f}× (p99 {:.2f}×) {}", row.stats->median / other->stats->median,
                        row.stats->p99 / other->stats->p99, base.label);
  }
  return cell.empty() ? "" : cell;
}

void print_table(const Table& table, const Plan& plan, const std::vector<std::string>& notes,
                 const Options& o) {
  fmt::print("\n| # | what | n | median | p99 | unit | ratio (this / baseline) |\n");
  fmt::print("|---|---|--:|--:|--:|---|---|\n");
  for (const Row& row : table.rows()) {
    if (row.stats) {
      fmt::print("| {} | {} | {} | {} | {} | {} | {} |\n", row.id, row.what, row.stats->n,
                 Table::number(row.stats->median, row), Table::number(row.stats->p99, row),
                 row.unit, ratio_cell(table, row));
    } else {
      fmt::print("| {} | {} | | n/a | n/a | {} | |\n", row.id, row.what, row.unit);
    }
  }
  fmt::print(
      "\nTimes: lower is better, p99 is the 99th percentile. Rates (tasks/s): higher is better, "
      "the p99 column is the 1st percentile (the slowest 1% of windows of {} completions).\n"
      "Each series in {} rounds, the rows taking turns{}. Round trips: {} ({} warm-up per round "
      "untimed); start-up: {} (one per round untimed); {}in flight: {} windows of {} per "
      "round.\n",
      kWindow, plan.rounds, o.native ? "" : " (appose-java: one JVM, all at once)", plan.rtt,
      b::kWarmup, plan.startup,
      o.native ? ""
               : fmt::format("handoff: {} per size; JSON: {} runs of {} integers after one "
                             "untimed; ",
                             plan.handoff, plan.json, plan.json_count),
      plan.inflight_windows, kWindow);
  if (!o.native) {
    fmt::print(
        "\"print locked\": appose-python's worker with its print() under a lock; as is, it writes "
        "a response's text and newline separately from each task's thread, so with many tasks in "
        "flight two responses can end up on one line (`{{..}}{{..}}`). The peers' services drop "
        "such a line and its tasks never finish (the row stalls: n/a); appose-cpp's service "
        "splits it. The private channel's bootstrap takes the same lock.\n");
  }
  if (o.pin) {
    fmt::print(
        "Rows -p: pinned to CPU {}. This process set its affinity to that CPU alone "
        "(sched_setaffinity) before starting the worker or `cat`, which inherit it, as do the "
        "service's threads: every hop is a context switch on one CPU, not a wake-up across CPUs. "
        "Pinned and unpinned rows take turns in each round.\n",
        *o.pin);
  }
  for (const auto& note : notes)
    fmt::print("Note: {}\n", note);

  std::vector<std::string> losses;
  for (const Row& row : table.rows()) {
    for (const auto& peer : row.peers) {
      const Row* other = table.find(peer.id);
      if (!row.stats || !other || !other->stats) continue;
      bool median = worse(row, row.stats->median, other->stats->median);
      bool tail = worse(row, row.stats->p99, other->stats->p99);
      if (!median && !tail) continue;
      losses.push_back(fmt::format("{} {} is worse than {} {} ({}): median {:.2f}×, p99 {:.2f}×",
                                   row.id, row.what, other->id, other->what,
                                   median && tail ? "median and p99"
                                   : median       ? "median"
                                                  : "p99",
                                   row.stats->median / other->stats->median,
                                   row.stats->p99 / other->stats->p99));
    }
  }
  if (losses.empty()) {
    fmt::print("appose-cpp is not worse than a peer in any row measured.\n");
  } else {
    fmt::print("Rows where appose-cpp is worse than a peer:\n");
    for (const auto& l : losses)
      fmt::print("- {}\n", l);
  }
  bool any_na = false;
  for (const Row& row : table.rows()) {
    if (row.stats) continue;
    if (!any_na) fmt::print("n/a rows:\n");
    any_na = true;
    fmt::print("- {}: {}\n", row.id, row.error);
  }
}

int usage(const char* argv0, int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: %s [--python PY] [--java-lib DIR] [--worker-ops PATH] [--pin CPU]\n"
               "          [--native] [--quick]\n"
               "  --python PY        a Python with appose (appose-python) and numpy\n"
               "                     (default: %s)\n"
               "  --java-lib DIR     appose-java and its dependencies; missing: n/a rows\n"
               "                     (default: %s)\n"
               "  --worker-ops PATH  the C++ example worker (default: %s)\n"
               "  --pin CPU          also measure the C++ worker's rows (2a-2e, 3e, 6h, 6i) with\n"
               "                     this process and its children pinned to CPU (rows -p)\n"
               "  --native           only the C++ worker's rows and their cat floor\n"
               "  --quick            fewer iterations: a smoke check, about 30 s\n",
               argv0, APPOSE_BENCH_PEER_PYTHON, APPOSE_BENCH_JAVA_LIB, APPOSE_BENCH_WORKER_OPS);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--python") {
        o.python = value();
      } else if (arg == "--java-lib") {
        o.java_lib = value();
      } else if (arg == "--worker-ops") {
        o.worker_ops = value();
      } else if (arg == "--pin") {
        o.pin = std::stoi(value());
      } else if (arg == "--native") {
        o.native = true;
      } else if (arg == "--quick") {
        o.quick = true;
      } else if (arg == "--help" || arg == "-h") {
        return usage(argv[0], 0);
      } else {
        std::fprintf(stderr, "compare: unknown argument %s\n", arg.c_str());
        return usage(argv[0], 2);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "compare: %s\n", e.what());
      return 2;
    }
  }
  if (o.pin) {
    try {
      b::PinnedToCpu check(*o.pin);  // fail now, not after the unpinned rows
    } catch (const std::exception& e) {
      std::fprintf(stderr, "compare: cannot pin to CPU %d: %s\n", *o.pin, e.what());
      return 2;
    }
  }
  if (!o.native && !std::filesystem::exists(o.python)) {
    // Every row but the C++ worker's needs appose-python's worker: nothing sensible to run.
    std::fprintf(stderr, "compare: no Python at %s (run scripts/peers.sh, or pass --python)\n",
                 o.python.c_str());
    return 2;
  }
  const Plan plan = o.quick ? Plan::quick() : Plan{};
  const std::string py = o.python;
  const bool have_ops = std::filesystem::exists(o.worker_ops);
  const std::string no_ops = "no C++ worker at " + o.worker_ops + " (pass --worker-ops)";
  const std::string java_version = b::java_lib_version(o.java_lib);
  const std::string java_name =
      java_version.empty() ? std::string("appose-java") : "appose-java " + java_version;
  std::vector<std::string> notes;

  const std::string header_machine = machine();
  const std::string header_versions = peer_versions(o);
  const std::string flags = fmt::format("{}{}{}", o.pin ? fmt::format(" --pin {}", *o.pin) : "",
                                        o.native ? " --native" : "", o.quick ? " --quick" : "");
  fmt::print(stderr, "bench/compare{}: measuring (progress below, the table at the end)\n", flags);

  Table t;
  const Baseline vs_py{"1d", "appose-python"}, vs_floor{"1a", "floor"};
  const Baseline vs_java{"1e", "appose-java"};
  // Rows left out by --native are simply not in the table: measure() skips them.
  auto add = [&](Row r) {
    static const std::string native_rows[] = {"2a", "2b", "2c", "2d", "2e", "3e", "6h", "6i"};
    const std::string base = r.id.substr(0, 2);
    bool native =
        std::find(std::begin(native_rows), std::end(native_rows), base) != std::end(native_rows);
    if (o.native && !native) return;
    if (!o.pin && r.id.size() > 2) return;  // the pinned rows (-p)
    if (o.native) r.peers.clear();
    t.add(std::move(r));
  };
  add(row("1a", "raw pipe floor: a line through python and back", "µs"));
  add(row("1b", "appose-cpp service → python worker (private channel)", "µs", {vs_py, vs_floor},
          {vs_py, vs_java}));
  add(row("1c", "appose-cpp service → python worker (plain stdio)", "µs", {vs_py, vs_floor},
          {vs_py, vs_java}));
  add(row("1d", "appose-python service → python worker", "µs", {vs_floor}));
  add(row("1e", java_name + " service → python worker", "µs", {vs_py, vs_floor}));
  const Baseline vs_cat{"2a", "cat floor"};
  add(row("2a", "raw pipe floor: a line through cat and back", "µs"));
  add(row("2b", "bare client → C++ worker (no service)", "µs", {vs_cat}));
  add(row("2c", "appose-cpp service → C++ worker", "µs", {vs_cat}));
  // The same two, with an operation run where the worker reads it (Dispatch::immediate).
  add(row("2d", "bare client → C++ worker, immediate op", "µs", {vs_cat, {"2b", "pool op"}}));
  add(row("2e", "appose-cpp service → C++ worker, immediate op", "µs",
          {vs_cat, {"2c", "pool op"}}));
  const Baseline vs_cat_pinned{"2a-p", "pinned cat floor"};
  add(row("2a-p", "raw pipe floor: cat (pinned)", "µs", {vs_cat}));
  add(row("2b-p", "bare client → C++ worker (pinned)", "µs", {vs_cat_pinned, {"2b", "unpinned"}}));
  add(row("2c-p", "appose-cpp service → C++ worker (pinned)", "µs",
          {vs_cat_pinned, {"2c", "unpinned"}}));
  add(row("2d-p", "bare client → C++ worker, immediate op (pinned)", "µs",
          {vs_cat_pinned, {"2b-p", "pool op"}}));
  add(row("2e-p", "appose-cpp service → C++ worker, immediate op (pinned)", "µs",
          {vs_cat_pinned, {"2c-p", "pool op"}}));
  const Baseline vs_import{"3a", "import"}, vs_py_start{"3c", "appose-python"};
  const Baseline vs_java_start{"3d", "appose-java"};
  add(row("3a", "python -c \"import appose.python_worker\" (wall)", "ms"));
  add(row("3b", "appose-cpp service → python worker: start + first task", "ms",
          {vs_py_start, vs_import}, {vs_py_start, vs_java_start}));
  add(row("3c", "appose-python service: start + first task", "ms", {vs_import}));
  add(row("3d", java_name + " service: start + first task (in a warm JVM)", "ms", {vs_import}));
  add(row("3e", "appose-cpp service → C++ worker: start + first task", "ms", {vs_import}));
  add(row("3e-p", "appose-cpp service → C++ worker: start + first task (pinned)", "ms",
          {{"3e", "unpinned"}}));

  // The big array: 1 GiB when /dev/shm has room for it (one block at a time), else 256 MiB.
  std::size_t big = kGiB;
  auto free_shm = b::shm_free_bytes();
  if (free_shm && *free_shm < big + 64 * kMiB) {
    big = 256 * kMiB;
    notes.push_back(fmt::format("/dev/shm has {} MiB free: the big array is 256 MiB, not 1 GiB",
                                *free_shm / kMiB));
  }
  const std::string big_name = big == kGiB ? "1 GiB" : "256 MiB";
  const Baseline vs_small{"4a", "1 KiB"}, vs_py_small{"4c", "1 KiB"};
  const Baseline vs_py_h_small{"4c", "appose-python"}, vs_py_h_big{"4d", "appose-python"};
  add(row("4a", "NDArray handoff 1 KiB, appose-cpp → python worker", "µs", {vs_py_h_small},
          {vs_py_h_small}));
  add(row("4b", "NDArray handoff " + big_name + ", appose-cpp → python worker", "µs",
          {vs_small, vs_py_h_big}, {vs_py_h_big}));
  add(row("4c", "NDArray handoff 1 KiB, appose-python → python worker", "µs"));
  add(row("4d", "NDArray handoff " + big_name + ", appose-python → python worker", "µs",
          {vs_py_small}));
  const Baseline vs_py_json{"5b", "appose-python"};
  add(row("5a", "10 MB JSON input → len(), appose-cpp → python worker", "ms", {vs_py_json},
          {vs_py_json}));
  add(row("5b", "10 MB JSON input → len(), appose-python → python worker", "ms"));
  add(row("5c", "10 MB JSON input → len(), appose-cpp → python worker (plain stdio)", "ms",
          {vs_py_json}, {vs_py_json}));
  const Baseline vs_py_tp{"6e", "appose-python (print locked)"};
  const Baseline vs_java_tp{"6g", "appose-java (print locked)"};
  const Baseline vs_py_tp_stock{"6d", "appose-python"}, vs_java_tp_stock{"6f", "appose-java"};
  add(row("6a", "64 in flight: appose-cpp → python worker (private channel)", "tasks/s", {vs_py_tp},
          {vs_py_tp, vs_java_tp}));
  add(row("6b", "64 in flight: appose-cpp → python worker, print locked (plain stdio)", "tasks/s",
          {vs_py_tp}, {vs_py_tp, vs_java_tp}));
  add(row("6c", "64 in flight: appose-cpp → python worker as is (plain stdio)", "tasks/s",
          {vs_py_tp_stock, vs_py_tp}, {vs_py_tp_stock, vs_java_tp_stock}));
  add(row("6d", "64 in flight: appose-python → python worker as is", "tasks/s"));
  add(row("6e", "64 in flight: appose-python → python worker, print locked", "tasks/s"));
  add(row("6f", "64 in flight: " + java_name + " → python worker as is", "tasks/s",
          {vs_py_tp_stock}));
  add(row("6g", "64 in flight: " + java_name + " → python worker, print locked", "tasks/s",
          {vs_py_tp}));
  add(row("6h", "64 in flight: appose-cpp → C++ worker", "tasks/s", {{"6a", "python worker"}}));
  add(row("6h-p", "64 in flight: appose-cpp → C++ worker (pinned)", "tasks/s",
          {{"6h", "unpinned"}}));
  add(row("6i", "64 in flight: appose-cpp → C++ worker, immediate op", "tasks/s",
          {{"6h", "pool op"}}));
  add(row("6i-p", "64 in flight: appose-cpp → C++ worker, immediate op (pinned)", "tasks/s",
          {{"6h-p", "pool op"}}));

  const int rtt = plan.per_round(plan.rtt);
  const int starts = plan.per_round(plan.startup);
  const int handoffs = plan.per_round(plan.handoff);
  const int flight_total = plan.inflight_windows * kWindow;
  const std::string j_rtt = fmt::format("rtt:{}:{}", rtt, b::kWarmup);
  const std::string j_start = fmt::format("startup:{}", starts);
  const std::string j_flight = fmt::format("inflight:{}:{}", flight_total, kWindow);
  const std::string j_flight_locked = j_flight + ":locked";
  const std::string j_small = fmt::format("handoff:{}:{}:{}", kKiB, handoffs, b::kWarmup);
  const std::string j_big = fmt::format("handoff:{}:{}:{}", big, handoffs, b::kWarmup);
  const std::string j_json = fmt::format("json:{}:{}", plan.json_count, plan.json);
  const bool shm_room = !free_shm || *free_shm >= big + 64 * kMiB;
  if (!shm_room) {
    std::string why = fmt::format("/dev/shm has only {} MiB free", *free_shm / kMiB);
    for (const char* id : {"4a", "4b", "4c", "4d"})
      t.fail(id, why);
  }
  if (!have_ops) {
    for (const char* id : {"2b", "2c", "2d", "2e", "3e", "6h", "6i", "2b-p", "2c-p", "2d-p", "2e-p",
                           "3e-p", "6h-p", "6i-p"})
      t.fail(id, no_ops);
  }

  // appose-python's jobs of a group, one process per group and round; jobs whose rows have
  // failed are left out (a stalled throughput row would only stall again).
  auto python_jobs = [&](const std::vector<std::pair<std::string, std::string>>& jobs) {
    std::vector<std::string> wanted;
    for (const auto& [id, job] : jobs) {
      if (t.open(id)) wanted.push_back(job);
    }
    if (wanted.empty()) return;
    PeerRun run = run_peer([&] { return b::python_peer(py, wanted); });
    for (const auto& [id, job] : jobs)
      t.from_peer(id, run.results, run.failure, job);
  };
  // This library's service on appose-python's worker, measured and stopped.
  auto on_python = [&](appose::Service s,
                       const std::function<std::vector<double>(appose::Service&)>& measure) {
    auto samples = measure(s);
    b::stop(s);
    return samples;
  };
  auto flight = [&](appose::Service& s) { return b::in_flight(s, "None", flight_total, kWindow); };
  // Row `id` measured as is, then its pinned twin `id-p` (with --pin) in the same turn.
  auto measure_both = [&](const std::string& id, const std::function<std::vector<double>()>& m) {
    t.measure(id, m);
    if (!o.pin || t.find(id + "-p") == nullptr) return;
    t.measure(id + "-p", [&] {
      b::PinnedToCpu pinned(*o.pin);
      return m();
    });
  };

  // appose-java runs once, all its jobs in one JVM: the single-file launch compiles first.
  if (!o.native) fmt::print(stderr, "appose-java (one JVM for all its rows)\n");
  PeerRun java;
  if (o.native) {
    java.failure = "left out (--native)";
  } else if (java_version.empty()) {
    java.failure = "no appose-java jar in " + o.java_lib + " (run scripts/peers.sh)";
  } else {
    java = run_peer([&] {
      return b::java_peer(
          py, o.java_lib,
          {fmt::format("rtt:{}:{}", plan.rtt, b::kWarmup), fmt::format("startup:{}", plan.startup),
           fmt::format("inflight:{}:{}", plan.rounds * flight_total, kWindow),
           fmt::format("inflight:{}:{}:locked", plan.rounds * flight_total, kWindow)});
    });
  }
  t.from_peer("1e", java.results, java.failure, fmt::format("rtt:{}:{}", plan.rtt, b::kWarmup));
  t.from_peer("3d", java.results, java.failure, fmt::format("startup:{}", plan.startup));
  t.from_peer("6f", java.results, java.failure,
              fmt::format("inflight:{}:{}", plan.rounds * flight_total, kWindow));
  t.from_peer("6g", java.results, java.failure,
              fmt::format("inflight:{}:{}:locked", plan.rounds * flight_total, kWindow));

  for (int round = 1; round <= plan.rounds; ++round) {
    fmt::print(stderr, "round {} of {}\n", round, plan.rounds);

    // 1. Round trip on the Python worker.
    t.measure("1a", [&] { return b::python_echo_floor(py, rtt); });
    t.measure("1b", [&] {
      return on_python(b::python_service(py),
                       [&](appose::Service& s) { return b::round_trips(s, "None", rtt); });
    });
    t.measure("1c", [&] {
      return on_python(b::python_service(py, appose::Channel::plain_stdio),
                       [&](appose::Service& s) { return b::round_trips(s, "None", rtt); });
    });
    python_jobs({{"1d", j_rtt}});

    // 2. Round trip on the C++ worker.
    measure_both("2a", [&] { return b::cat_floor(rtt); });
    // A fresh service on the C++ worker per series, running `measure` with it.
    auto on_cpp_worker = [&](const auto& measure) {
      appose::Service s = b::cpp_worker_service(o.worker_ops);
      auto samples = measure(s);
      b::stop(s);
      return samples;
    };
    for (const char* op : {"noop", "noop_immediate"}) {
      const bool pool = std::string_view(op) == "noop";
      measure_both(pool ? "2b" : "2d", [&] { return b::bare_worker(o.worker_ops, rtt, op); });
      measure_both(pool ? "2c" : "2e", [&] {
        return on_cpp_worker([&](appose::Service& s) { return b::round_trips(s, op, rtt); });
      });
    }

    // 3. Start-up.
    t.measure("3a", [&] {
      return b::process_times({py, "-c", "import appose.python_worker"}, starts);
    });
    t.measure("3b", [&] {
      return b::startup_times([&] { return b::python_service(py); }, "None", starts);
    });
    python_jobs({{"3c", j_start}});
    measure_both("3e", [&] {
      return b::startup_times([&] { return b::cpp_worker_service(o.worker_ops); }, "noop", starts);
    });

    // 4. NDArray handoff; one block at a time, so /dev/shm needs room for one big array.
    t.measure("4a", [&] {
      return on_python(b::python_service(py),
                       [&](appose::Service& s) { return b::ndarray_handoff(s, kKiB, handoffs); });
    });
    t.measure("4b", [&] {
      return on_python(b::python_service(py),
                       [&](appose::Service& s) { return b::ndarray_handoff(s, big, handoffs); });
    });
    python_jobs({{"4c", j_small}, {"4d", j_big}});

    // 6. Throughput with 64 in flight, on the worker as the peers launch it and on the same
    // worker with its print() under a lock (kLockedPythonWorkerCode says why).
    t.measure("6a", [&] { return on_python(b::python_service(py), flight); });
    t.measure("6b", [&] {
      return on_python(b::python_code_service(py, b::kLockedPythonWorkerCode), flight);
    });
    t.measure("6c",
              [&] { return on_python(b::python_code_service(py, b::kPythonWorkerCode), flight); });
    python_jobs({{"6d", j_flight}, {"6e", j_flight_locked}});
    for (const char* op : {"noop", "noop_immediate"}) {
      measure_both(std::string_view(op) == "noop" ? "6h" : "6i", [&] {
        return on_cpp_worker(
            [&](appose::Service& s) { return b::in_flight(s, op, flight_total, kWindow); });
      });
    }
  }

  // 5. A 10 MB JSON input: few, long samples, so one round (and one untimed run each).
  if (!o.native) fmt::print(stderr, "10 MB JSON inputs\n");
  t.measure("5a", [&] {
    return on_python(b::python_service(py), [&](appose::Service& s) {
      return b::json_input(s, plan.json_count, plan.json);
    });
  });
  python_jobs({{"5b", j_json}});
  t.measure("5c", [&] {
    return on_python(b::python_service(py, appose::Channel::plain_stdio), [&](appose::Service& s) {
      return b::json_input(s, plan.json_count, plan.json);
    });
  });

  t.finish();
  fmt::print("bench/compare{}, {}\n", flags, now());
  fmt::print("machine: {}\n", header_machine);
  fmt::print("versions: {}\n", header_versions);
  print_table(t, plan, notes, o);
  return 0;
}
