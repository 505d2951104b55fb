// The worker's side, as the service sees it: reading its stdout (responses, CALLs, HELLO) and
// stderr on the I/O thread, keeping what it printed, and finishing once it has exited
// (pending tasks crash with a report of its output).

#include "host/service_impl.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cstdio>
#include <utility>

#include "host/reaper.hpp"
#include "platform/output_pump.hpp"
#include "util/fs_util.hpp"
#include "util/utf8.hpp"
#include "wire/fast_lane.hpp"
#include "wire/line_scan.hpp"

namespace appose::detail {

namespace {

// A worker line longer than this is dropped (recorded as invalid) rather than buffered without
// bound: a runaway print must not exhaust the host's memory.
constexpr std::size_t kMaxStdoutLine = std::size_t{1} << 30;
// stderr lines are free text: keep the first part of an overlong one.
constexpr std::size_t kMaxStderrLine = std::size_t{1} << 20;
// After the worker exits, its stdout and stderr are read until EOF or until nothing has come
// for kDrainQuiet (a forked grandchild may hold the pipes open for seconds). Quiet is idle
// time only: the time spent handling what was read never counts, so a slow decode cannot cut
// completed responses off. kDrainCap bounds the drain for a grandchild that keeps writing.
constexpr auto kDrainQuiet = std::chrono::milliseconds(20);
constexpr auto kDrainCap = std::chrono::milliseconds(250);
// A worker that closes its stdout but keeps running can never answer again: after this long
// it is killed, so its tasks crash instead of waiting forever. A worker told to end (EOF on its
// stdin) gets the shutdown grace instead: an interpreter flushes and closes its streams before
// it frees its heap, which can take seconds after a long session.
constexpr auto kStdoutGoneGrace = std::chrono::seconds(1);
// How much of a worker's unparsable stdout and its stderr a service keeps (the most recent),
// and how much of each line; the crash report quotes a smaller tail of both.
constexpr std::size_t kKeptLines = 10000;
constexpr std::size_t kKeptLineBytes = std::size_t{64} << 10;
constexpr std::size_t kReportLines = 200;
constexpr std::size_t kReportBytes = std::size_t{64} << 10;

/// Appends `line` to `lines`, cut at kKeptLineBytes (on a UTF-8 boundary), dropping the oldest
/// line beyond kKeptLines.
void keep_line(std::deque<std::string>& lines, std::size_t& dropped, std::string line) {
  if (line.size() > kKeptLineBytes) {
    const std::size_t cut = utf8::cut(line, kKeptLineBytes).size();
    const std::size_t rest = line.size() - cut;
    line.resize(cut);
    line += fmt::format(" <... {} more bytes>", rest);
  }
  lines.push_back(std::move(line));
  if (lines.size() > kKeptLines) {
    lines.pop_front();
    ++dropped;
  }
}

// The debug callback's mark for a response read from the worker.
constexpr const char* kReceivedMark = "<-- ";
// appose-python's python_worker.main() prints this (then the exception) when the init fails.
constexpr const char* kInitWarning = "[WARNING] Init script failed: ";

}  // namespace

void ServiceImpl::record_invalid(std::string text, std::string_view why) {
  debug("SERVICE", fmt::format("<INVALID> {} ({})", text, why));
  std::lock_guard lock(mu_);
  keep_line(invalid_lines_, invalid_dropped_, std::move(text));
}

void ServiceImpl::handle_stdout_line(std::string_view line) {
  // Nearly every line is one task's response, read without a Value tree; the rest (and any
  // line the fast lane declines) is read in full, with its faults reported.
  std::string_view task_id;
  if (codec::Response response; codec::read_task_response(line, response, task_id)) {
    if (debugging_) debug("SERVICE", kReceivedMark + std::string(line));
    deliver(task_id, std::move(response));
    return;
  }
  codec::LineContents contents = codec::split_line(line);
  if (contents.messages.empty() && contents.invalid.empty()) return;  // blank line
  if (!contents.messages.empty() && debugging_) {
    debug("SERVICE", kReceivedMark + std::string(line));
  }
  for (std::size_t i = 0; i < contents.invalid.size(); ++i) {
    record_invalid(std::move(contents.invalid[i]),
                   i < contents.notes.size() ? contents.notes[i] : "not a JSON object");
  }
  for (auto& message : contents.messages) {
    codec::Response response;
    try {
      response = codec::to_response(message);
    } catch (const std::exception& e) {
      if (auto call = codec::call_id(message)) {
        // The worker blocks until its CALL is answered: answer even one that cannot be read.
        debug_service(
            fmt::format("Undecodable CALL: {} ({})", codec::write(Value(message)), e.what()));
        reply_error(*call, fmt::format("The service could not decode the CALL: {}", e.what()));
        continue;
      }
      if (codec::known_without_task(message)) {
        // A post-0.12 line (RELEASE, HELLO, ...) that concerns no task: reported, not invalid.
        debug_service(fmt::format("Task-less message ignored: {} ({})",
                                  codec::write(Value(message)), e.what()));
        continue;
      }
      record_invalid(codec::write(Value(std::move(message))), e.what());
      continue;
    }
    if (response.type == ResponseType::HELLO) {
      handle_hello(response);
      continue;
    }
    if (response.type == ResponseType::CALL) {
      debug_service(
          fmt::format("CALL {}: op '{}' on '{}'", response.call, response.op, response.var));
      reply_error(response.call, unsupported_call(response));
      continue;
    }
    if (response.type == ResponseType::RELEASE) {
      // Nothing here hands out managed regions yet (no `_appose_allocate`), so there is no
      // count to lower; unknown regions are ignored, as upstream's service does.
      debug_service(fmt::format("RELEASE of {} region(s), none of them managed here: {}",
                                response.regions.size(), codec::write(Value(message))));
      continue;
    }
    if (!response.task) {
      debug_service("Invalid service message (no task): " +
                    codec::write(Value(std::move(message))));
      continue;
    }
    const std::string id = *response.task;  // kept apart from the response moved on
    deliver(id, std::move(response));
  }
}

void ServiceImpl::deliver(std::string_view task_id, codec::Response&& response) {
  std::shared_ptr<TaskImpl> task;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it != tasks_.end()) {
      if (is_terminal(response.type)) {
        task = std::move(it->second);
        tasks_.erase(it);
      } else {
        task = it->second;
      }
    }
  }
  if (!task) {
    debug_service(fmt::format("No such task: {}", task_id));
    return;
  }
  auto applied = task->handle(std::move(response));
  TaskImpl::release(std::move(task), applied);
}

void ServiceImpl::handle_hello(const codec::Response& hello) {
  WorkerInfo info{hello.implementation.value_or(""), hello.version.value_or(""), false,
                  std::string(kProtocolVersion)};
  info.compatible = same_protocol(info.version, info.service_version);
  if (!info.compatible) {
    // Upstream's service kills such a worker; this one carries on (0.12 workers send no HELLO,
    // so a check could not be required anyway) and says so.
    debug_service(fmt::format(
        "Worker {} speaks Appose protocol {}, but this service speaks {} (major.minor differ): "
        "messages may be misread; carrying on",
        info.implementation.empty() ? std::string("(unnamed)") : info.implementation,
        info.version.empty() ? std::string("(no version)") : info.version, info.service_version));
  }
  std::lock_guard lock(mu_);
  worker_info_ = std::move(info);
}

std::string ServiceImpl::unsupported_call(const codec::Response& call) {
  if (call.var == "_appose_allocate") {
    return "This service (appose-cpp) has no managed shared memory: it does not set APPOSE_SHM, "
           "so allocate blocks in the worker instead of calling _appose_allocate";
  }
  return fmt::format(
      "This service (appose-cpp) exports no service objects, so '{}' (op '{}') cannot be "
      "reached: pass the values the script needs as task inputs instead",
      call.var, call.op);
}

void ServiceImpl::reply_error(const std::string& call, std::string error) {
  codec::Reply reply;
  reply.call = call;
  reply.error = std::move(error);
  std::string line = codec::encode_reply(reply);
  // Written from the I/O thread: the worker that sent the CALL waits for this line and reads
  // its stdin meanwhile, so the write does not wait on it. (A worker that never reads stdin
  // can stall this write only until it dies or is killed: kill() does not need write_mu_.)
  try {
    requests_.send(line + "\n", false);
  } catch (const Error&) {
    return;  // closed: the worker reads EOF, which also ends its wait
  }
  debug_service(std::move(line));
}

void ServiceImpl::handle_stderr_line(std::string line) {
  // appose-python's own report of a failed init script (plain stdio; the bootstrap fails every
  // task with the traceback instead, which TaskImpl::handle() records). Recorded before the
  // debug sink sees the line, so that a caller woken by that line finds init_error() set.
  if (line.rfind(kInitWarning, 0) == 0 && config_.kind == WorkerKind::python) {
    set_init_error(line.substr(std::string_view(kInitWarning).size()), /*full=*/false);
  }
  debug("WORKER", line);
  std::lock_guard lock(mu_);
  keep_line(error_lines_, error_dropped_, std::move(line));
}

class ServiceImpl::OutputHandler final : public platform::PumpHandler {
 public:
  explicit OutputHandler(ServiceImpl& service) : service_(service) {}

  // Nothing may escape the I/O thread: a line that cannot be handled (out of memory, a bug)
  // is reported to the log and reading goes on, so the worker's exit is still noticed.
  void line(platform::OutputStream stream, std::string& line, std::size_t dropped) override {
    if (stream == platform::OutputStream::out) {
      try {
        if (dropped != 0) {
          service_.record_invalid(
              fmt::format("<a line of {} bytes was dropped>", line.size() + dropped),
              fmt::format("longer than the {} byte limit", kMaxStdoutLine));
          return;
        }
        service_.handle_stdout_line(line);
      } catch (const std::exception& e) {
        service_.log(fmt::format("a stdout line could not be handled: {}", e.what()));
      }
      return;
    }
    try {
      if (dropped != 0) line += fmt::format(" <... {} more bytes>", dropped);
      service_.handle_stderr_line(std::move(line));
    } catch (const std::exception& e) {
      service_.log(fmt::format("a stderr line could not be handled: {}", e.what()));
    }
  }

  void closed(platform::OutputStream stream) override {
    if (stream == platform::OutputStream::out && !exited_) {
      stdout_gone_ = Clock::now();
      told_to_end_ = service_.requests_.closed();
      if (told_to_end_) grace_ = std::max<Clock::duration>(kStdoutGoneGrace, service_.grace());
    }
  }

  void exited() override {
    exited_ = true;
    std::lock_guard lock(service_.mu_);
    service_.exit_seen_ = true;
  }

  // stdout is gone but the worker lives on: it gets a moment to exit by itself.
  std::optional<Clock::time_point> deadline() override {
    if (!stdout_gone_ || exited_ || killed_) return std::nullopt;
    return *stdout_gone_ + grace_;
  }

  void timer() override {
    killed_ = true;
    const std::string reason =
        told_to_end_ ? fmt::format(
                           "The worker closed its stdout after EOF on its stdin but had not exited "
                           "{} ms later (Service::shutdown_grace()); the service killed it.",
                           std::chrono::duration_cast<std::chrono::milliseconds>(grace_).count())
                     : std::string(
                           "The worker closed its stdout but kept running, so it could not answer "
                           "any more; the service killed it.");
    {
      std::lock_guard lock(service_.mu_);
      service_.kill_reason_ = reason;
      service_.process_.kill_group();
    }
    service_.log(reason);
  }

 private:
  ServiceImpl& service_;
  std::optional<Clock::time_point> stdout_gone_;
  Clock::duration grace_ = kStdoutGoneGrace;
  bool exited_ = false, killed_ = false, told_to_end_ = false;
};

void ServiceImpl::io_loop() {
  platform::PumpOptions options;
  options.out = {kMaxStdoutLine, /*repair_utf8=*/false, LineSplitter::Overflow::at_end};
  options.err = {kMaxStderrLine, /*repair_utf8=*/false, LineSplitter::Overflow::at_end};
  options.drain_quiet = kDrainQuiet;
  options.drain_cap = kDrainCap;
  OutputHandler handler(*this);
  try {
    platform::pump_output(process_, options, handler);
  } catch (const std::exception& e) {
    // Only the wait itself can fail here (the handler catches its own): the worker is then
    // finished as if it had exited.
    log(fmt::format("the worker's output could not be read: {}", e.what()));
  }
  finish_after_exit();
}

std::string ServiceImpl::crash_report(int exit_code) const {
  // appose-python's layout, so that tools parsing it work with either service. Only the tail
  // of each stream is quoted: every crashed task holds a copy of the report.
  std::string report = fmt::format("Worker crashed with exit code {}.\n", exit_code);
  if (!kill_reason_.empty()) report += kill_reason_ + "\n";
  report += "\n[stdout]\n";
  auto lines = [&](const std::deque<std::string>& v, std::size_t dropped_before) {
    if (v.empty()) {
      report += "<none>\n";
      return;
    }
    std::size_t first = v.size() > kReportLines ? v.size() - kReportLines : 0;
    std::size_t bytes = 0;
    for (std::size_t i = v.size(); i > first; --i) {
      bytes += v[i - 1].size() + 1;
      if (bytes > kReportBytes) {
        first = i;
        break;
      }
    }
    if (first + dropped_before > 0) {
      report += fmt::format("<{} earlier line(s) omitted>\n", first + dropped_before);
    }
    for (std::size_t i = first; i < v.size(); ++i) {
      const std::string& l = v[i];
      if (l.size() > kReportBytes) {
        report += l.substr(0, kReportBytes) + " <...>\n";
      } else {
        report += l + "\n";
      }
    }
  };
  lines(invalid_lines_, invalid_dropped_);
  report += "\n[stderr]\n";
  lines(error_lines_, error_dropped_);
  return report;
}

void ServiceImpl::finish_after_exit() {
  decltype(tasks_) pending;
  std::string report;
  int code;
  {
    std::lock_guard lock(mu_);
    // The leader has exited but is not reaped yet, so its process group id cannot have been
    // reused: kill what it left behind (a launcher's real worker, a task's subprocesses) so
    // nothing keeps running detached from its service.
    process_.kill_group();
    code = process_.wait();
    exit_code_ = code;
    exit_seen_ = true;
    report = crash_report(code);
    dead_report_ = report;
    pending.swap(tasks_);
    tasks_closed_ = true;
  }
  process_.close_output();
  if (code != 0) debug_service(fmt::format("<worker process terminated with exit code {}>", code));
  if (!pending.empty()) {
    debug_service(fmt::format("<worker process terminated with {} pending task{}>", pending.size(),
                              pending.size() == 1 ? "" : "s"));
  }
  for (auto& [id, task] : pending) {
    auto applied = task->crash(report);
    TaskImpl::release(std::move(task), applied);
  }
  pending.clear();
  if (!init_file_.empty()) {
    remove_quietly(utf8_path(init_file_));  // the worker deletes it only when the script succeeds
  }
  {
    // Only now: whoever returns from Service::wait_for() sees every pending task CRASHED.
    std::lock_guard lock(mu_);
    state_ = State::exited;
  }
  exited_cv_.notify_all();
  Reaper::instance().notify();
}

}  // namespace appose::detail
