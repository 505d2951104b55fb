#include "worker/worker_impl.hpp"

#include <cxxabi.h>

#include <fmt/format.h>
#include <cstdlib>
#include <typeinfo>
#include <vector>

#include "appose/error.hpp"
#include "core/value_blocks.hpp"
#include "platform/env_var.hpp"
#include "platform/parent_watch.hpp"
#include "platform/stderr.hpp"
#include "wire/fast_lane.hpp"
#include "wire/line_scan.hpp"
#include "wire/resolve.hpp"
#include "wire/worker_env.hpp"

namespace appose::detail {

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

/// Whether a shared memory block dies with the last handle to it (Windows' named file
/// mappings), rather than living until unlinked (POSIX).
#ifdef _WIN32
constexpr bool kBlocksDieWithTheirHandles = true;
#else
constexpr bool kBlocksDieWithTheirHandles = false;
#endif

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
  platform::write_stderr(fmt::format("[appose-cpp worker] {}\n", message));
}

}  // namespace

void WorkerTaskImpl::end_as(Ending e, std::string message) {
  std::lock_guard lock(mu);
  ending = e;
  failure = std::move(message);
}

std::pair<WorkerTaskImpl::Ending, std::string> WorkerTaskImpl::take_ending() {
  std::lock_guard lock(mu);
  return {ending, std::move(failure)};
}

void WorkerImpl::respond(codec::Response response, const WorkerTaskImpl* task) {
  // Reused by each thread: a response costs no allocation of its own.
  thread_local std::string line;
  line.clear();
  std::vector<SharedMemory> handed;
  try {
    codec::append_response(line, response);
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
    line.clear();
    codec::append_response(line, failure);
  }
  line += '\n';
  send_lines(line, handed, response.type == ResponseType::UPDATE, task);
}

void WorkerImpl::respond_plain(const WorkerTaskImpl& task, ResponseType type) {
  thread_local std::string line;
  line.clear();
  codec::append_task_event(line, task.id, type);
  line += '\n';
  std::vector<SharedMemory> none;
  send_lines(line, none, false, &task);
}

void WorkerImpl::send_lines(std::string_view lines, std::vector<SharedMemory>& handed, bool update,
                            const WorkerTaskImpl* task) {
  if (task == nullptr || !task->held) {
    const bool ok = channel.write_lines(lines);
    sent(ok, handed);
    return;
  }
  {
    std::lock_guard lock(held_mu);
    if (held_lines.empty()) held_since = std::chrono::steady_clock::now();
    held_lines += lines;
    for (auto& shm : handed)
      held_blocks.push_back(std::move(shm));
    // A released task's line goes out with what is held before it (its LAUNCH, perhaps): the
    // new reader might not write that before it waits for input.
    if (update || task->released || held_lines.size() >= kHeldLimit) {
      write_held();
      return;
    }
  }
  // The reader writes what its own tasks hold before it waits for input; a task on another
  // thread may be followed there by a long one, so the alarm bounds its wait.
  if (!task->on_reader) arm_alarm();
}

void WorkerImpl::arm_alarm() {
  if (!alarm_set.exchange(true)) alarm->set(kTakeover);
}

void WorkerImpl::flush_unlocked(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  flush_held();
  lock.lock();
}

void WorkerImpl::flush_held() {
  std::lock_guard lock(held_mu);
  write_held();
}

void WorkerImpl::write_held() {
  if (held_lines.empty()) return;
  const bool ok = channel.write_lines(held_lines);
  sent(ok, held_blocks);
  held_lines.clear();
  held_blocks.clear();
}

void WorkerImpl::sent(bool ok, std::vector<SharedMemory>& handed) {
  // The host is gone if the write failed; the parent watch ends us.
  if (!ok) {
    take_back(handed);
  } else if (kBlocksDieWithTheirHandles && !handed.empty()) {
    std::lock_guard lock(handed_mu);
    for (auto& shm : handed)
      handed_blocks.push_back(std::move(shm));
  }
}

void WorkerImpl::update(WorkerTaskImpl& task, std::optional<std::string> message,
                        std::optional<std::int64_t> current, std::optional<std::int64_t> maximum,
                        Value info) {
  codec::Response r;
  r.type = ResponseType::UPDATE;
  r.task = task.id;
  r.message = std::move(message);
  r.current = current;
  r.maximum = maximum;
  r.info = std::move(info);
  respond(std::move(r), &task);
}

int WorkerImpl::run(Worker& facade) {
  // Read before any thread of ours starts (getenv/unsetenv are not thread-safe), and removed
  // so that processes this worker starts do not take our host for theirs.
  if (platform::env_var("APPOSE_WORKER_HELLO") == "0") hello = false;
  std::optional<long> named_parent;
  if (auto named = platform::take_env_var(kParentPidVar)) {
    named_parent = std::strtol(named->c_str(), nullptr, 10);
  }

  try {
    channel = platform::ProtocolChannel::take_stdio(shield);
  } catch (const Error& e) {
    warn(e.what());
    return 1;
  }
  // Stops (as the last thing run() does) once every task has ended.
  platform::ParentWatch parent_watch(named_parent);
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
  try {
    alarm = std::make_unique<platform::Alarm>();
  } catch (const Error& e) {
    warn(fmt::format("every task will be handed to the pool: {}", e.what()));
  }
  std::thread watcher;
  if (alarm) watcher = std::thread([this] { watch(); });
  // One thread more than max_concurrency(): one of them reads (reader_wanted starts true), so
  // that many can run tasks.
  std::vector<std::thread> pool;
  pool.reserve(concurrency + 1);
  for (std::size_t i = 0; i <= concurrency; ++i)
    pool.emplace_back([this] { pool_thread(); });

  serve_main();
  for (auto& t : pool)
    t.join();
  if (alarm) {
    alarm->stop();
    watcher.join();
  }
  flush_held();  // what a thread of an operation's own held after the serving threads ended
  return 0;
}

void WorkerImpl::send_hello() {
  codec::Response r;
  r.type = ResponseType::HELLO;
  r.implementation = "appose-cpp";
  r.version = std::string(kProtocolVersion);
  channel.write_line(codec::encode_response(r));
}

void WorkerImpl::read_requests() {
  while (true) {
    // What immediate tasks have held back goes out before the reader may wait for input.
    if (!channel.line_ready()) flush_held();
    std::optional<std::string_view> line = channel.read_line();
    if (!line) break;
    if (!handle_line(*line)) return;
  }
  flush_held();
  std::lock_guard lock(mu);
  eof = true;
  pool_ready.notify_all();
  main_ready.notify_all();
}

void WorkerImpl::fail_request(std::string task_id, std::string error) {
  codec::Response r;
  r.type = ResponseType::FAILURE;
  r.task = std::move(task_id);
  r.error = std::move(error);
  respond(std::move(r));
}

bool WorkerImpl::handle_line(std::string_view line) {
  // Nearly every line is one EXECUTE or CANCEL, read without a Value tree; the rest (and any
  // line the fast lane declines) is read in full, with its faults reported.
  if (codec::Request request; codec::read_task_request(line, request)) {
    return handle_request(std::move(request), true);
  }
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
    // Several requests on one line: none runs here, so this thread stays the reader.
    handle_request(std::move(request));
  }
  return true;
}

bool WorkerImpl::handle_request(codec::Request request, bool may_run_here) {
  if (request.type == RequestType::REPLY) {
    // This worker makes no CALLs, so no REPLY is awaited.
    warn("ignoring a REPLY: this worker makes no CALLs");
    return true;
  }
  if (request.type == RequestType::CANCEL) {
    std::lock_guard lock(mu);
    auto it = active.find(request.task);
    if (it != active.end()) it->second->cancel_requested = true;
    // A CANCEL for a task that has just ended is normal: nothing to do.
    return true;
  }
  auto second_execute = [](const std::string& id) {
    warn(fmt::format("ignoring a second EXECUTE for task {}, which is still running", id));
    return true;
  };
  auto task = std::make_shared<WorkerTaskImpl>();
  task->worker = this;
  task->held = alarm != nullptr;
  task->id = std::move(request.task);
  task->operation = trim(request.script);
  try {
    task->inputs = codec::resolve(std::move(request.inputs));
  } catch (const std::exception& e) {
    if (is_active(task->id)) return second_execute(task->id);
    fail_request(task->id, fmt::format("The task's inputs could not be decoded: {}", e.what()));
    return true;
  }
  if (auto op = operations.find(task->operation); op != operations.end()) {
    task->entry = &op->second;
  }
  const bool main = request.queue && *request.queue == "main";
  if (!main && task->entry != nullptr && task->entry->dispatch == Dispatch::immediate) {
    if (is_active(task->id)) return second_execute(task->id);
    // Not filed in `active`: no CANCEL or second EXECUTE can be read before it ends.
    task->on_reader = true;
    task->held = true;
    execute(*task);
    return true;
  }
  std::unique_lock lock(mu);
  // Looked up and filed at once (the inputs of a second EXECUTE are let go unused).
  if (!active.try_emplace(task->id, task).second) {
    lock.unlock();
    return second_execute(task->id);
  }
  if (!main && may_run_here && alarm && idle > 0 && pool_queue.empty() && !channel.line_ready()) {
    // The pool is idle and the reader has nothing else to read: running the task here saves
    // the hand-off. Should it run long, watch() has an idle thread take over reading.
    task->on_reader = true;
    reader_task = task;
    reader_task_since = std::chrono::steady_clock::now();
    lock.unlock();
    arm_alarm();
    execute(*task);
    lock.lock();
    active.erase(task->id);
    if (task->released) return false;
    reader_task.reset();
    return true;
  }
  (main ? main_queue : pool_queue).push_back(task);
  (main ? main_ready : pool_ready).notify_one();
  return true;
}

void WorkerImpl::watch() {
  using std::chrono::steady_clock;
  while (alarm->wait()) {
    // Cleared first: a task that holds a response after this sets the alarm itself, one
    // before it is seen below.
    alarm_set.store(false);
    std::optional<steady_clock::duration> next;
    {
      std::lock_guard lock(mu);
      if (reader_task) {
        const auto ran = steady_clock::now() - reader_task_since;
        if (ran < kTakeover) {
          // Set for an earlier task: this one has time left.
          next = kTakeover - ran;
        } else {
          {
            std::lock_guard held(held_mu);
            reader_task->released = true;
          }
          reader_task.reset();
          // An idle pool thread exists: the reader ran the task only when one did, and has
          // queued nothing since.
          reader_wanted = true;
          pool_ready.notify_one();
        }
      }
    }
    {
      // Without `mu`: a write the host is slow to read must not hold up the reader.
      std::lock_guard held(held_mu);
      if (!held_lines.empty()) {
        const auto waited = steady_clock::now() - held_since;
        if (waited >= kTakeover) {
          write_held();
        } else {
          const steady_clock::duration left = kTakeover - waited;
          next = next ? std::min(*next, left) : left;
        }
      }
    }
    if (next && !alarm_set.exchange(true)) alarm->set(*next);
  }
}

bool WorkerImpl::is_active(const std::string& id) {
  std::lock_guard lock(mu);
  return active.count(id) != 0;
}

void WorkerImpl::pool_thread() {
  std::unique_lock lock(mu);
  auto ready = [&] { return reader_wanted || !pool_queue.empty() || eof; };
  while (true) {
    if (!ready()) flush_unlocked(lock);
    ++idle;
    pool_ready.wait(lock, ready);
    --idle;
    if (reader_wanted) {
      reader_wanted = false;
      lock.unlock();
      read_requests();
      lock.lock();
      continue;
    }
    if (pool_queue.empty()) break;
    run_next(lock, pool_queue);
  }
  flush_unlocked(lock);
}

void WorkerImpl::serve_main() {
  std::unique_lock lock(mu);
  auto ready = [&] { return !main_queue.empty() || eof; };
  while (true) {
    if (!ready()) flush_unlocked(lock);
    main_ready.wait(lock, ready);
    if (main_queue.empty()) break;
    run_next(lock, main_queue);
  }
  flush_unlocked(lock);
}

void WorkerImpl::run_next(std::unique_lock<std::mutex>& lock,
                          std::deque<std::shared_ptr<WorkerTaskImpl>>& queue) {
  auto task = std::move(queue.front());
  queue.pop_front();
  lock.unlock();
  execute(*task);
  lock.lock();
  active.erase(task->id);
}

void WorkerImpl::execute(WorkerTaskImpl& task) {
  respond_plain(task, ResponseType::LAUNCH);

  codec::Response end;
  if (task.entry == nullptr) {
    std::vector<std::string> known;
    for (const auto& [name, entry] : operations)
      known.push_back(name);
    end.type = ResponseType::FAILURE;
    end.task = task.id;
    end.error = fmt::format("Unknown operation '{}'; this worker knows: {}", task.operation,
                            known.empty() ? "(none)" : fmt::format("{}", fmt::join(known, ", ")));
    respond(std::move(end), &task);
    return;
  }
  WorkerTask facade(&task);
  try {
    task.entry->run(facade);
  } catch (const std::exception& e) {
    task.end_as(WorkerTaskImpl::Ending::fail, fmt::format("{}: {}", demangled_type(e), e.what()));
  } catch (...) {
    task.end_as(WorkerTaskImpl::Ending::fail, "the operation threw a non-standard exception");
  }
  auto [ending, failure] = task.take_ending();
  if (ending == WorkerTaskImpl::Ending::cancel ||
      (ending == WorkerTaskImpl::Ending::complete && task.outputs.empty())) {
    // Nothing but the task and the type: written without a Response (most small tasks' end).
    respond_plain(task, ending == WorkerTaskImpl::Ending::cancel ? ResponseType::CANCELATION
                                                                 : ResponseType::COMPLETION);
    return;
  }
  end.task = task.id;
  if (ending == WorkerTaskImpl::Ending::fail) {
    end.type = ResponseType::FAILURE;
    end.error = std::move(failure);
  } else {
    end.type = ResponseType::COMPLETION;
    end.outputs = std::move(task.outputs);
  }
  respond(std::move(end), &task);
}

}  // namespace appose::detail
