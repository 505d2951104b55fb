#include "appose/worker.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <typeinfo>

#include "codec.hpp"
#include "platform/unique_fd.hpp"
#include "python_bootstrap.hpp"
#include "value_blocks.hpp"

namespace appose {

namespace detail {

namespace {

std::string trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && ws(s.back()))
    s.remove_suffix(1);
  return std::string(s);
}

std::string demangled_type(const std::exception& e) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(typeid(e).name());
}

/// Blocks in outputs are handed over to the host, which owns them from then on: the worker
/// must not unlink them when its handles go away, or the host could not attach. Collects the
/// blocks whose setting changed, so that a response that never reaches the host can give them
/// back (see take_back()).
void hand_over(const Value& v, std::vector<SharedMemory>& changed) {
  for_each_block(v, [&](SharedMemory shm) {
    if (!shm || !shm.unlink_on_close()) return;
    shm.unlink_on_close(false);
    changed.push_back(std::move(shm));
  });
}

/// The host never heard of these blocks: the worker owns them again (they go with its handles).
void take_back(std::vector<SharedMemory>& blocks) {
  for (auto& shm : blocks)
    shm.unlink_on_close(true);
}

void warn(std::string_view message) {
  std::string line = fmt::format("[appose-cpp worker] {}\n", message);
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, line.data(), line.size());
}

/// Writes all of `data`; false if the descriptor is gone (the host has died).
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

class WorkerTaskImpl {
 public:
  enum class Ending : std::uint8_t { complete, cancel, fail };

  WorkerImpl* worker = nullptr;
  std::string id;
  std::string operation;
  Args inputs;
  Args outputs;
  std::atomic<bool> cancel_requested{false};

  void end_as(Ending e, std::string message = {}) {
    std::lock_guard lock(mu);
    ending = e;
    failure = std::move(message);
  }
  std::pair<Ending, std::string> take_ending() {
    std::lock_guard lock(mu);
    return {ending, std::move(failure)};
  }

 private:
  std::mutex mu;
  Ending ending = Ending::complete;
  std::string failure;
};

class WorkerImpl {
 public:
  std::map<std::string, Operation, std::less<>> operations;
  std::function<void(Worker&)> init;
  bool hello = true;
  bool shield = true;
  std::size_t concurrency = std::max(2U, std::thread::hardware_concurrency());

  mutable std::mutex exports_mu;
  std::map<std::string, Value, std::less<>> exports;

  /// Encodes and sends one response. Outputs of a COMPLETION are handed over to the host only
  /// once the line exists (an unencodable output fails the task and stays the worker's), and
  /// taken back if the line cannot be written.
  void respond(codec::Response response) {
    std::string line;
    std::vector<SharedMemory> handed;
    try {
      line = codec::encode_response(response);
      if (response.type == ResponseType::COMPLETION) {
        hand_over(Value(std::move(response.outputs)), handed);
      }
    } catch (const std::exception& e) {
      // Outputs the wire cannot carry (text that is not UTF-8, ...): the task must still end,
      // so it fails with the reason.
      take_back(handed);
      codec::Response failure;
      failure.type = ResponseType::FAILURE;
      failure.task = response.task;
      failure.error = fmt::format("The task's response could not be encoded: {}", e.what());
      line = codec::encode_response(failure);
    }
    line.push_back('\n');
    bool sent = false;
    {
      std::lock_guard lock(write_mu);
      sent = write_all(out.get(), line);
    }
    if (!sent) take_back(handed);  // the host is gone; the parent watch ends us
  }

  void update(WorkerTaskImpl& task, std::optional<std::string> message,
              std::optional<std::int64_t> current, std::optional<std::int64_t> maximum,
              Value info) {
    codec::Response r;
    r.type = ResponseType::UPDATE;
    r.task = task.id;
    r.message = std::move(message);
    r.current = current;
    r.maximum = maximum;
    r.info = std::move(info);
    respond(std::move(r));
  }

  int run(Worker& facade) {
    // Read before any thread of ours starts (getenv/unsetenv are not thread-safe), and removed
    // so that processes this worker starts do not take our host for theirs.
    const char* hello_var = std::getenv("APPOSE_WORKER_HELLO");
    if (hello_var != nullptr && std::string_view(hello_var) == "0") hello = false;
    std::optional<long> named_parent;
    if (const char* named = std::getenv(kParentPidVar); named != nullptr) {
      named_parent = std::strtol(named, nullptr, 10);
      ::unsetenv(kParentPidVar);
    }

    if (!open_channel()) return 1;
    std::thread watcher = watch_parent(named_parent);
    if (hello) send_hello();
    if (init) {
      try {
        init(facade);
      } catch (const std::exception& e) {
        warn(fmt::format("init hook failed: {}: {}", demangled_type(e), e.what()));
      } catch (...) {
        warn("init hook failed with a non-standard exception");
      }
    }
    std::vector<std::thread> pool;
    pool.reserve(concurrency);
    for (std::size_t i = 0; i < concurrency; ++i)
      pool.emplace_back([this] { pool_loop(); });
    std::thread reader([this] { reader_loop(); });

    main_loop();
    reader.join();
    for (auto& t : pool)
      t.join();
    stop_write.reset();  // wakes the parent watch, which then returns
    if (watcher.joinable()) watcher.join();
    return 0;
  }

 private:
  bool open_channel() {
    int in_fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    int out_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (in_fd < 0 || out_fd < 0) {
      if (in_fd >= 0) ::close(in_fd);
      if (out_fd >= 0) ::close(out_fd);
      warn("cannot duplicate stdin/stdout for the protocol");
      return false;
    }
    in.reset(in_fd);
    out.reset(out_fd);
    if (shield) {
      int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null_in >= 0) {
        ::dup2(null_in, STDIN_FILENO);
        ::close(null_in);
      }
      // fd 1 now writes to stderr; if there is no stderr, to /dev/null: never to the protocol.
      if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        int null_out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_out >= 0) {
          ::dup2(null_out, STDOUT_FILENO);
          ::close(null_out);
        }
      }
      // stdout was a pipe (fully buffered): line-buffer it so that the operations' printf and
      // std::cout output reaches the host's error lines as it is written. glibc flushes what
      // was buffered before, to the new fd 1.
      std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
    }
    return true;
  }

  void send_hello() {
    codec::Response r;
    r.type = ResponseType::HELLO;
    r.implementation = "appose-cpp";
    r.version = std::string(kProtocolVersion);
    std::string line = codec::encode_response(r) + "\n";
    std::lock_guard lock(write_mu);
    write_all(out.get(), line);
  }

  /// The worker ends when its host dies (even by SIGKILL): a pidfd on the host turns readable
  /// (without pidfd: a look four times a second). An appose-cpp service names itself in
  /// APPOSE_PARENT_PID and gives the worker a process group of its own, so the whole group
  /// goes. Under another service the host is the parent and the group may be the host's: only
  /// this process goes.
  std::thread watch_parent(std::optional<long> named) {
    const long parent = named ? *named : static_cast<long>(::getppid());
    if (parent <= 1) return {};
    own_group = named.has_value() && ::getpgrp() == ::getpid();
    // The parent may have died before we looked (then getppid() names a reaper): check again.
    auto gone = [parent, named] {
      if (named) return ::kill(static_cast<pid_t>(parent), 0) != 0 && errno == ESRCH;
      return static_cast<long>(::getppid()) != parent;
    };
    int stop[2];
    if (::pipe2(stop, O_CLOEXEC) != 0) return {};
    stop_read.reset(stop[0]);
    stop_write.reset(stop[1]);
    UniqueFd pidfd;
#ifdef SYS_pidfd_open
    long fd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(parent), 0);
    if (fd >= 0) pidfd.reset(static_cast<int>(fd));
#endif
    if (gone()) die();
    return std::thread([this, gone, pidfd = std::move(pidfd)] {
      while (true) {
        pollfd fds[2] = {{stop_read.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
        int n = ::poll(fds, pidfd.valid() ? 2 : 1, pidfd.valid() ? -1 : 250);
        if (n < 0 && errno != EINTR) return;
        if (n > 0 && fds[0].revents != 0) return;  // run() is over
        if ((n > 0 && fds[1].revents != 0) || (!pidfd.valid() && gone())) die();
      }
    });
  }

  void die() const {
    if (own_group) ::killpg(0, SIGKILL);
    ::kill(::getpid(), SIGKILL);
  }

  void reader_loop() {
    std::string buffer;
    char chunk[65536];
    while (true) {
      ssize_t n = ::read(in.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        handle_line(std::string_view(buffer).substr(start, nl - start));
      }
      buffer.erase(0, start);
    }
    if (!buffer.empty()) handle_line(buffer);
    std::lock_guard lock(mu);
    eof = true;
    cv.notify_all();
  }

  void fail_request(std::string task_id, std::string error) {
    codec::Response r;
    r.type = ResponseType::FAILURE;
    r.task = std::move(task_id);
    r.error = std::move(error);
    respond(std::move(r));
  }

  void handle_line(std::string_view line) {
    codec::LineContents contents = codec::split_line(line);
    for (const auto& bad : contents.invalid) {
      warn(fmt::format("ignoring malformed request: {}", bad));
    }
    for (auto& message : contents.messages) {
      // An EXECUTE with a usable id but bad fields fails its task: the host would otherwise
      // wait for it for ever. Anything else malformed is only reported.
      std::optional<std::string> execute_id;
      if (const Value* t = message.find("task"); t != nullptr && t->is_string()) {
        const Value* type = message.find("requestType");
        if (type != nullptr && type->is_string() && type->get<std::string>() == "EXECUTE") {
          execute_id = t->get<std::string>();
        }
      }
      codec::Request request;
      try {
        request = codec::to_request(std::move(message));
      } catch (const std::exception& e) {
        warn(fmt::format("ignoring malformed request: {}", e.what()));
        if (execute_id && !is_active(*execute_id)) {
          fail_request(*execute_id, fmt::format("Malformed request: {}", e.what()));
        }
        continue;
      }
      if (request.type == RequestType::REPLY) {
        // This worker makes no CALLs, so no REPLY is awaited.
        warn("ignoring a REPLY: this worker makes no CALLs");
        continue;
      }
      if (request.type == RequestType::CANCEL) {
        std::lock_guard lock(mu);
        auto it = active.find(request.task);
        if (it != active.end()) it->second->cancel_requested = true;
        // A CANCEL for a task that has just ended is normal: nothing to do.
        continue;
      }
      if (is_active(request.task)) {
        warn(fmt::format("ignoring a second EXECUTE for task {}, which is still running",
                         request.task));
        continue;
      }
      auto task = std::make_shared<WorkerTaskImpl>();
      task->worker = this;
      task->id = request.task;
      task->operation = trim(request.script);
      try {
        task->inputs = codec::resolve(std::move(request.inputs));
      } catch (const std::exception& e) {
        fail_request(task->id, fmt::format("The task's inputs could not be decoded: {}", e.what()));
        continue;
      }
      std::lock_guard lock(mu);
      active[task->id] = task;
      (request.queue && *request.queue == "main" ? main_queue : pool_queue).push_back(task);
      cv.notify_all();
    }
  }

  bool is_active(const std::string& id) {
    std::lock_guard lock(mu);
    return active.count(id) != 0;
  }

  /// Runs tasks from `queue` until it is empty and stdin has ended.
  void serve(std::deque<std::shared_ptr<WorkerTaskImpl>>& queue) {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return !queue.empty() || eof; });
      if (queue.empty()) return;
      auto task = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      execute(*task);
      lock.lock();
      active.erase(task->id);
    }
  }

  void pool_loop() {
    serve(pool_queue);
  }
  void main_loop() {
    serve(main_queue);
  }

  void execute(WorkerTaskImpl& task) {
    codec::Response launch;
    launch.type = ResponseType::LAUNCH;
    launch.task = task.id;
    respond(std::move(launch));

    codec::Response end;
    end.task = task.id;
    auto op = operations.find(task.operation);
    if (op == operations.end()) {
      std::vector<std::string> known;
      for (const auto& [name, fn] : operations)
        known.push_back(name);
      end.type = ResponseType::FAILURE;
      end.error = fmt::format("Unknown operation '{}'; this worker knows: {}", task.operation,
                              known.empty() ? "(none)" : fmt::format("{}", fmt::join(known, ", ")));
      respond(std::move(end));
      return;
    }
    WorkerTask facade(&task);
    try {
      op->second(facade);
    } catch (const std::exception& e) {
      task.end_as(WorkerTaskImpl::Ending::fail, fmt::format("{}: {}", demangled_type(e), e.what()));
    } catch (...) {
      task.end_as(WorkerTaskImpl::Ending::fail, "the operation threw a non-standard exception");
    }
    auto [ending, failure] = task.take_ending();
    switch (ending) {
      case WorkerTaskImpl::Ending::cancel:
        end.type = ResponseType::CANCELATION;
        break;
      case WorkerTaskImpl::Ending::fail:
        end.type = ResponseType::FAILURE;
        end.error = std::move(failure);
        break;
      case WorkerTaskImpl::Ending::complete:
        end.type = ResponseType::COMPLETION;
        end.outputs = std::move(task.outputs);
        break;
    }
    respond(std::move(end));
  }

  UniqueFd in, out, stop_read, stop_write;
  std::mutex write_mu;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<WorkerTaskImpl>> pool_queue, main_queue;
  std::map<std::string, std::shared_ptr<WorkerTaskImpl>> active;
  bool eof = false;
  bool own_group = false;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------

const std::string& WorkerTask::id() const {
  return impl_->id;
}
const std::string& WorkerTask::operation() const {
  return impl_->operation;
}
const Args& WorkerTask::inputs() const {
  return impl_->inputs;
}
Args& WorkerTask::outputs() {
  return impl_->outputs;
}

void WorkerTask::update(std::optional<std::string> message, std::optional<std::int64_t> current,
                        std::optional<std::int64_t> maximum, Value info) {
  impl_->worker->update(*impl_, std::move(message), current, maximum, std::move(info));
}

bool WorkerTask::cancel_requested() const {
  return impl_->cancel_requested;
}
void WorkerTask::cancel() {
  impl_->end_as(detail::WorkerTaskImpl::Ending::cancel);
}
void WorkerTask::fail(std::string message) {
  impl_->end_as(detail::WorkerTaskImpl::Ending::fail, std::move(message));
}

void WorkerTask::export_value(std::string name, Value value) {
  std::lock_guard lock(impl_->worker->exports_mu);
  impl_->worker->exports.insert_or_assign(std::move(name), std::move(value));
}

std::optional<Value> WorkerTask::exported(std::string_view name) const {
  std::lock_guard lock(impl_->worker->exports_mu);
  auto it = impl_->worker->exports.find(name);
  if (it == impl_->worker->exports.end()) return std::nullopt;
  return it->second;
}

Worker::Worker() : impl_(std::make_unique<detail::WorkerImpl>()) {}

Worker::~Worker() = default;

Worker& Worker::define(std::string name, Operation operation) {
  impl_->operations.insert_or_assign(std::move(name), std::move(operation));
  return *this;
}

Worker& Worker::on_init(std::function<void(Worker&)> hook) {
  impl_->init = std::move(hook);
  return *this;
}

Worker& Worker::hello(bool enabled) {
  impl_->hello = enabled;
  return *this;
}

Worker& Worker::max_concurrency(std::size_t n) {
  impl_->concurrency = std::max<std::size_t>(1, n);
  return *this;
}

Worker& Worker::shield_protocol(bool enabled) {
  impl_->shield = enabled;
  return *this;
}

std::vector<std::string> Worker::operations() const {
  std::vector<std::string> names;
  for (const auto& [name, op] : impl_->operations)
    names.push_back(name);
  return names;
}

std::optional<Value> Worker::exported(std::string_view name) const {
  std::lock_guard lock(impl_->exports_mu);
  auto it = impl_->exports.find(name);
  if (it == impl_->exports.end()) return std::nullopt;
  return it->second;
}

void Worker::export_value(std::string name, Value value) {
  std::lock_guard lock(impl_->exports_mu);
  impl_->exports.insert_or_assign(std::move(name), std::move(value));
}

int Worker::run() {
  return impl_->run(*this);
}

}  // namespace appose
