// What a new user meets in the first hour, against the real workers (appose-python 0.12 in
// .peers/venv; appose-java 0.9.0's Groovy worker where present): dict results of the call
// helpers, proxies that outlive their Service handle, a failing init script, a NumPy array
// returned by mistake, a worker the service killed, the numpy start-up warning, and the small
// conveniences (outputs() by reference, result<T>(), keyword arguments, task_file(), debug
// direction marks).
//
// Nothing sleeps to synchronise: tests wait on tasks, services, listeners or pidfds.

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;
using test::Lines;
using test::peer_env;
using test::retry_thread_death;
using test::Signal;
using test::start_and_await_launch;
using test::wait_exit;

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

const char* const kClassifier =
    "def classify(x, scale=1):\n"
    "  return {'cat': 0.9 * scale, 'dog': 0.1}\n"
    "class Model:\n"
    "  def __init__(self): self.labels = {'cat': 0, 'dog': 1}\n"
    "  def predict(self, x, top=2): return {'cat': 0.9, 'top': top}\n"
    "  def pid(self):\n"
    "    import os\n"
    "    return os.getpid()\n"
    "task.export(classify=classify, model=Model(), Model=Model, table={'a': 1})\n";

// ---------------------------------------------------------------------------------------------
// 1. A dict result is the result, not merged into the outputs

TEST(FirstHourPython, DictResultsOfTheCallHelpers) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.task(kClassifier).wait_for();

  Value r = service.call("classify", {1});
  ASSERT_TRUE(r.is_object()) << "call() of a function returning a dict lost the dict";
  EXPECT_DOUBLE_EQ(r.at("cat").get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(r.at("dog").get<double>(), 0.1);

  Value table = service.get_var("table");
  ASSERT_TRUE(table.is_object());
  EXPECT_EQ(table.at("a").get<int>(), 1);

  WorkerObject model = service.proxy("model");
  Value predicted = model.call("predict", {5});
  ASSERT_TRUE(predicted.is_object());
  EXPECT_EQ(predicted.at("top").get<int>(), 2);
  Value labels = model.get("labels");
  ASSERT_TRUE(labels.is_object());
  EXPECT_EQ(labels.at("dog").get<int>(), 1);
  // Calling the object itself: a dict-returning callable.
  Value direct = service.proxy("classify")({2});
  ASSERT_TRUE(direct.is_object());
  EXPECT_DOUBLE_EQ(direct.at("cat").get<double>(), 0.9);
  // An empty dict, too.
  EXPECT_TRUE(service.call("dict").is_object());
}

TEST(FirstHourPython, BareDictInAPlainScriptIsMergedAsDocumented) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task bare = service.task("{'cat': 0.9}");
  bare.wait_for();
  EXPECT_TRUE(bare.result().is_null());  // what Task::result() documents
  EXPECT_DOUBLE_EQ(bare.outputs().at("cat").get<double>(), 0.9);
  // The documented way to return a dict as the result.
  Task assigned = service.task("task.outputs['result'] = {'cat': 0.9}");
  assigned.wait_for();
  EXPECT_DOUBLE_EQ(assigned.result().at("cat").get<double>(), 0.9);
}

TEST(FirstHourPython, KeywordArguments) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.task(kClassifier).wait_for();
  EXPECT_DOUBLE_EQ(service.call("classify", {1}, {{"scale", 2}}).at("cat").get<double>(), 1.8);
  Value made = service.call("dict", {}, {{"a", 1}, {"b", "two"}});
  EXPECT_EQ(made.at("a").get<int>(), 1);
  EXPECT_EQ(made.at("b").get<std::string>(), "two");
  WorkerObject model = service.proxy("model");
  EXPECT_EQ(model.call("predict", {0}, {{"top", 5}}).at("top").get<int>(), 5);
  // A WorkerObject argument (positional or keyword) is passed as the object.
  EXPECT_EQ(service.call("getattr", {model, "labels"}).at("cat").get<int>(), 0);
  EXPECT_EQ(service.call("dict", {}, {{"m", model}}).at("m").kind(), Value::Kind::worker_object);
  EXPECT_EQ(service.proxy("Model")({}, {}).kind(), Value::Kind::worker_object);
  // Keywords that are not identifiers never reach a script.
  EXPECT_THROW(static_cast<void>(service.call("dict", {}, {{"a=1);import os;(", 1}})), Error);
  EXPECT_THROW(static_cast<void>(model.call("predict", {0}, {{"", 1}})), Error);
  EXPECT_THROW(static_cast<void>(service.call("dict", {}, {{"1a", 1}})), Error);
}

// ---------------------------------------------------------------------------------------------
// 2. A WorkerObject keeps its service alive

WorkerObject make_model() {
  Service service = peer_env().python();
  service.task(kClassifier).wait_for();
  return service.proxy("model");
}  // the Service handle goes here

TEST(FirstHourPython, ProxyOutlivesItsServiceHandle) {
  APPOSE_REQUIRE_PYTHON_PEER();
  WorkerObject model = make_model();
  ASSERT_NE(model.service(), nullptr);
  EXPECT_EQ(model.call("predict", {1}).at("top").get<int>(), 2);
  // An object returned in a task's outputs, after the Task and Service handles are gone.
  WorkerObject date;
  {
    Service service = peer_env().python();
    date = service.task("import datetime\ndatetime.date(2024, 5, 17)")
               .wait_for()
               .result<WorkerObject>();
  }
  EXPECT_EQ(date.get("year").get<int>(), 2024);
  // The last proxy gone, the worker is released like any service (EOF, it exits).
  std::int64_t pid = -1;
  {
    WorkerObject last = make_model();
    EXPECT_EQ(last.call("predict", {1}).at("cat").get<double>(), 0.9);
    pid = last.call("pid").get<std::int64_t>();
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(wait_exit(pid, 10s)) << "worker " << pid << " outlived its last proxy";
}

TEST(FirstHourPython, ProxyInTheInputsOfAStuckTaskMakesNoCycle) {
  APPOSE_REQUIRE_PYTHON_PEER();
  std::int64_t pid = -1;
  {
    Service service = peer_env().python();
    service.shutdown_grace(200ms);
    service.task(kClassifier).wait_for();
    // The running task's inputs hold a proxy of its own service: once every handle is gone,
    // the worker must still get EOF and, as the task never ends, the kill.
    Task stuck = service.task("import time\ntime.sleep(100)", {{"m", service.proxy("model")}});
    start_and_await_launch(stuck);
    pid = service.pid();
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(wait_exit(pid, 10s)) << "worker " << pid << " kept alive by a cycle";
}

// ---------------------------------------------------------------------------------------------
// 3. A failing init script

TEST(FirstHourPython, FailingInitScriptFailsTasksWithItsTraceback) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Lines log;
  Service service = peer_env().python();
  service.log(log.sink());
  service.init("import os\nGOOD = 1\nimport no_such_module_for_appose\n");
  EXPECT_FALSE(service.init_error().has_value());  // not started
  Task first = service.task("GOOD + 1");
  try {
    first.wait_for();
    FAIL() << "a task of a worker whose init failed completed";
  } catch (const TaskException& e) {
    EXPECT_TRUE(contains(e.what(), "init script failed")) << e.what();
    EXPECT_TRUE(contains(e.what(), "No module named 'no_such_module_for_appose'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "<init script>\", line 3")) << e.what();
  }
  // Set by the time the task has failed: the traceback alone.
  auto error = service.init_error();
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(error->rfind("Traceback (most recent call last):", 0) == 0) << *error;
  EXPECT_TRUE(contains(*error, "ModuleNotFoundError")) << *error;
  // Every later task too (the worker's state is not what the script set up).
  Task second = service.task("1 + 1");
  EXPECT_THROW(second.wait_for(), TaskException);
  EXPECT_TRUE(contains(second.error().value_or(""), "no_such_module_for_appose"));
  EXPECT_TRUE(log.wait_for({"init script failed", "no_such_module_for_appose"}));
  // A restart runs the script again, and reports again.
  service.restart();
  EXPECT_THROW(service.task("1").wait_for(), TaskException);
  EXPECT_TRUE(service.init_error().has_value());
}

TEST(FirstHourPython, SucceedingInitScriptStillExports) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.init("import math\n_private = 2\nGOLDEN = 1.618");
  EXPECT_DOUBLE_EQ(service.task("GOLDEN + math.sqrt(4)").wait_for().result<double>(), 3.618);
  EXPECT_THROW(service.task("_private").wait_for(), TaskException);  // not exported
  EXPECT_FALSE(service.init_error().has_value());
}

TEST(FirstHourPython, FailingInitScriptOnThePlainChannelIsReported) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Lines debug;
  Service service = peer_env().python(Channel::plain_stdio);
  service.debug(debug.sink());
  service.init("raise RuntimeError('init-boom')");
  service.start();
  // appose-python only warns, and tasks run on; the warning is what init_error() holds.
  ASSERT_TRUE(debug.wait_for({"[WORKER-", "Init script failed", "init-boom"}));
  ASSERT_TRUE(service.init_error().has_value());
  EXPECT_TRUE(contains(*service.init_error(), "init-boom")) << *service.init_error();
  EXPECT_EQ(service.task("2 + 2").wait_for().result<int>(), 4);
}

// ---------------------------------------------------------------------------------------------
// 4. A NumPy array returned instead of an appose.NDArray

TEST(FirstHourPython, ReturnedNumpyArraySaysHowToReturnAnArray) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Value wrong = service.task("import numpy\nnumpy.arange(6, dtype='float32')").wait_for().result();
  ASSERT_EQ(wrong.kind(), Value::Kind::worker_object);
  try {
    static_cast<void>(wrong.get<NDArray>());
    FAIL() << "a worker object is not an NDArray";
  } catch (const TypeError& e) {
    EXPECT_TRUE(contains(e.what(), "appose.NDArray(str(a.dtype), list(a.shape))")) << e.what();
    EXPECT_TRUE(contains(e.what(), "out.ndarray()[:] = a")) << e.what();
  }
  // And the advice works, as the error spells it.
  NDArray right = service
                      .task(
                          "import appose, numpy\n"
                          "a = numpy.arange(6, dtype='float32').reshape(2, 3)\n"
                          "out = appose.NDArray(str(a.dtype), list(a.shape)); "
                          "out.ndarray()[:] = a\n"
                          "task.outputs['result'] = out")
                      .wait_for()
                      .result<NDArray>();
  EXPECT_EQ(right.shape(), (Shape{2, 3}));
  std::vector<float> values(6);
  right.copy_to(values);
  EXPECT_EQ(values, (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

// ---------------------------------------------------------------------------------------------
// 5. A worker the service killed says so

std::string crash_of(Task& task) {
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  return task.error().value_or("");
}

/// A task of `service` that is running and never ends by itself (it ignores cancel requests).
Task running_sleeper(Service& service) {
  Task task = service.task("import time\ntime.sleep(100)");
  start_and_await_launch(task);
  return task;
}

TEST(FirstHourPython, KillReportSaysKillWasCalled) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = running_sleeper(service);
  service.kill();
  std::string report = crash_of(task);
  EXPECT_EQ(report.rfind("Worker crashed with exit code -9.\n", 0), 0u) << report;
  EXPECT_TRUE(contains(report, "The service killed the worker: Service::kill() was called."))
      << report;
}

TEST(FirstHourPython, KillReportSaysTheCancelGraceExpired) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = running_sleeper(service);
  task.cancel(100ms);
  std::string report = crash_of(task);
  EXPECT_TRUE(contains(report, "The service killed the worker: task " + task.id() +
                                   " did not stop within 100 ms of its cancel request"))
      << report;
}

TEST(FirstHourPython, KillReportSaysRestart) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = running_sleeper(service);
  service.restart();
  std::string report = crash_of(task);
  EXPECT_TRUE(contains(report, "Service::restart() was called")) << report;
  // The fresh worker's own crash report starts clean.
  Task exits = service.task("import os\nos._exit(5)");
  std::string second = crash_of(exits);
  EXPECT_FALSE(contains(second, "killed")) << second;
}

TEST(FirstHourPython, KillReportSaysTheShutdownGraceExpired) {
  APPOSE_REQUIRE_PYTHON_PEER();
  struct Seen {
    std::mutex mu;
    std::string report;
  };
  auto seen = std::make_shared<Seen>();
  auto crashed = std::make_shared<Signal>();
  {
    Service service = peer_env().python();
    service.shutdown_grace(200ms);
    Task task = service.task("import time\ntime.sleep(100)");
    task.listen([seen, crashed](const TaskEvent& e) {
      if (e.response_type != ResponseType::CRASH) return;
      std::lock_guard lock(seen->mu);
      seen->report = e.task.error().value_or("");
      crashed->set();
    });
    start_and_await_launch(task);
  }  // every handle gone: EOF, and the task never ends
  ASSERT_TRUE(crashed->wait());
  std::lock_guard lock(seen->mu);
  EXPECT_TRUE(contains(seen->report, "its last handle was dropped")) << seen->report;
  EXPECT_TRUE(contains(seen->report, "200 ms after EOF")) << seen->report;
}

TEST(FirstHourPython, WorkerThatDiesByItselfHasNoKillReason) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)");
  std::string report = crash_of(task);
  EXPECT_EQ(report.rfind("Worker crashed with exit code -9.\n", 0), 0u) << report;
  EXPECT_FALSE(contains(report, "The service killed")) << report;
  service.kill();  // after the exit: no reason is added to anything
}

// ---------------------------------------------------------------------------------------------
// 6. No numpy warning noise

TEST(FirstHourPython, NoNumpyWarningOnStderr) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  EXPECT_EQ(service.task("import numpy\nint(numpy.arange(4).sum())").wait_for().result<int>(), 6);
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  for (const auto& line : service.error_lines())
    EXPECT_FALSE(contains(line, "[WARNING]")) << line;
}

// ---------------------------------------------------------------------------------------------
// 7. Conveniences

TEST(FirstHourPython, OutputsAreAStableReference) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("task.outputs['k'] = [1, 2, 3]\ntask.outputs['s'] = 'text'");
  static_assert(std::is_lvalue_reference_v<decltype(task.outputs())>);
  EXPECT_TRUE(task.outputs().empty());  // not finished yet
  task.wait_for();
  const Value& k = task.outputs().at("k");  // dangled when outputs() returned a copy
  const Value& s = task.outputs().at("s");
  EXPECT_EQ(&task.outputs(), &task.outputs());
  EXPECT_EQ(k.size(), 3u);
  EXPECT_EQ(s.get<std::string>(), "text");
  Task copy = task;  // handles share the outputs
  EXPECT_EQ(&copy.outputs(), &task.outputs());
}

TEST(FirstHourPython, TypedResult) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  EXPECT_EQ(service.task("5 + 6").wait_for().result<int>(), 11);
  EXPECT_EQ(service.task("'x' * 3").wait_for().result<std::string>(), "xxx");
  EXPECT_THROW(static_cast<void>(service.task("'x'").wait_for().result<int>()), TypeError);
}

TEST(FirstHourPython, TaskFromAScriptFile) {
  APPOSE_REQUIRE_PYTHON_PEER();
  auto dir =
      std::filesystem::temp_directory_path() / ("appose-first-hour-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "double.py").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "def double(v):\r\n    return 2 * v\r\n\r\ndouble(x)\r\n";  // CRLF is fine too
  }
  Service service = peer_env().python();
  EXPECT_EQ(service.task_file(path, {{"x", 21}}).wait_for().result<int>(), 42);
  EXPECT_EQ(service.task_file(path, {{"x", 2}}, "main").wait_for().result<int>(), 4);
  EXPECT_THROW(static_cast<void>(service.task_file((dir / "missing.py").string())), Error);
  std::filesystem::remove_all(dir);
}

TEST(FirstHourPython, DebugLinesSayTheDirection) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Lines debug;
  Service service = peer_env().python();
  service.debug(debug.sink());
  Task task = service.task("import time\ntime.sleep(0.2)\n1");
  start_and_await_launch(task);
  task.cancel();
  task.wait_for();
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "] --> {", "EXECUTE"}));
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "] --> {", "CANCEL"}));
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "] <-- {", "LAUNCH"}));
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "] <-- {", "COMPLETION"}));
  for (const auto& line : debug.all()) {
    EXPECT_FALSE(contains(line, "--> ") && contains(line, "responseType")) << line;
    EXPECT_FALSE(contains(line, "<-- ") && contains(line, "requestType")) << line;
  }
}

// ---------------------------------------------------------------------------------------------
// Groovy (appose-java 0.9.0): a Map result is the result, too

TEST(FirstHourGroovy, MapResultsOfTheCallHelpers) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = Environment(".").groovy(*test::peer_java_classpath());
  retry_thread_death([&] {
    service.put_var("m", Args{{"a", 1}});
    return 0;
  });
  Value m = retry_thread_death([&] { return service.get_var("m"); });
  ASSERT_TRUE(m.is_object()) << "get_var() of a Map lost the Map";
  EXPECT_EQ(m.at("a").get<int>(), 1);
  EXPECT_EQ(m.size(), 1u);  // nothing else merged in
  Value single = retry_thread_death([&] {
    return service.call("Collections.singletonMap", {"k", 2});
  });
  ASSERT_TRUE(single.is_object());
  EXPECT_EQ(single.at("k").get<int>(), 2);
  WorkerObject proxy = service.proxy("m", "main");
  Value plus = proxy.call("plus", {Args{{"b", 2}}});
  ASSERT_TRUE(plus.is_object());
  EXPECT_EQ(plus.at("b").get<int>(), 2);
  EXPECT_EQ(proxy.get("a").get<int>(), 1);  // a Map's property is its entry
  // Keyword arguments are Groovy named arguments: a leading Map.
  Value named = retry_thread_death([&] {
    return service.call("Collections.unmodifiableMap", {}, {{"k", 3}, {"j", "x"}});
  });
  ASSERT_TRUE(named.is_object());
  EXPECT_EQ(named.at("k").get<int>(), 3);
  EXPECT_EQ(named.at("j").get<std::string>(), "x");
}

}  // namespace
}  // namespace appose
