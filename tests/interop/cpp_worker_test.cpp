// The native C++ worker SDK (appose/worker.hpp), through examples/worker_ops.cpp:
// (a) driven by this library's Service, and run directly with hand-written stdin;
// (b) driven by appose-python 0.12's own Service (the peer in .peers/venv).
// appose-java is not tested: its 0.12.0 release cannot be fetched on this machine.
//
// Every test starts its own worker and waits on tasks, listeners, the worker's exit or pidfds:
// nothing sleeps to synchronise.

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <appose/appose.hpp>
#include <appose/worker.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

using test::kWorkerOps;
using test::wait_exit;

Service worker_service(std::map<std::string, std::optional<std::string>> env = {}) {
  ServiceConfig config;
  config.command = {kWorkerOps};
  config.env = std::move(env);
  return Service(std::move(config));
}

using test::Signal;

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

/// Closes the service and checks the worker ended well: exit 0 (a sanitizer report makes it
/// non-zero), nothing invalid on its stdout, no sanitizer text on its stderr.
void close_cleanly(Service& service) {
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  EXPECT_TRUE(service.invalid_lines().empty())
      << "first invalid line: " << service.invalid_lines().front();
  for (const auto& line : service.error_lines()) {
    EXPECT_FALSE(contains(line, "Sanitizer") || contains(line, "runtime error:")) << line;
  }
}

NDArray float_array(std::size_t n, const std::function<float(std::size_t)>& value) {
  NDArray array(DType::float32, Shape{n});
  auto span = array.span<float>();
  for (std::size_t i = 0; i < n; ++i)
    span[i] = value(i);
  return array;
}

std::string execute_line(const std::string& task, const std::string& op, const json& inputs) {
  return json{{"task", task},
              {"requestType", "EXECUTE"},
              {"script", op},
              {"inputs", inputs},
              {"queue", nullptr}}
      .dump();
}

/// The decoded stdout lines of a worker run directly.
std::vector<json> responses(const std::string& out) {
  std::vector<json> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(json::parse(out.substr(start, nl - start)));
  }
  EXPECT_EQ(start, out.size()) << "stdout does not end with a newline: " << out;
  return lines;
}

// ---------------------------------------------------------------------------------------------
// (a) This library's Service drives the C++ worker

TEST(CppWorker, SumsAnArrayMadeInCpp) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  NDArray data = float_array(1000, [](std::size_t i) { return static_cast<float>(i) * 0.5F; });
  Task task = service.task("sum", {{"data", data}});
  task.wait_for();
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  EXPECT_DOUBLE_EQ(task.outputs().at("total").get<double>(), 0.5 * 999 * 1000 / 2);
  close_cleanly(service);
}

TEST(CppWorker, ScriptIsTrimmed) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("  \n noop\t\n");
  task.wait_for();
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  close_cleanly(service);
}

TEST(CppWorker, ScalesInPlaceWithoutCopy) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  NDArray data = float_array(4, [](std::size_t i) { return static_cast<float>(i + 1); });
  const float* before = data.span<float>().data();
  Task task = service.task("scale", {{"data", data}, {"factor", 2.5}});
  task.wait_for();
  EXPECT_EQ(task.outputs().at("scaled").get<int>(), 4);
  auto span = data.span<float>();
  EXPECT_EQ(span.data(), before);  // the same mapping: the worker wrote into our block
  EXPECT_EQ(std::vector<float>(span.begin(), span.end()),
            (std::vector<float>{2.5F, 5.0F, 7.5F, 10.0F}));
  close_cleanly(service);
}

TEST(CppWorker, StepsSendUpdatesInOrder) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  constexpr int kSteps = 8;
  std::mutex mu;
  std::vector<ResponseType> types;
  std::vector<std::int64_t> currents;
  std::vector<std::string> messages;
  Task task = service.task("steps", {{"n", kSteps}});
  task.listen([&](const TaskEvent& e) {
    std::lock_guard lock(mu);
    types.push_back(e.response_type);
    if (e.response_type == ResponseType::UPDATE) {
      currents.push_back(e.current.value_or(-1));
      messages.push_back(e.message.value_or(""));
      EXPECT_EQ(e.maximum, kSteps);
    }
  });
  task.wait_for();
  EXPECT_EQ(task.outputs().at("done").get<int>(), kSteps);
  std::lock_guard lock(mu);
  ASSERT_EQ(types.size(), kSteps + 2u);
  EXPECT_EQ(types.front(), ResponseType::LAUNCH);
  EXPECT_EQ(types.back(), ResponseType::COMPLETION);
  for (int i = 0; i < kSteps; ++i) {
    EXPECT_EQ(currents[static_cast<std::size_t>(i)], i + 1);
    EXPECT_EQ(messages[static_cast<std::size_t>(i)], "step " + std::to_string(i + 1));
  }
  EXPECT_EQ(task.current(), kSteps);
  close_cleanly(service);
}

TEST(CppWorker, CooperativeCancel) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("steps", {{"n", 1'000'000}});
  auto updating = std::make_shared<Signal>();
  task.listen([updating](const TaskEvent& e) {
    if (e.response_type == ResponseType::UPDATE) updating->set();
  });
  task.start();
  ASSERT_TRUE(updating->wait());
  auto t0 = Clock::now();
  task.cancel();
  try {
    task.wait_for();
    FAIL() << "a canceled task must throw";
  } catch (const TaskException& e) {
    EXPECT_STREQ(e.what(), "Task was canceled");
  }
  EXPECT_EQ(task.status(), TaskStatus::CANCELED);
  EXPECT_LT(Clock::now() - t0, 2s);
  close_cleanly(service);
}

TEST(CppWorker, LongTaskOnTheReaderHandsReadingOver) {
  APPOSE_REQUIRE_WORKER_OPS();
  // With the pool idle, the thread that reads a pool task's request runs it; once it has run
  // for a millisecond another thread takes over reading. So a task that sends nothing
  // is still seen to start, later requests are served while it runs, and its CANCEL reaches
  // it.
  Service service = worker_service();
  // A first task lets the pool's threads reach their wait: a task read while none is idle
  // goes to the pool, and the takeover would not be tested.
  service.task("noop").wait_for();
  Task quiet = service.task("wait_cancel");
  auto launched = std::make_shared<Signal>();
  quiet.listen([launched](const TaskEvent& e) {
    if (e.response_type == ResponseType::LAUNCH) launched->set();
  });
  quiet.start();
  ASSERT_TRUE(launched->wait());
  for (int i = 0; i < 3; ++i) {
    Task quick = service.task("noop");
    ASSERT_TRUE(quick.wait_for(5s));
    EXPECT_EQ(quick.status(), TaskStatus::COMPLETE);
  }
  EXPECT_EQ(quiet.status(), TaskStatus::RUNNING);
  quiet.cancel();
  EXPECT_THROW(quiet.wait_for(5s), TaskException);
  EXPECT_EQ(quiet.status(), TaskStatus::CANCELED);
  close_cleanly(service);  // The worker had its timer: without one it hands every task to the pool,
                           // and says so.
  for (const auto& line : service.error_lines())
    EXPECT_FALSE(contains(line, "handed to the pool")) << line;
}

TEST(CppWorker, TasksEndingAroundTheTakeoverEndWell) {
  APPOSE_REQUIRE_WORKER_OPS();
  // Operations that end just before, at and just after the millisecond after which another
  // thread takes over reading, one to three at a time, with a canceled one now and then: each
  // ends as it should, its LAUNCH first.
  Service service = worker_service();
  const std::int64_t durations[] = {0, 200, 800, 950, 1000, 1050, 1200, 2000};
  struct Seen {
    std::mutex mu;
    std::vector<ResponseType> events;
  };
  for (int round = 0; round < 60; ++round) {
    std::vector<Task> tasks;
    std::vector<std::shared_ptr<Seen>> seen;
    std::vector<std::int64_t> asked;
    const int batch = 1 + round % 3;
    for (int j = 0; j < batch; ++j) {
      asked.push_back(durations[static_cast<std::size_t>(round * 3 + j) % std::size(durations)]);
      tasks.push_back(service.task("sleep", {{"us", asked.back()}}));
    }
    if (round % 4 == 3) tasks.push_back(service.task("wait_cancel"));
    for (auto& task : tasks) {
      seen.push_back(std::make_shared<Seen>());
      task.listen([s = seen.back()](const TaskEvent& e) {
        std::lock_guard lock(s->mu);
        s->events.push_back(e.response_type);
      });
      task.start();
    }
    if (round % 4 == 3) tasks.back().cancel();
    for (std::size_t j = 0; j < tasks.size(); ++j) {
      const bool canceled = j == asked.size();
      if (canceled) {
        EXPECT_THROW(tasks[j].wait_for(10s), TaskException);
        EXPECT_EQ(tasks[j].status(), TaskStatus::CANCELED);
      } else {
        ASSERT_TRUE(tasks[j].wait_for(10s)) << "round " << round << ", task " << j;
        EXPECT_EQ(tasks[j].outputs().at("slept").get<std::int64_t>(), asked[j]);
      }
      std::lock_guard lock(seen[j]->mu);
      ASSERT_GE(seen[j]->events.size(), 2U) << "round " << round << ", task " << j;
      EXPECT_EQ(seen[j]->events.front(), ResponseType::LAUNCH);
      EXPECT_EQ(seen[j]->events.back(),
                canceled ? ResponseType::CANCELATION : ResponseType::COMPLETION);
    }
  }
  close_cleanly(service);
}

TEST(CppWorker, AnEndHeldBehindALongTaskIsSentWithinTheTakeover) {
  APPOSE_REQUIRE_WORKER_OPS();
  // A thread that ends a task while more are queued holds the end back, to write it with what
  // follows; if what follows runs long, the worker's timer sends it within about a
  // millisecond. The main queue runs its tasks on one thread, in order: the first keeps it
  // busy while a quick task and a long one queue behind it.
  Service service = worker_service();
  service.task("noop").wait_for();
  Task first = service.task("sleep", {{"us", 100'000}}, "main");
  Task quick = service.task("noop", {}, "main");
  Task slow = service.task("sleep", {{"us", 5'000'000}}, "main");
  const auto t0 = Clock::now();
  first.start();
  quick.start();
  slow.start();
  ASSERT_TRUE(quick.wait_for(10s));
  EXPECT_EQ(quick.status(), TaskStatus::COMPLETE);
  // About 0.1 s; 5 s if the end waited for the long task (a loaded machine has room).
  EXPECT_LT(Clock::now() - t0, 2500ms) << "the quick task's end waited for the long task";
  ASSERT_TRUE(slow.wait_for(10s));
  close_cleanly(service);
}

TEST(CppWorker, UnknownOperationListsTheKnownOnes) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("no_such_op");
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::FAILED);
  std::string error = task.error().value_or("");
  EXPECT_TRUE(contains(error, "Unknown operation 'no_such_op'")) << error;
  for (const char* op :
       {"sum", "scale", "steps", "make", "fail", "crash", "noop", "main_thread", "chatter"}) {
    EXPECT_TRUE(contains(error, op)) << op << " missing from: " << error;
  }
  close_cleanly(service);
}

TEST(CppWorker, InputOrFallsBackForMissingAndNullInputs) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  EXPECT_EQ(service.task("greet").wait_for().outputs().at("text").get<std::string>(),
            "hello, world!");
  Task given = service.task("greet", {{"name", "Ada"}, {"times", 2}, {"greeting", Value()}});
  EXPECT_EQ(given.wait_for().outputs().at("text").get<std::string>(), "hello, Ada!hello, Ada!");
  // Sent but of the wrong type: a TypeError, not the default.
  Task wrong = service.task("greet", {{"times", "twice"}});
  EXPECT_THROW(wrong.wait_for(), TaskException);
  EXPECT_TRUE(contains(wrong.error().value_or(""), "expected an int")) << *wrong.error();
  close_cleanly(service);
}

TEST(CppWorker, ThrowingOperationFailsWithTypeAndMessage) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("fail", {{"message", "the disk is full"}});
  try {
    task.wait_for();
    FAIL() << "a failed task must throw";
  } catch (const TaskException& e) {
    EXPECT_STREQ(e.what(), "Task failed: std::runtime_error: the disk is full");
  }
  EXPECT_EQ(task.status(), TaskStatus::FAILED);
  EXPECT_EQ(task.error(), "std::runtime_error: the disk is full");
  // A missing input is an operation's exception too; the worker carries on.
  Task missing = service.task("fail");
  EXPECT_THROW(missing.wait_for(), TaskException);
  EXPECT_TRUE(contains(missing.error().value_or(""), "message")) << *missing.error();
  Task after = service.task("noop");
  after.wait_for();
  EXPECT_EQ(after.status(), TaskStatus::COMPLETE);
  close_cleanly(service);
}

TEST(CppWorker, CrashReportsTheExitCode) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("crash", {{"code", 7}});
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  std::string error = task.error().value_or("");
  EXPECT_EQ(error.rfind("Worker crashed with exit code 7.", 0), 0u) << error;
  EXPECT_EQ(service.wait_for(), 7);
}

TEST(CppWorker, MadeArrayIsHandedOverToTheHost) {
  APPOSE_REQUIRE_WORKER_OPS();
  std::string name;
  {
    NDArray array;
    {
      Service service = worker_service();
      Task task = service.task("make", {{"n", 6}});
      task.wait_for();
      array = task.outputs().at("array").get<NDArray>();
      EXPECT_EQ(array.dtype(), DType::float64);
      EXPECT_EQ(array.shape(), (Shape{6}));
      auto span = array.span<double>();
      EXPECT_EQ(std::vector<double>(span.begin(), span.end()),
                (std::vector<double>{0, 1, 2, 3, 4, 5}));
      name = array.shm().name();
      // The worker has exited and dropped its handles: the block is still there for us.
      close_cleanly(service);
      EXPECT_TRUE(test::shm_block_exists(name));
      EXPECT_EQ(array.span<double>()[5], 5.0);
    }
    EXPECT_TRUE(test::shm_block_exists(name)) << "the host still holds the array";
  }
  EXPECT_FALSE(test::shm_block_exists(name))
      << "the host owns a returned block: dropping it unlinks it";
}

TEST(CppWorker, MainQueueRunsOnTheRunThread) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task on_main = service.task("main_thread", {}, "main");
  Task on_pool = service.task("main_thread");
  on_main.wait_for();
  on_pool.wait_for();
  EXPECT_TRUE(on_main.outputs().at("on_main").get<bool>());
  EXPECT_FALSE(on_pool.outputs().at("on_main").get<bool>());
  close_cleanly(service);
}

/// Long tasks on every thread of worker_ops' pool (its default size), started.
std::vector<Task> occupy_pool(Service& service) {
  std::vector<Task> tasks;
  for (unsigned i = 0; i < std::max(2U, std::thread::hardware_concurrency()); ++i) {
    tasks.push_back(service.task("steps", {{"n", 1'000'000}}));
    tasks.back().start();
  }
  return tasks;
}

/// Cancels occupy_pool()'s tasks and checks that they end canceled.
void cancel_all(std::vector<Task>& tasks) {
  for (auto& t : tasks)
    t.cancel();
  for (auto& t : tasks) {
    EXPECT_THROW(t.wait_for(), TaskException);
    EXPECT_EQ(t.status(), TaskStatus::CANCELED);
  }
}

TEST(CppWorker, MainQueueRunsWhilePoolIsBusy) {
  APPOSE_REQUIRE_WORKER_OPS();
  // The main thread is not one of the pool's: a main task is served while long tasks occupy
  // every pool thread.
  Service service = worker_service();
  std::vector<Task> long_tasks = occupy_pool(service);
  Task on_main = service.task("main_thread", {}, "main");
  ASSERT_TRUE(on_main.wait_for(5s));
  EXPECT_TRUE(on_main.outputs().at("on_main").get<bool>());
  cancel_all(long_tasks);
  close_cleanly(service);
}

TEST(CppWorker, ImmediateOperationRunsWhilePoolIsBusy) {
  APPOSE_REQUIRE_WORKER_OPS();
  // Dispatch::immediate runs on the reader thread: neither a pool thread (all busy here) nor
  // the main thread.
  Service service = worker_service();
  std::vector<Task> long_tasks = occupy_pool(service);
  Task quick = service.task("main_thread_immediate");
  ASSERT_TRUE(quick.wait_for(5s));
  EXPECT_EQ(quick.status(), TaskStatus::COMPLETE);
  EXPECT_FALSE(quick.outputs().at("on_main").get<bool>());
  Task noop = service.task("noop_immediate");
  ASSERT_TRUE(noop.wait_for(5s));
  EXPECT_EQ(noop.status(), TaskStatus::COMPLETE);
  cancel_all(long_tasks);
  close_cleanly(service);
}

TEST(CppWorker, MainQueueOverridesImmediateDispatch) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task on_main = service.task("main_thread_immediate", {}, "main");
  on_main.wait_for();
  EXPECT_TRUE(on_main.outputs().at("on_main").get<bool>());
  close_cleanly(service);
}

TEST(CppWorker, TwoHundredConcurrentTasks) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  constexpr std::size_t kTasks = 200;
  std::vector<Task> tasks;
  tasks.reserve(kTasks);
  for (std::size_t i = 0; i < kTasks; ++i) {
    NDArray data = float_array(16, [i](std::size_t) { return static_cast<float>(i); });
    std::optional<std::string> queue;
    if (i % 10 == 0) queue = "main";
    tasks.push_back(service.task("sum", {{"data", data}}, queue));
  }
  for (auto& t : tasks)
    t.start();
  for (std::size_t i = 0; i < kTasks; ++i) {
    tasks[i].wait_for();
    EXPECT_DOUBLE_EQ(tasks[i].outputs().at("total").get<double>(), 16.0 * static_cast<double>(i));
  }
  close_cleanly(service);
}

TEST(CppWorker, PrintsAndChildProcessesDoNotCorruptTheProtocol) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  Task task = service.task("chatter");
  task.wait_for();
  EXPECT_EQ(task.outputs().at("system").get<int>(), 0);
  Task after = service.task("sum", {{"data", float_array(3, [](std::size_t) { return 1.0F; })}});
  after.wait_for();
  EXPECT_EQ(after.outputs().at("total").get<double>(), 3.0);
  close_cleanly(service);  // also: no invalid line
  auto has = [&](std::string_view text) {
    auto lines = service.error_lines();
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return contains(l, text); });
  };
  EXPECT_TRUE(has("chatter via std::cout"));
  EXPECT_TRUE(has("chatter via printf"));
  EXPECT_TRUE(has("chatter via a child process"));
}

TEST(CppWorker, HelloNamesTheImplementation) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service();
  service.task("noop").wait_for();  // HELLO is the first line: read before any COMPLETION
  auto info = service.worker_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->implementation, "appose-cpp");
  EXPECT_EQ(info->version, kProtocolVersion);
  close_cleanly(service);
}

TEST(CppWorker, HelloCanBeTurnedOff) {
  APPOSE_REQUIRE_WORKER_OPS();
  Service service = worker_service({{"APPOSE_WORKER_HELLO", "0"}});
  service.task("noop").wait_for();
  EXPECT_FALSE(service.worker_info().has_value());
  close_cleanly(service);
}

TEST(CppWorker, EnvironmentWorkerService) {
  APPOSE_REQUIRE_WORKER_OPS();
  // Through an Environment, as a user would: the executable from the bin paths.
  std::filesystem::path exe(kWorkerOps);
  Environment env(".", {exe.parent_path().string()});
  Service service = env.service({exe.filename().string()}, {});
  Task task = service.task(
      "sum", {{"data", float_array(4, [](std::size_t i) { return static_cast<float>(i); })}});
  task.wait_for();
  EXPECT_EQ(task.outputs().at("total").get<double>(), 6.0);
  close_cleanly(service);
}

// ---------------------------------------------------------------------------------------------
// The worker run directly, with stdin written by the test

TEST(CppWorkerProcess, MalformedLineDoesNotStopTheWorker) {
  APPOSE_REQUIRE_WORKER_OPS();
  std::string input = "this is not json\n" +
                      json{{"task", "bad"}, {"requestType", "EXECUTE"}, {"script", 42}}.dump() +
                      "\n" + R"({"task":"x","requestType":"WHATEVER"})" + "\n" +
                      execute_line("good", "steps", {{"n", 2}}) + "\n";
  auto result = test::run_process({kWorkerOps}, input);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "malformed request: this is not json")) << result.err;
  EXPECT_TRUE(contains(result.err, "WHATEVER")) << result.err;
  auto lines = responses(result.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().value("responseType", ""), "HELLO");
  bool good_done = false, bad_failed = false;
  for (const auto& r : lines) {
    if (r.value("task", "") == "good" && r.value("responseType", "") == "COMPLETION") {
      good_done = r["outputs"]["done"] == 2;
    }
    // An EXECUTE whose id is readable fails its task instead of leaving the host waiting.
    if (r.value("task", "") == "bad" && r.value("responseType", "") == "FAILURE") {
      bad_failed = contains(r.value("error", ""), "script");
    }
  }
  EXPECT_TRUE(good_done) << result.out;
  EXPECT_TRUE(bad_failed) << result.out;
}

// After 0.12 a service sends REPLY (no task) to answer a CALL; this worker makes none, so a
// stray REPLY is reported and ignored, never run as a task.
TEST(CppWorkerProcess, StrayReplyIsIgnored) {
  APPOSE_REQUIRE_WORKER_OPS();
  std::string input = R"({"requestType":"REPLY","call":"c1","error":"no service objects"})"
                      "\n" +
                      execute_line("good", "steps", {{"n", 1}}) + "\n";
  auto result = test::run_process({kWorkerOps}, input);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "ignoring a REPLY")) << result.err;
  auto lines = responses(result.out);
  bool good_done = false;
  for (const auto& r : lines) {
    EXPECT_NE(r.value("task", "good"), "") << "a response for a task without id: " << r.dump();
    if (r.value("task", "") == "good" && r.value("responseType", "") == "COMPLETION") {
      good_done = true;
    }
  }
  EXPECT_TRUE(good_done) << result.out;
}

TEST(CppWorkerProcess, EndOfInputLetsRunningTasksFinish) {
  APPOSE_REQUIRE_WORKER_OPS();
  // stdin ends right after the requests: both tasks still complete, then the worker exits 0.
  std::string input = execute_line("slow", "steps", {{"n", 20}}) + "\n" +
                      json{{"task", "main"},
                           {"requestType", "EXECUTE"},
                           {"script", "main_thread"},
                           {"inputs", json::object()},
                           {"queue", "main"}}
                          .dump() +
                      "\n";
  auto result = test::run_process({kWorkerOps}, input);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  auto lines = responses(result.out);
  ASSERT_FALSE(lines.empty());
  const json& last = lines.back();
  EXPECT_EQ(last.value("task", ""), "slow");
  EXPECT_EQ(last.value("responseType", ""), "COMPLETION");
  EXPECT_EQ(last["outputs"]["done"], 20);
  int updates = 0;
  bool main_done = false;
  for (const auto& r : lines) {
    if (r.value("responseType", "") == "UPDATE") ++updates;
    if (r.value("task", "") == "main" && r.value("responseType", "") == "COMPLETION") {
      main_done = r["outputs"]["on_main"] == true;
    }
  }
  EXPECT_EQ(updates, 20);
  EXPECT_TRUE(main_done) << result.out;
}

TEST(CppWorkerProcess, ImmediateOperationsEndInTheOrderOfTheirRequests) {
  APPOSE_REQUIRE_WORKER_OPS();
  // Each immediate task ends before the next request is read: its LAUNCH and COMPLETION come
  // out together, in request order, which no pool could promise.
  std::string input;
  for (int i = 0; i < 50; ++i)
    input += execute_line(std::to_string(i), "noop_immediate", json::object()) + "\n";
  auto result = test::run_process({"/usr/bin/env", "APPOSE_WORKER_HELLO=0", kWorkerOps}, input);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  auto lines = responses(result.out);
  ASSERT_EQ(lines.size(), 100U) << result.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].value("task", ""), std::to_string(i / 2));
    EXPECT_EQ(lines[i].value("responseType", ""), i % 2 == 0 ? "LAUNCH" : "COMPLETION");
  }
}

TEST(CppWorkerProcess, WithoutHelloTheFirstLineIsALaunch) {
  APPOSE_REQUIRE_WORKER_OPS();
  auto result = test::run_process({"/usr/bin/env", "APPOSE_WORKER_HELLO=0", kWorkerOps},
                                  execute_line("t", "noop", json::object()) + "\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  auto lines = responses(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_EQ(lines[0], (json{{"task", "t"}, {"responseType", "LAUNCH"}}));
  EXPECT_EQ(lines[1],
            (json{{"outputs", json::object()}, {"task", "t"}, {"responseType", "COMPLETION"}}));
}

TEST(CppWorkerProcess, ExitsWhenItsHostDies) {
  APPOSE_REQUIRE_WORKER_OPS();
  APPOSE_REQUIRE_PYTHON_PEER();
  // A Python host starts the worker, has it run a task that would last for hours (so that the
  // end of stdin alone would not end it), waits for its LAUNCH, prints the worker's pid and
  // dies by SIGKILL. The worker's stdout is a file: its writes never fail, so only the watch
  // on its host can end it. Twice: the host as the parent (getppid), and named by
  // APPOSE_PARENT_PID with the worker leading its own process group.
  const std::string script = R"PY(
import os, signal, subprocess, sys, tempfile, time
worker, mode = sys.argv[1], sys.argv[2]
env = dict(os.environ)
env.pop("APPOSE_PARENT_PID", None)
if mode == "named":
    env["APPOSE_PARENT_PID"] = str(os.getpid())
out = tempfile.TemporaryFile()
p = subprocess.Popen([worker], stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL,
                     env=env, start_new_session=(mode == "named"))
p.stdin.write(b'{"task":"t","requestType":"EXECUTE","script":"steps","inputs":{"n":100000000},"queue":null}\n')
p.stdin.flush()
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    out.seek(0)
    if b'"LAUNCH"' in out.read():
        break
    time.sleep(0.005)
print(p.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
)PY";
  for (std::string mode : {"parent", "named"}) {
    SCOPED_TRACE(mode);
    auto result = test::run_python(script, {kWorkerOps, mode});
    EXPECT_EQ(result.exit_code, -SIGKILL) << result.err;
    ASSERT_FALSE(result.out.empty()) << result.err;
    std::int64_t pid = std::stoll(result.out);
    bool exited = wait_exit(pid, 1s);
    EXPECT_TRUE(exited) << "worker " << pid << " outlived its host";
    if (!exited) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

// ---------------------------------------------------------------------------------------------
// (b) appose-python 0.12's own Service drives the C++ worker

TEST(CppWorkerFromPython, PythonServiceDrivesTheCppWorker) {
  APPOSE_REQUIRE_WORKER_OPS();
  APPOSE_REQUIRE_PYTHON_PEER();
  // Blocks: the input array is made by Python (it unlinks it when done); the `make` output is
  // made by the worker and owned by the host (Python), which unlinks it. Both unlinks also
  // unregister the names from Python's resource_tracker, so it has nothing to report at exit.
  const std::string script = R"PY(
import json, os, sys, threading
import numpy as np
from appose import NDArray
from appose.service import ResponseType, Service, TaskException

s = Service(".", None, sys.argv[1])
debug = []
s.debug(debug.append)
r = {}


def watchdog():  # appose-python waits for ever on a response it cannot decode: stay bounded
    sys.stderr.write("watchdog: stuck after " + json.dumps(r) + "\n")
    sys.stderr.flush()
    s.kill()
    os._exit(3)


timer = threading.Timer(15, watchdog)
timer.daemon = True
timer.start()

data = NDArray("float32", [100])
view = data.ndarray()
view[:] = np.arange(100, dtype=np.float32)
r["sum"] = s.task("sum", {"data": data}).wait_for().outputs["total"]
s.task("scale", {"data": data, "factor": 2.0}).wait_for()
r["scaled_last"] = float(view[-1])
del view
data.shm.close()
data.shm.unlink()

updates = []
t = s.task("steps", {"n": 5})
t.listen(lambda e: updates.append(e.current) if e.response_type == ResponseType.UPDATE else None)
r["steps_done"] = t.wait_for().outputs["done"]
r["updates"] = updates

try:
    s.task("fail", {"message": "boom from python"}).wait_for()
    r["fail"] = "no exception"
except TaskException as e:
    r["fail"] = str(e)
    r["fail_status"] = e.task.status.value

try:
    s.task("nope").wait_for()
except TaskException as e:
    r["unknown"] = str(e)

t = s.task("main_thread", queue="main").wait_for()
r["on_main"] = t.outputs["on_main"]

# Dispatch::immediate: LAUNCH and COMPLETION reach appose-python in one write, and tasks
# started together come back in one.
quick = [s.task("main_thread_immediate") for _ in range(20)]
for t in quick:
    t.start()
r["immediate"] = [t.wait_for().status.value for t in quick]
r["immediate_on_main"] = any(t.outputs["on_main"] for t in quick)

t = s.task("make", {"n": 6}).wait_for()
out = t.outputs["array"]
arr = out.ndarray()
r["make"] = arr.tolist()
r["make_dtype"] = out.dtype
r["make_shape"] = out.shape
r["make_name"] = out.shm.name
del arr
out.shm.close()
out.shm.unlink()  # the host owns a returned block

# delay_ms: see worker_ops' crash (a race in appose-python 0.12, not in this worker).
t = s.task("crash", {"code": 7, "delay_ms": 200})
try:
    t.wait_for()
except TaskException:
    pass
r["crash_status"] = t.status.value
r["crash_error"] = (t.error or "").splitlines()[0] if t.error else ""
r["exit_code"] = s.wait_for()
r["invalid_lines"] = s.invalid_lines()
r["hello_logged"] = any("Invalid service message" in d for d in debug)
timer.cancel()
print(json.dumps(r))
)PY";
  auto result = test::run_python(script, {kWorkerOps});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json r = json::parse(result.out);
  EXPECT_EQ(r["sum"], 4950.0);
  EXPECT_EQ(r["scaled_last"], 198.0);
  EXPECT_EQ(r["steps_done"], 5);
  EXPECT_EQ(r["updates"], (json{1, 2, 3, 4, 5}));
  EXPECT_EQ(r["fail"], "Task failed: std::runtime_error: boom from python");
  EXPECT_EQ(r["fail_status"], "FAILED");
  EXPECT_TRUE(contains(r.value("unknown", ""), "Unknown operation 'nope'")) << r.dump();
  EXPECT_EQ(r["on_main"], true);
  EXPECT_EQ(r["immediate"], json(std::vector<std::string>(20, "COMPLETE")));
  EXPECT_EQ(r["immediate_on_main"], false);
  EXPECT_EQ(r["make"], (json{0.0, 1.0, 2.0, 3.0, 4.0, 5.0}));
  EXPECT_EQ(r["make_dtype"], "float64");
  EXPECT_EQ(r["make_shape"], (json{6}));
  EXPECT_FALSE(test::shm_block_exists(r.value("make_name", "?"))) << "the Python host unlinked it";
  EXPECT_EQ(r["crash_status"], "CRASHED");
  EXPECT_EQ(r["crash_error"], "Worker crashed with exit code 7.");
  EXPECT_EQ(r["exit_code"], 7);
  // appose-python 0.12 does not know HELLO: it logs it as a message without a task (not as an
  // invalid line) and carries on.
  EXPECT_EQ(r["invalid_lines"], json::array());
  EXPECT_EQ(r["hello_logged"], true);
  EXPECT_FALSE(contains(result.err, "resource_tracker")) << result.err;
  EXPECT_FALSE(contains(result.err, "Traceback")) << result.err;
}

}  // namespace
}  // namespace appose
