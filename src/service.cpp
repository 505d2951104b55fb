#include "appose/service.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "build/fingerprint.hpp"
#include "platform/shm_registry.hpp"
#include "python_bootstrap.hpp"
#include "service_impl.hpp"

namespace appose {

namespace detail {

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
// A worker that closes its stdout but keeps running can never answer again: after this long
// it is killed, so its tasks crash instead of waiting forever.
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
    std::size_t cut = kKeptLineBytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0U) == 0x80U)
      --cut;
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
constexpr auto kDrainCap = std::chrono::milliseconds(250);

// The debug callback's direction marks: a request written to the worker, a response read.
constexpr const char* kSentMark = "--> ";
constexpr const char* kReceivedMark = "<-- ";
// appose-python's python_worker.main() prints this (then the exception) when the init fails.
constexpr const char* kInitWarning = "[WARNING] Init script failed: ";

std::atomic<int> next_service_id{0};

thread_local const EventQueue* current_queue = nullptr;

/// Splits a byte stream into lines, with a bound on the length of one line.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max) : max_(max) {}

  /// Feeds bytes; calls on_line(line, overflowed_bytes) per complete line.
  template <typename F>
  void feed(std::string_view data, F&& on_line) {
    while (!data.empty()) {
      auto nl = data.find('\n');
      std::string_view piece = data.substr(0, nl);
      if (pending_.size() + piece.size() <= max_) {
        pending_.append(piece);
      } else {
        std::size_t room = max_ - std::min(max_, pending_.size());
        pending_.append(piece.substr(0, room));
        dropped_ += piece.size() - room;
      }
      if (nl == std::string_view::npos) return;
      flush(on_line);
      data.remove_prefix(nl + 1);
    }
  }
  /// At EOF: a last line without newline still counts.
  template <typename F>
  void finish(F&& on_line) {
    if (!pending_.empty() || dropped_ != 0) flush(on_line);
  }

 private:
  template <typename F>
  void flush(F&& on_line) {
    if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
    on_line(std::move(pending_), dropped_);
    pending_.clear();
    dropped_ = 0;
  }
  std::size_t max_;
  std::string pending_;
  std::size_t dropped_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventQueue

EventQueue::~EventQueue() {
  if (thread_.joinable() && !on_queue_thread()) stop_and_join();
  if (thread_.joinable()) thread_.detach();
}

void EventQueue::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(fn));
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
}

void EventQueue::flush() {
  if (on_queue_thread()) return;
  // Shared with the marker: the waiter may return (and leave) while the queue's thread is
  // still inside notify_all().
  struct Marker {
    std::mutex mu;
    std::condition_variable cv;
    bool reached = false;
  };
  auto marker = std::make_shared<Marker>();
  {
    // Checked and queued under one lock: a marker queued after stop_and_join() took the queue
    // would never run.
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back([marker] {
      std::lock_guard marker_lock(marker->mu);
      marker->reached = true;
      marker->cv.notify_all();
    });
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_one();
  }
  std::unique_lock lock(marker->mu);
  marker->cv.wait(lock, [&] { return marker->reached; });
}

void EventQueue::stop_and_join() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  // Callbacks posted after the thread ended (none in practice) run here, in order.
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(queue_);
  }
  for (auto& fn : rest)
    fn();
}

bool EventQueue::on_queue_thread() const noexcept {
  return current_queue == this;
}
bool EventQueue::on_any_queue_thread() noexcept {
  return current_queue != nullptr;
}

void EventQueue::run() {
  current_queue = this;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();          // callbacks catch their own exceptions
    fn = nullptr;  // destroy captured handles outside the lock
    lock.lock();
  }
  current_queue = nullptr;
}

// ---------------------------------------------------------------------------------------------
// ServiceImpl

ServiceImpl::ServiceImpl(ServiceConfig config)
    : id_(next_service_id.fetch_add(1)), config_(std::move(config)) {}

ServiceImpl::~ServiceImpl() {
  // Normally the Reaper has already finished the worker; this covers a service destroyed
  // without a reaper (never started, or a failed start).
  bool running;
  {
    std::lock_guard lock(mu_);
    running = state_ == State::running;
    if (running) process_.kill_group(SIGKILL);
  }
  if (running || io_thread_.joinable()) join_threads();
  if (!init_file_.empty()) std::remove(init_file_.c_str());
}

void ServiceImpl::set_init(std::string script) {
  std::lock_guard lock(mu_);
  if (state_ != State::idle) throw Error("Service::init(): the service has already started");
  init_script_ = std::move(script);
}

void ServiceImpl::set_env(const std::map<std::string, std::optional<std::string>>& vars) {
  std::lock_guard lock(mu_);
  if (state_ != State::idle) throw Error("Service::env(): the service has already started");
  for (const auto& [k, v] : vars)
    config_.env[k] = v;
}

void ServiceImpl::set_debug(std::function<void(std::string_view)> cb) {
  std::lock_guard lock(mu_);
  debug_cb_ = std::move(cb);
}

void ServiceImpl::set_log(std::function<void(std::string_view)> cb) {
  std::lock_guard lock(mu_);
  log_cb_ = std::move(cb);
}

void ServiceImpl::set_grace(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  grace_ = grace;
}

std::chrono::milliseconds ServiceImpl::grace() const {
  std::lock_guard lock(mu_);
  return grace_;
}

codec::WriteOptions ServiceImpl::write_options() const {
  codec::WriteOptions options;
  // Java workers parse numbers as BigDecimal and drop a line with NaN/Infinity, leaving the
  // task hanging: refuse such values at the source instead.
  options.non_finite = config_.kind == WorkerKind::groovy ? codec::NonFinite::refuse
                                                          : codec::NonFinite::python_tokens;
  // appose-java cannot decode float16 either (the line is dropped, the task would hang).
  options.float16_arrays = config_.kind != WorkerKind::groovy;
  return options;
}

void ServiceImpl::start() {
  std::unique_lock lock(mu_);
  if (state_ != State::idle) return;
  {
    std::lock_guard write_lock(write_mu_);
    if (stdin_closed_) throw Error("Service::start(): the service was closed before it started");
  }

  SpawnOptions spawn;
  spawn.argv = config_.command;
  spawn.cwd = config_.cwd;
  spawn.env = config_.env;
  // No orphans: workers that know APPOSE_PARENT_PID (the Python bootstrap, C++ workers) exit
  // when this host dies, and a lifeline kills the group of any other worker (Groovy, a
  // launcher, a plain command). Unsetting the variable opts out of both.
  auto parent = spawn.env.find(kParentPidVar);
  spawn.kill_with_host = parent == spawn.env.end() || parent->second.has_value();
  if (parent == spawn.env.end()) spawn.env[kParentPidVar] = std::to_string(::getpid());
  if (!init_script_.empty()) {
    auto dir = std::filesystem::temp_directory_path().string();
    std::string path = dir + "/appose-init-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
      throw Error(fmt::format("cannot write the init script to {}", dir),
                  std::error_code(errno, std::generic_category()));
    }
    UniqueFd owner(fd);
    std::string_view rest = init_script_;
    while (!rest.empty()) {
      ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::remove(path.c_str());
        throw Error(fmt::format("cannot write the init script to {}", path),
                    std::error_code(errno, std::generic_category()));
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    init_file_ = path;
    spawn.env["APPOSE_INIT_SCRIPT"] = path;
  }

  Process process;
  try {
    // Blocks left by appose-cpp hosts that died are reclaimed once per process, when its
    // first worker starts (a host that never starts one never pays for the scan).
    shm_registry::reclaim_once();
    process = Process::spawn(spawn);  // throws with the command on failure
  } catch (...) {
    if (!init_file_.empty()) std::remove(init_file_.c_str());
    init_file_.clear();
    throw;
  }
  {
    // write_line() and close() use process_ under write_mu_ only.
    std::lock_guard write_lock(write_mu_);
    process_ = std::move(process);
  }
  state_ = State::running;
  lock.unlock();

  debug_service(fmt::format("worker started: pid {}, command: {}", process_.pid(),
                            fmt::join(config_.command, " ")));
  if (spawn.kill_with_host && !process_.has_lifeline()) {
    log("could not start /bin/sh to watch this host: the worker may outlive a host that is "
        "killed");
  }
  io_thread_ = std::thread([this] { io_loop(); });
}

void ServiceImpl::restart() {
  // One restart at a time: concurrent ones would join the same I/O thread and overwrite a
  // joinable std::thread (std::terminate). Each restart then kills the worker the previous
  // one started, so N concurrent restarts leave one fresh worker.
  std::lock_guard restart_lock(restart_mu_);
  {
    std::unique_lock lock(mu_);
    if (state_ == State::running) {
      if (kill_reason_.empty() && !exit_seen_) {
        kill_reason_ = "The service killed the worker: Service::restart() was called.";
      }
      process_.kill_group(SIGKILL);
    }
    // Waits for the exit (pending tasks CRASHED) but not for the callbacks about it, unlike
    // wait_for(): a restart from a listener, or one racing a listener that restarts, would
    // otherwise wait for the event thread while it waits for restart_mu_.
    if (state_ != State::idle) exited_cv_.wait(lock, [&] { return state_ == State::exited; });
  }
  if (io_thread_.joinable()) io_thread_.join();
  {
    std::lock_guard lock(mu_);
    std::lock_guard write_lock(write_mu_);
    state_ = State::idle;
    process_ = Process();
    exit_seen_ = false;
    exit_code_.reset();
    dead_report_.clear();
    kill_reason_.clear();
    tasks_closed_ = false;
    invalid_lines_.clear();
    error_lines_.clear();
    invalid_dropped_ = error_dropped_ = 0;
    worker_info_.reset();
    init_error_.reset();
    init_error_full_ = false;
    stdin_closed_ = false;
  }
  debug_service("restarting the worker");
  start();
}

void ServiceImpl::set_syntax(std::shared_ptr<const ScriptSyntax> syntax) {
  std::lock_guard lock(mu_);
  syntax_ = std::move(syntax);
}

std::shared_ptr<const ScriptSyntax> ServiceImpl::syntax() const {
  std::lock_guard lock(mu_);
  return syntax_;
}

void ServiceImpl::write_line(const std::string& line) {
  std::error_code ec;
  {
    std::lock_guard lock(write_mu_);
    if (stdin_closed_) throw Error("the service is closed: no more tasks can be sent to it");
    ec = process_.write_stdin(line);
  }
  if (ec) {
    // The worker is gone (EPIPE) or cannot take requests any more (it closed its stdin, or a
    // partial line has corrupted the stream): no answer can come to this request. Killing the
    // worker turns that into the one crash path (the I/O thread crashes every pending task,
    // this one included, with the exit code and the collected output) instead of a task that
    // waits for ever. A worker that has already exited is not affected by the kill.
    log(fmt::format("could not write to the worker (pid {}): {}; stopping it", process_.pid(),
                    ec.message()));
    kill(fmt::format("The service killed the worker: a request could not be written to it ({}).",
                     ec.message()));
  }
}

void ServiceImpl::submit(const std::shared_ptr<TaskImpl>& task, std::string line) {
  {
    // Closed by the user: refuse, whether or not the worker has exited since.
    std::lock_guard lock(write_mu_);
    if (stdin_closed_) throw Error("the service is closed: no more tasks can be sent to it");
  }
  {
    std::unique_lock lock(mu_);
    if (tasks_closed_) {
      std::string report = dead_report_;
      lock.unlock();
      TaskImpl::release(task, task->crash(std::move(report)));
      return;
    }
    tasks_[task->id_] = task;
  }
  try {
    write_line(line);
  } catch (...) {
    std::lock_guard lock(mu_);
    tasks_.erase(task->id_);
    throw;
  }
  line.pop_back();  // the debug callback sees lines without their newline
  debug_service(kSentMark + line);
}

void ServiceImpl::send_cancel(const std::string& task_id) {
  codec::Request request;
  request.task = task_id;
  request.type = RequestType::CANCEL;
  std::string line = codec::encode_request(request);
  {
    std::lock_guard lock(mu_);
    if (state_ != State::running) return;
  }
  try {
    write_line(line + "\n");
  } catch (const Error&) {
    return;  // closed: nothing to cancel through any more
  }
  debug_service(kSentMark + line);
}

void ServiceImpl::close() {
  std::lock_guard lock(write_mu_);
  stdin_closed_ = true;
  process_.close_stdin();  // no-op when not started or already closed
}

void ServiceImpl::kill(std::string reason) {
  std::lock_guard lock(mu_);
  if (state_ != State::running) return;
  // A worker that has exited by itself was not killed by us, whatever is asked now.
  if (kill_reason_.empty() && !exit_seen_) kill_reason_ = std::move(reason);
  process_.kill_group(SIGKILL);
}

std::optional<int> ServiceImpl::wait_for(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(mu_);
  if (state_ == State::idle) throw Error("Service::wait_for(): the service has not been started");
  auto done = [&] { return state_ == State::exited; };
  if (timeout) {
    if (!exited_cv_.wait_for(lock, *timeout, done)) return std::nullopt;
  } else {
    exited_cv_.wait(lock, done);
  }
  std::optional<int> code = exit_code_;
  lock.unlock();
  // Everything the worker wrote has been read; let the callbacks about it (listeners, debug,
  // log) run too, so that the caller may drop what they capture once this returns.
  events_.flush();
  return code;
}

bool ServiceImpl::is_alive() const {
  std::lock_guard lock(mu_);
  return state_ == State::running && !exit_seen_;
}

bool ServiceImpl::exited() const {
  std::lock_guard lock(mu_);
  return state_ == State::exited;
}

std::vector<std::string> ServiceImpl::invalid_lines() const {
  std::lock_guard lock(mu_);
  return {invalid_lines_.begin(), invalid_lines_.end()};
}

std::vector<std::string> ServiceImpl::error_lines() const {
  std::lock_guard lock(mu_);
  return {error_lines_.begin(), error_lines_.end()};
}

std::optional<WorkerInfo> ServiceImpl::worker_info() const {
  std::lock_guard lock(mu_);
  return worker_info_;
}

std::optional<std::string> ServiceImpl::init_error() const {
  std::lock_guard lock(mu_);
  return init_error_;
}

void ServiceImpl::set_init_error(std::string error, bool full) {
  {
    std::lock_guard lock(mu_);
    if (init_error_full_ || (!full && init_error_)) return;
    const bool first = !init_error_;
    init_error_ = error;
    init_error_full_ = full;
    if (!first) return;  // logged once, when first reported
  }
  log("the init script failed: " + error);
}

std::int64_t ServiceImpl::pid() const {
  std::lock_guard lock(mu_);
  return state_ == State::idle ? -1 : process_.pid();
}

void ServiceImpl::debug(std::string_view prefix, std::string message) {
  std::function<void(std::string_view)> cb;
  {
    std::lock_guard lock(mu_);
    cb = debug_cb_;
  }
  if (!cb) return;
  std::string text = fmt::format("[{}-{}] {}", prefix, id_, message);
  post([cb = std::move(cb), text = std::move(text)] {
    try {
      cb(text);
    } catch (...) {
      // A throwing debug callback must not take the event thread down.
    }
  });
}

void ServiceImpl::debug_service(std::string message) {
  debug("SERVICE", std::move(message));
}

void ServiceImpl::log(std::string message) {
  std::function<void(std::string_view)> cb;
  {
    std::lock_guard lock(mu_);
    cb = log_cb_;
  }
  debug("SERVICE", message);
  if (!cb) return;
  post([cb = std::move(cb), message = std::move(message)] {
    try {
      cb(message);
    } catch (...) {
    }
  });
}

std::shared_ptr<TaskImpl> ServiceImpl::find_task(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second;
}

void ServiceImpl::record_invalid(std::string text, std::string_view why) {
  debug("SERVICE", fmt::format("<INVALID> {} ({})", text, why));
  std::lock_guard lock(mu_);
  keep_line(invalid_lines_, invalid_dropped_, std::move(text));
}

void ServiceImpl::handle_stdout_line(std::string_view line) {
  codec::LineContents contents = codec::split_line(line);
  if (contents.messages.empty() && contents.invalid.empty()) return;  // blank line
  if (!contents.messages.empty()) debug("SERVICE", kReceivedMark + std::string(line));
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
    auto task = find_task(*response.task);
    if (!task) {
      debug_service("No such task: " + *response.task);
      continue;
    }
    if (is_terminal(response.type)) {
      std::lock_guard lock(mu_);
      tasks_.erase(*response.task);
    }
    auto applied = task->handle(std::move(response));
    TaskImpl::release(std::move(task), applied);
  }
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
    write_line(line + "\n");
  } catch (const Error&) {
    return;  // closed: the worker reads EOF, which also ends its wait
  }
  debug_service(std::move(line));
}

void ServiceImpl::handle_stderr_line(std::string line) {
  debug("WORKER", line);
  // appose-python's own report of a failed init script (plain stdio; the bootstrap fails every
  // task with the traceback instead, which TaskImpl::handle() records).
  if (line.rfind(kInitWarning, 0) == 0 && config_.kind == WorkerKind::python) {
    set_init_error(line.substr(std::string_view(kInitWarning).size()), /*full=*/false);
  }
  std::lock_guard lock(mu_);
  keep_line(error_lines_, error_dropped_, std::move(line));
}

void ServiceImpl::io_loop() {
  LineSplitter out_lines(kMaxStdoutLine), err_lines(kMaxStderrLine);
  // Nothing may escape this thread: a line that cannot be handled (out of memory, a bug) is
  // reported to the log and the loop goes on, so the worker's exit is still noticed.
  auto on_out = [&](std::string line, std::size_t dropped) {
    try {
      if (dropped != 0) {
        record_invalid(fmt::format("<a line of {} bytes was dropped>", line.size() + dropped),
                       fmt::format("longer than the {} byte limit", kMaxStdoutLine));
        return;
      }
      handle_stdout_line(line);
    } catch (const std::exception& e) {
      log(fmt::format("a stdout line could not be handled: {}", e.what()));
    }
  };
  auto on_err = [&](std::string line, std::size_t dropped) {
    try {
      if (dropped != 0) line += fmt::format(" <... {} more bytes>", dropped);
      handle_stderr_line(std::move(line));
    } catch (const std::exception& e) {
      log(fmt::format("a stderr line could not be handled: {}", e.what()));
    }
  };

  const int out_fd = process_.stdout_fd(), err_fd = process_.stderr_fd();
  const int exit_fd = process_.exit_fd();
  bool out_open = true, err_open = true, exited = false, killed_for_stdout = false;
  std::chrono::steady_clock::time_point exit_time, stdout_gone_time;
  std::vector<char> buf(std::size_t{1} << 16);

  while (true) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    int out_i = -1, err_i = -1, exit_i = -1;
    auto add = [&](int fd) {
      fds[n] = {fd, POLLIN, 0};
      return static_cast<int>(n++);
    };
    if (out_open) out_i = add(out_fd);
    if (err_open) err_i = add(err_fd);
    if (!exited && exit_fd >= 0) exit_i = add(exit_fd);

    int timeout_ms = -1;
    if (!out_open && !exited && !killed_for_stdout) {
      // stdout is gone but the worker lives on: give it a moment to exit by itself.
      auto left = stdout_gone_time + kStdoutGoneGrace - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        killed_for_stdout = true;
        const std::string reason =
            "The worker closed its stdout but kept running, so it could not answer any more; "
            "the service killed it.";
        {
          std::lock_guard lock(mu_);
          kill_reason_ = reason;
          process_.kill_group(SIGKILL);
        }
        log(reason);
        continue;
      }
      timeout_ms =
          static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1);
    }
    if (exited) {
      if (!out_open && !err_open) break;
      auto left = exit_time + kDrainCap - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      auto wait = std::min<std::chrono::steady_clock::duration>(kDrainQuiet, left);
      timeout_ms =
          static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1);
    } else if (exit_fd < 0) {
      // No pidfd (old kernel): look at the process state whenever output pauses.
      timeout_ms = 50;
    }
    int rc = ::poll(fds.data(), n, timeout_ms);
    if (rc < 0 && errno != EINTR) break;
    if (rc == 0 && exited) break;  // quiet since the worker exited
    if (rc <= 0 && !exited && exit_fd < 0) {
      std::lock_guard lock(mu_);
      if (process_.try_reap()) {
        exited = exit_seen_ = true;
        exit_time = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (rc <= 0) continue;

    auto drain = [&](int index, int fd, bool& open, LineSplitter& splitter, auto& on_line) {
      if (index < 0 || fds[static_cast<std::size_t>(index)].revents == 0) return;
      ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
      if (r <= 0) {
        open = false;
        splitter.finish(on_line);
        return;
      }
      splitter.feed(std::string_view(buf.data(), static_cast<std::size_t>(r)), on_line);
    };
    const bool out_was_open = out_open;
    drain(out_i, out_fd, out_open, out_lines, on_out);
    drain(err_i, err_fd, err_open, err_lines, on_err);
    if (out_was_open && !out_open) stdout_gone_time = std::chrono::steady_clock::now();

    if (exit_i >= 0 && fds[static_cast<std::size_t>(exit_i)].revents != 0) {
      exited = true;
      exit_time = std::chrono::steady_clock::now();
      std::lock_guard lock(mu_);
      exit_seen_ = true;
    }
  }
  if (out_open) out_lines.finish(on_out);
  if (err_open) err_lines.finish(on_err);
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
  std::map<std::string, std::shared_ptr<TaskImpl>> pending;
  std::string report;
  int code;
  {
    std::lock_guard lock(mu_);
    // The leader has exited but is not reaped yet, so its process group id cannot have been
    // reused: kill what it left behind (a launcher's real worker, a task's subprocesses) so
    // nothing keeps running detached from its service.
    process_.kill_group(SIGKILL);
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
    std::remove(init_file_.c_str());  // the worker deletes it only when the script succeeds
  }
  {
    // Only now: whoever returns from Service::wait_for() sees every pending task CRASHED.
    std::lock_guard lock(mu_);
    state_ = State::exited;
  }
  exited_cv_.notify_all();
  Reaper::instance().notify();
}

void ServiceImpl::release() {
  bool running;
  {
    std::lock_guard lock(mu_);
    running = state_ == State::running;
  }
  if (running) close();
}

void ServiceImpl::join_threads() {
  if (io_thread_.joinable()) {
    if (io_thread_.get_id() == std::this_thread::get_id()) {
      io_thread_.detach();
    } else {
      io_thread_.join();  // returns once the worker has exited and its output is drained
    }
  }
  if (!events_.on_queue_thread()) events_.stop_and_join();
}

ServiceFront::~ServiceFront() {
  if (impl_) Reaper::instance().adopt(std::move(impl_));
}

// ---------------------------------------------------------------------------------------------
// Reaper

Reaper& Reaper::instance() {
  // Deliberately never destroyed: services may be released during static destruction, after a
  // function-local static would already be gone.
  static Reaper* reaper = [] {
    auto* r = new Reaper();
    std::atexit([] { Reaper::instance().drain_at_exit(); });
    return r;
  }();
  return *reaper;
}

Reaper::Reaper() {
  std::thread([this] { run(); }).detach();
}

void Reaper::adopt(std::shared_ptr<ServiceImpl> service) {
  if (service->pid() < 0) return;  // never started: nothing to finish
  auto grace = service->grace();
  service->release();
  std::lock_guard lock(mu_);
  jobs_.push_back({std::move(service), std::chrono::steady_clock::now() + grace, grace, false});
  cv_.notify_all();
}

void Reaper::notify() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void Reaper::schedule(std::chrono::steady_clock::time_point deadline, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  timers_.emplace(deadline, std::move(fn));
  cv_.notify_all();
}

void Reaper::run() {
  std::unique_lock lock(mu_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<ServiceImpl>> finished;
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->service->exited()) {
        finished.push_back(std::move(it->service));
        it = jobs_.erase(it);
        continue;
      }
      if (!it->killed && now >= it->deadline) {
        it->service->kill(fmt::format(
            "The service killed the worker: its last handle was dropped, and the worker had not "
            "exited {} ms after EOF on its stdin (Service::shutdown_grace()).",
            it->grace.count()));
        it->killed = true;
      }
      if (!it->killed) next = std::min(next, it->deadline);
      ++it;
    }
    std::vector<std::function<void()>> due;
    while (!timers_.empty() && timers_.begin()->first <= now) {
      due.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    if (!timers_.empty()) next = std::min(next, timers_.begin()->first);
    if (!due.empty()) {
      lock.unlock();
      for (auto& fn : due)
        fn();
      due.clear();
      lock.lock();
    }
    if (!finished.empty()) {
      lock.unlock();
      for (auto& s : finished)
        s->join_threads();
      finished.clear();  // destroys the services here, on the reaper's thread
      lock.lock();
      cv_.notify_all();
      continue;
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, next);
    }
  }
}

void Reaper::drain_at_exit() {
  // At exit, wait for the released workers: they have EOF already (an idle Python worker exits
  // at once), and the reaper thread kills those still running at the end of their grace
  // period, so the host leaves no worker behind. Services still held by live handles are not
  // waited for: their workers read EOF when this process's end closes the pipes.
  std::unique_lock lock(mu_);
  auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (const auto& job : jobs_)
    limit = std::max(limit, job.deadline + std::chrono::seconds(1));
  cv_.wait_until(lock, limit, [&] { return jobs_.empty(); });
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Service

Service::Service(ServiceConfig config) {
  auto impl = std::make_shared<detail::ServiceImpl>(std::move(config));
  front_ = std::make_shared<detail::ServiceFront>(impl);
  impl->set_front(front_);
}

Service& Service::init(std::string script) {
  front_->impl()->set_init(std::move(script));
  return *this;
}

Service& Service::env(const std::map<std::string, std::optional<std::string>>& vars) {
  front_->impl()->set_env(vars);
  return *this;
}

Service& Service::debug(std::function<void(std::string_view)> callback) {
  front_->impl()->set_debug(std::move(callback));
  return *this;
}

Service& Service::log(std::function<void(std::string_view)> callback) {
  front_->impl()->set_log(std::move(callback));
  return *this;
}

Service& Service::shutdown_grace(std::chrono::milliseconds grace) {
  front_->impl()->set_grace(grace);
  return *this;
}

Service& Service::restart() {
  front_->impl()->restart();
  return *this;
}

Service& Service::syntax(std::string_view name) {
  auto s = syntax_for(name);
  if (!s) throw Error(fmt::format("no script syntax named '{}' (known: python, groovy)", name));
  front_->impl()->set_syntax(std::move(s));
  return *this;
}

Service& Service::syntax(std::shared_ptr<const ScriptSyntax> syntax) {
  front_->impl()->set_syntax(std::move(syntax));
  return *this;
}

std::shared_ptr<const ScriptSyntax> Service::syntax() const {
  return front_->impl()->syntax();
}

Service& Service::start() {
  front_->impl()->start();
  return *this;
}

Task Service::task(std::string script, Args inputs, std::optional<std::string> queue) {
  auto impl = std::make_shared<detail::TaskImpl>(front_->impl(), std::move(script),
                                                 std::move(inputs), std::move(queue));
  return Task(std::move(impl), front_);
}

Task Service::task_file(const std::string& path, Args inputs, std::optional<std::string> queue) {
  // Read as the builders read configuration files: UTF-8 checked, universal newlines.
  return task(detail::read_text_file(path), std::move(inputs), std::move(queue));
}

void Service::close() {
  front_->impl()->close();
}
void Service::kill() {
  front_->impl()->kill("The service killed the worker: Service::kill() was called.");
}
int Service::wait_for() {
  return *front_->impl()->wait_for(std::nullopt);
}
std::optional<int> Service::wait_for(std::chrono::milliseconds timeout) {
  return front_->impl()->wait_for(timeout);
}
bool Service::is_alive() const {
  return front_->impl()->is_alive();
}
std::vector<std::string> Service::invalid_lines() const {
  return front_->impl()->invalid_lines();
}
std::vector<std::string> Service::error_lines() const {
  return front_->impl()->error_lines();
}
std::optional<WorkerInfo> Service::worker_info() const {
  return front_->impl()->worker_info();
}
std::optional<std::string> Service::init_error() const {
  return front_->impl()->init_error();
}
const ServiceConfig& Service::config() const {
  return front_->impl()->config();
}
std::int64_t Service::pid() const {
  return front_->impl()->pid();
}

}  // namespace appose
