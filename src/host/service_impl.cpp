// The service's side of its worker's life: starting, restarting, writing requests, closing,
// killing and waiting, and the callbacks (debug, log) it posts. Reading the worker is
// host/service_output.cpp.

#include "host/service_impl.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <atomic>
#include <cstdio>
#include <utility>

#include "host/python_bootstrap.hpp"
#include "platform/shm_registry.hpp"
#include "platform/temp_file.hpp"
#include "util/fs_util.hpp"

namespace appose::detail {

namespace {

// The debug callback's mark for a request written to the worker.
constexpr const char* kSentMark = "--> ";

// Numbers the services of this process in debug output ("[SERVICE-3] ...").
std::atomic<int> next_service_id{0};

}  // namespace

ServiceImpl::ServiceImpl(ServiceConfig config)
    : id_(next_service_id.fetch_add(1)),
      config_(std::move(config)),
      requests_(
          [this](std::string_view bytes) {
            std::lock_guard lock(write_mu_);
            return process_.write_stdin(bytes);
          },
          [this] {
            std::lock_guard lock(write_mu_);
            process_.close_stdin();  // no-op when not started or already closed
          },
          [this](std::error_code ec) { write_failed(ec); }) {}

ServiceImpl::~ServiceImpl() {
  // Normally the Reaper has already finished the worker; this covers a service destroyed
  // without a reaper (never started, or a failed start).
  bool running;
  {
    std::lock_guard lock(mu_);
    running = state_ == State::running;
    if (running) process_.kill_group();
  }
  if (running || io_thread_.joinable()) join_threads();
  requests_.stop();  // before the members its callbacks use (events_) are destroyed
  if (!init_file_.empty()) remove_quietly(utf8_path(init_file_));
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
  debugging_ = static_cast<bool>(cb);
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
  // Every task's start calls this: once the worker runs, it takes no lock.
  if (started_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(mu_);
  if (state_ != State::idle) return;
  if (requests_.closed()) {
    throw Error("Service::start(): the service was closed before it started");
  }

  platform::SpawnOptions spawn;
  spawn.argv = config_.command;
  spawn.cwd = config_.cwd;
  spawn.env = config_.env;
  // No orphans: workers that know APPOSE_PARENT_PID (the Python bootstrap, C++ workers) exit
  // when this host dies, and a lifeline kills the group of any other worker (Groovy, a
  // launcher, a plain command). Unsetting the variable opts out of both.
  auto parent = spawn.env.find(kParentPidVar);
  spawn.kill_with_host = parent == spawn.env.end() || parent->second.has_value();
  if (parent == spawn.env.end()) {
    spawn.env[kParentPidVar] = std::to_string(platform::current_process_id());
  }
  if (!init_script_.empty()) {
    init_file_ = platform::write_private_temp_file("appose-init-", init_script_, "the init script");
    spawn.env["APPOSE_INIT_SCRIPT"] = init_file_;
  }

  platform::Process process;
  try {
    // Blocks left by appose-cpp hosts that died are reclaimed once per process, when its
    // first worker starts (a host that never starts one never pays for the scan).
    platform::shm_registry::reclaim_once();
    process = platform::Process::spawn(spawn);  // throws with the command on failure
  } catch (...) {
    if (!init_file_.empty()) remove_quietly(utf8_path(init_file_));
    init_file_.clear();
    throw;
  }
  {
    // requests_ uses process_ under write_mu_ only.
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
  started_.store(true, std::memory_order_release);
}

void ServiceImpl::restart() {
  // One restart at a time: concurrent ones would join the same I/O thread and overwrite a
  // joinable std::thread (std::terminate). Each restart then kills the worker the previous
  // one started, so N concurrent restarts leave one fresh worker.
  std::lock_guard restart_lock(restart_mu_);
  started_.store(false, std::memory_order_release);
  {
    std::unique_lock lock(mu_);
    if (state_ == State::running) {
      if (kill_reason_.empty() && !exit_seen_) {
        kill_reason_ = "The service killed the worker: Service::restart() was called.";
      }
      process_.kill_group();
    }
    // Waits for the exit (pending tasks CRASHED) but not for the callbacks about it, unlike
    // wait_for(): a restart from a listener, or one racing a listener that restarts, would
    // otherwise wait for the event thread while it waits for restart_mu_.
    if (state_ != State::idle) exited_cv_.wait(lock, [&] { return state_ == State::exited; });
  }
  if (io_thread_.joinable()) io_thread_.join();
  // Requests queued for the old worker are dropped; the new one gets those sent from now on.
  requests_.reset();
  {
    std::lock_guard lock(mu_);
    std::lock_guard write_lock(write_mu_);
    state_ = State::idle;
    process_ = platform::Process();
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

void ServiceImpl::write_failed(std::error_code ec) {
  // The worker is gone (EPIPE) or cannot take requests any more (it closed its stdin, or a
  // partial line has corrupted the stream): no answer can come to what was written. Killing
  // the worker turns that into the one crash path (the I/O thread crashes every pending task,
  // those written included, with the exit code and the collected output) instead of tasks that
  // wait for ever. A worker that has already exited is not affected by the kill.
  const std::int64_t worker = pid();
  log(fmt::format("could not write to the worker (pid {}): {}; stopping it", worker, ec.message()));
  kill(fmt::format("The service killed the worker: a request could not be written to it ({}).",
                   ec.message()));
}

void ServiceImpl::submit(const std::shared_ptr<TaskImpl>& task, std::string line) {
  // Closed by the user: refuse, whether or not the worker has exited since. (A close() racing
  // this is caught by requests_.send().)
  if (requests_.closed()) throw Error(RequestWriter::kClosedMessage);
  bool in_flight;
  {
    std::unique_lock lock(mu_);
    if (tasks_closed_) {
      std::string report = dead_report_;
      lock.unlock();
      TaskImpl::release(task, task->crash(std::move(report)));
      return;
    }
    tasks_[task->id_] = task;
    in_flight = tasks_.size() > 1;
  }
  try {
    // With other tasks in flight the caller is pipelining: the request joins a batch.
    requests_.send(line, in_flight);
  } catch (...) {
    std::lock_guard lock(mu_);
    tasks_.erase(task->id_);
    throw;
  }
  if (!debugging_) return;  // the text is made only for a callback that would see it
  line.pop_back();          // the debug callback sees lines without their newline
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
    requests_.send(line + "\n", false);
  } catch (const Error&) {
    return;  // closed: nothing to cancel through any more
  }
  debug_service(kSentMark + line);
}

void ServiceImpl::close() {
  requests_.close();
}

void ServiceImpl::kill(std::string reason) {
  std::lock_guard lock(mu_);
  if (state_ != State::running) return;
  // A worker that has exited by itself was not killed by us, whatever is asked now.
  if (kill_reason_.empty() && !exit_seen_) kill_reason_ = std::move(reason);
  process_.kill_group();
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
  requests_.stop();
  if (!events_.on_queue_thread()) events_.stop_and_join();
}

}  // namespace appose::detail
