// A worker that misbehaves on purpose, for tests/fault/fault_test.cpp: it speaks just enough of
// the protocol (one JSON object per line on stdin and stdout) to be driven by a Service, and
// breaks it in the way argv[1] names. No appose code: the point is bytes that no well-behaved
// worker writes.
//
// Every EXECUTE is answered according to its script:
// - "ok": LAUNCH, then COMPLETION with {"echo": n} (n from the inputs, 0 if absent), in every
//   scenario, so that the tasks a fault does not concern can complete;
// - "hold": LAUNCH only (a task that stays pending, to see what a crash does to it);
// - "hostile": what the scenario says (below).
// The scenario `alternating` answers every task by its input n (odd: FAILURE, even: COMPLETION)
// and `never_answers` answers nothing at all.
//
// Scenarios: ok, kill_mid_task, exit_between, close_stdout, half_line_then_death, huge_line,
// invalid_utf8, not_object, unknown_type, duplicate_terminal, unknown_task, never_answers,
// flood_stderr, alternating, slow_exit. The worker exits 0 at EOF on stdin (`close_stdout` too:
// it reads stdin until then), except `never_answers`, which ignores EOF and SIGTERM and must be
// killed, and `slow_exit`, which at EOF closes its stdout and exits 0 two seconds later, as an
// interpreter does that closes its streams before it frees a large heap.
//
// Messages after 0.12 (tests/fault/protocol_next_test.cpp), in any scenario:
// - scenario `hello:<version>`: a HELLO with that version is the first line, then as `ok`;
// - script "call" / "bad_call": LAUNCH, then a CALL (a valid one, or one with a call id but no
//   `var` and a numeric `op`), and the task waits, as upstream's worker does, until the REPLY
//   with that call id comes; then COMPLETION with {"reply": <the REPLY line>};
// - script "release": a RELEASE line and a malformed one, then LAUNCH and COMPLETION;
// - script "region <block> <offset> <length>": COMPLETION with a uint8 array of `length`
//   elements over that region of the 64-byte block, written by hand (not by appose's encoder).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

namespace {

std::string scenario;  // set once, in main()
pid_t original_parent = 0;

/// Writes all of `data` with raw write(2) (no stdio buffering: the host must see exactly these
/// bytes, in this order, even if the process dies right after). Returns false if the reader is
/// gone (EPIPE: SIGPIPE is ignored) or the descriptor was closed.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void respond(const std::string& line) {
  write_all(STDOUT_FILENO, line + "\n");
}

std::string launch(const std::string& id) {
  return R"({"task":")" + id + R"(","responseType":"LAUNCH"})";
}

std::string completion(const std::string& id, long n) {
  return R"({"outputs":{"echo":)" + std::to_string(n) + R"(},"task":")" + id +
         R"(","responseType":"COMPLETION"})";
}

std::string failure(const std::string& id, const std::string& error) {
  return R"({"error":")" + error + R"(","task":")" + id + R"(","responseType":"FAILURE"})";
}

/// The string value after `key` (e.g. `"task":"`), up to the next quote; our own requests never
/// hold escaped quotes in the fields read this way.
std::string string_field(std::string_view line, std::string_view key) {
  auto at = line.find(key);
  if (at == std::string_view::npos) return {};
  auto begin = at + key.size();
  auto end = line.find('"', begin);
  return std::string(line.substr(begin, end == std::string_view::npos ? end : end - begin));
}

/// The integer input `"n":<digits>`, or 0.
long n_input(std::string_view line) {
  auto at = line.find(R"("n":)");
  if (at == std::string_view::npos) return 0;
  return std::strtol(std::string(line.substr(at + 4, 24)).c_str(), nullptr, 10);
}

/// Sleeps until killed, but not beyond the life of the host: a test process that dies must not
/// leave a worker behind that ignores both EOF and SIGTERM.
[[noreturn]] void sleep_forever() {
  while (true) {
    if (::getppid() != original_parent) std::_Exit(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void answer_normally(const std::string& id, long n) {
  respond(launch(id));
  respond(completion(id, n));
}

/// Writes 100 MiB to stderr in 64 KiB chunks of 64 lines each, with an UPDATE on stdout after
/// every 1 MiB: a host that reads one pipe and not the other blocks this worker for ever.
void flood_stderr(const std::string& id) {
  std::string chunk;
  for (int i = 0; i < 64; ++i) {
    chunk.append(1023, 'e');
    chunk.push_back('\n');
  }
  constexpr int kChunks = 1600;  // 1600 * 64 KiB = 100 MiB
  for (int i = 1; i <= kChunks; ++i) {
    if (!write_all(STDERR_FILENO, chunk)) return;
    if (i % 16 == 0) {
      respond(R"({"message":"flooding","current":)" + std::to_string(i / 16) +
              R"(,"maximum":100,"task":")" + id + R"(","responseType":"UPDATE"})");
    }
  }
}

void hostile(const std::string& id, long n) {
  if (scenario == "kill_mid_task") {
    respond(launch(id));
    ::raise(SIGKILL);
  } else if (scenario == "exit_between") {
    respond(launch(id));
    ::_exit(3);
  } else if (scenario == "close_stdout") {
    respond(launch(id));
    ::close(STDOUT_FILENO);  // the worker lives on, but nothing it says can reach the host
  } else if (scenario == "half_line_then_death") {
    write_all(STDOUT_FILENO, R"({"task":")" + id + R"(","respon)");
    ::_exit(4);
  } else if (scenario == "huge_line") {
    std::string huge(std::size_t{200} << 20, 'x');
    huge.push_back('\n');
    write_all(STDOUT_FILENO, huge);
    answer_normally(id, n);
  } else if (scenario == "invalid_utf8") {
    respond(launch(id));
    respond(R"({"message":"bad bytes: )" + std::string("\xff\xfe") + R"(","task":")" + id +
            R"(","responseType":"UPDATE"})");
    respond(completion(id, n));
  } else if (scenario == "not_object") {
    respond("[1,2,3]");
    respond(R"("str")");
    respond("42");
    answer_normally(id, n);
  } else if (scenario == "unknown_type") {
    respond(R"({"task":")" + id + R"(","responseType":"BOGUS"})");
    answer_normally(id, n);
  } else if (scenario == "duplicate_terminal") {
    respond(launch(id));
    respond(completion(id, n));
    respond(completion(id, n + 1000));
    respond(failure(id, "a FAILURE after the COMPLETION"));
  } else if (scenario == "unknown_task") {
    respond(completion("00000000000000000000000000bogus0", 666));
    answer_normally(id, n);
  } else if (scenario == "flood_stderr") {
    respond(launch(id));
    flood_stderr(id);
    respond(completion(id, n));
  } else {
    answer_normally(id, n);
  }
}

/// CALLs waiting for their REPLY: call id -> task id.
std::map<std::string, std::string> pending_calls;

/// The post-0.12 scripts (see the file comment); false if `script` is none of them.
bool post_twelve(const std::string& id, const std::string& script) {
  if (script == "call" || script == "bad_call") {
    respond(launch(id));
    const std::string call = "call-" + id;
    pending_calls[call] = id;
    respond(script == "call" ? R"({"responseType":"CALL","call":")" + call +
                                   R"(","var":"_appose_service_0","op":"get","name":"readTile"})"
                             : R"({"responseType":"CALL","call":")" + call + R"(","op":42})");
    return true;
  }
  if (script == "release") {
    respond(R"({"responseType":"RELEASE","regions":[{"name":"psm_00000000","offset":4096}]})");
    respond(R"({"responseType":"RELEASE","regions":"psm_00000001"})");  // malformed
    answer_normally(id, 0);
    return true;
  }
  if (script.rfind("region ", 0) == 0) {
    std::istringstream words(script.substr(7));
    std::string block, offset, length;
    words >> block >> offset >> length;
    respond(launch(id));
    respond(R"({"outputs":{"a":{"appose_type":"ndarray","dtype":"uint8","shape":[)" + length +
            R"(],"shm":{"appose_type":"shm","name":")" + block + R"(","rsize":64,"offset":)" +
            offset + R"(,"length":)" + length + R"(}}},"task":")" + id +
            R"(","responseType":"COMPLETION"})");
    return true;
  }
  return false;
}

void handle_reply(std::string_view line) {
  auto it = pending_calls.find(string_field(line, R"("call":")"));
  if (it == pending_calls.end()) return;
  respond(R"({"outputs":{"reply":)" + std::string(line) + R"(},"task":")" + it->second +
          R"(","responseType":"COMPLETION"})");
  pending_calls.erase(it);
}

void handle_request(std::string_view line) {
  std::string id = string_field(line, R"("task":")");
  std::string type = string_field(line, R"("requestType":")");
  if (type == "REPLY") return handle_reply(line);
  if (id.empty() || type != "EXECUTE") return;  // CANCEL: nothing here can be canceled
  if (scenario == "never_answers") return;
  long n = n_input(line);
  if (scenario == "alternating") {
    respond(launch(id));
    if (n % 2 != 0) {
      respond(failure(id, "odd input " + std::to_string(n)));
    } else {
      respond(completion(id, n));
    }
    return;
  }
  std::string script = string_field(line, R"("script":")");
  if (post_twelve(id, script)) return;
  if (script == "hold") {
    respond(launch(id));
  } else if (script == "hostile") {
    hostile(id, n);
  } else {
    answer_normally(id, n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: hostile_worker <scenario>\n");
    return 2;
  }
  scenario = argv[1];
  original_parent = ::getppid();
  // A host that goes away must give EPIPE here, not a death by signal that would look like a
  // scenario of its own.
  ::signal(SIGPIPE, SIG_IGN);
  if (scenario == "never_answers") ::signal(SIGTERM, SIG_IGN);
  if (scenario.rfind("hello:", 0) == 0) {
    respond(R"({"responseType":"HELLO","implementation":"hostile-worker","version":")" +
            scenario.substr(6) + R"("})");
  }

  std::string pending;
  char buf[65536];
  while (true) {
    ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    pending.append(buf, static_cast<std::size_t>(r));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      handle_request(std::string_view(pending).substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  if (scenario == "never_answers") sleep_forever();
  if (scenario == "slow_exit") {
    ::close(STDOUT_FILENO);
    ::sleep(2);
  }
  return 0;
}
