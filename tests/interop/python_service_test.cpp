// Service and Task against the real appose-python 0.12 worker (the peer in .peers/venv).
//
// Every test starts its own worker. Nothing here sleeps to synchronise: tests wait on tasks,
// on listener signals, or on a pidfd; the few polls are for state that offers no wait (a pid
// being reaped by someone else) and are bounded.

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The peer's virtual environment: its bin directory first, so `python` is the venv's.
using test::peer_env;
using test::start_and_await_launch;
using test::wait_exit;

using test::Signal;

using test::Lines;

/// Waits until `pid` is gone from the process table (reaped). Nothing can be waited on for
/// another process's reaping, so this polls, within a bound.
bool wait_reaped(std::int64_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// ---------------------------------------------------------------------------------------------
// Results and values

TEST(PythonService, FivePlusSix) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("5 + 6");
  task.wait_for();
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  EXPECT_EQ(task.result().get<int>(), 11);
  EXPECT_EQ(task.id().size(), 32u);
}

TEST(PythonService, ScalarListDictAndUnicodeOutputs) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  const std::string text =
      "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xF0\x9D\x84\x9E";  // é € 😀 𝄞
  Task task = service.task(
      "{'i': 42, 'neg': -2**63, 'big': 2**64 - 1, 'f': 2.5, 'b': True, 'n': None,\n"
      " 'l': [1, 'two', 3.0, [None]], 'd': {'k': [1, 2], 'e': {}},\n"
      " 'emoji': '\\U0001F600', 'echo': text, 'length': len(text)}",
      {{"text", text}});
  task.wait_for();
  Args out = task.outputs();
  EXPECT_EQ(out.at("i").get<int>(), 42);
  EXPECT_EQ(out.at("neg").get<std::int64_t>(), INT64_MIN);
  EXPECT_EQ(out.at("big").get<std::uint64_t>(), UINT64_MAX);
  EXPECT_EQ(out.at("f").get<double>(), 2.5);
  EXPECT_EQ(out.at("b").get<bool>(), true);
  EXPECT_TRUE(out.at("n").is_null());
  const Array& l = out.at("l").as_array();
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].get<int>(), 1);
  EXPECT_EQ(l[1].get<std::string>(), "two");
  EXPECT_EQ(l[2].get<double>(), 3.0);
  EXPECT_TRUE(l[3].as_array()[0].is_null());
  EXPECT_EQ(out.at("d").at("k").get<std::vector<int>>(), (std::vector<int>{1, 2}));
  EXPECT_EQ(out.at("d").at("e").size(), 0u);
  EXPECT_EQ(out.at("emoji").get<std::string>(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(out.at("echo").get<std::string>(), text);
  EXPECT_EQ(out.at("length").get<int>(), 11);  // code points, as Python counts them
}

TEST(PythonService, ExportedValuesReachLaterTasks) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.task("task.export(counter=41)").wait_for();
  EXPECT_EQ(service.task("counter + 1").wait_for().result().get<int>(), 42);
}

// ---------------------------------------------------------------------------------------------
// Events, cancel, failure

TEST(PythonService, UpdatesArriveInOrderWithProgress) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task(
      "for i in range(3):\n"
      "    task.update(message=f'step {i}', current=i, maximum=3)\n"
      "task.outputs['done'] = True\n");
  struct Seen {
    ResponseType type;
    std::optional<std::string> message;
    std::optional<std::int64_t> current, maximum;
    bool task_matches;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  task.listen([&](const TaskEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back({e.response_type, e.message, e.current, e.maximum, e.task == task});
  });
  task.wait_for();

  std::lock_guard lock(mu);  // wait_for() returned after the listeners saw the final event
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].type, ResponseType::LAUNCH);
  for (int i = 0; i < 3; ++i) {
    const Seen& s = seen[static_cast<std::size_t>(i) + 1];
    EXPECT_EQ(s.type, ResponseType::UPDATE);
    EXPECT_EQ(s.message, "step " + std::to_string(i));
    EXPECT_EQ(s.current, i);
    EXPECT_EQ(s.maximum, 3);
  }
  EXPECT_EQ(seen[4].type, ResponseType::COMPLETION);
  for (const auto& s : seen)
    EXPECT_TRUE(s.task_matches);
  EXPECT_EQ(task.message(), "step 2");
  EXPECT_EQ(task.current(), 2);
  EXPECT_EQ(task.maximum(), 3);
  EXPECT_EQ(task.outputs().at("done").get<bool>(), true);
}

TEST(PythonService, ListenerAfterStartIsRefused) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("1");
  task.wait_for();
  EXPECT_THROW(task.listen([](const TaskEvent&) {}), Error);
  EXPECT_THROW(task.start(), Error);
}

TEST(PythonService, CooperativeCancel) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task(
      "import time\n"
      "task.update(message='looping')\n"
      "while not task.cancel_requested:\n"
      "    time.sleep(0.01)\n"
      "task.cancel()\n");
  auto looping = std::make_shared<Signal>();
  task.listen([looping](const TaskEvent& e) {
    if (e.response_type == ResponseType::UPDATE) looping->set();
  });
  task.start();
  ASSERT_TRUE(looping->wait());
  task.cancel();
  try {
    task.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_STREQ(e.what(), "Task was canceled");
    EXPECT_EQ(e.status(), TaskStatus::CANCELED);
  }
  EXPECT_EQ(task.status(), TaskStatus::CANCELED);
  task.cancel();  // finished: no effect
  // The worker sends a COMPLETION after the script's task.cancel(): the first terminal wins,
  // and the service goes on.
  EXPECT_EQ(service.task("7").wait_for().result().get<int>(), 7);
  EXPECT_EQ(task.status(), TaskStatus::CANCELED);
}

TEST(PythonService, FailureCarriesTheTraceback) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("x = 1\ny = x / 0\n");
  try {
    task.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_TRUE(starts_with(e.what(), "Task failed: ")) << e.what();
    EXPECT_NE(std::string(e.what()).find("ZeroDivisionError"), std::string::npos) << e.what();
    EXPECT_TRUE(e.task() == task);
    EXPECT_EQ(e.status(), TaskStatus::FAILED);
    EXPECT_EQ(e.task().status(), TaskStatus::FAILED);
  }
  EXPECT_EQ(task.status(), TaskStatus::FAILED);
  ASSERT_TRUE(task.error().has_value());
  EXPECT_NE(task.error()->find("ZeroDivisionError"), std::string::npos);
  EXPECT_NE(task.error()->find("Traceback"), std::string::npos);
  EXPECT_TRUE(task.outputs().empty());
}

TEST(PythonService, WaitForWithTimeout) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("import time\ntime.sleep(0.5)\n'slept'");
  EXPECT_FALSE(task.wait_for(20ms));  // starts it, too
  EXPECT_NE(task.status(), TaskStatus::INITIAL);
  EXPECT_TRUE(task.wait_for(30s));
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  EXPECT_EQ(task.result().get<std::string>(), "slept");
  EXPECT_TRUE(task.wait_for(0ms));  // finished: true at once

  Task failing = service.task("raise ValueError('nope')");
  EXPECT_THROW(failing.wait_for(30s), TaskException);  // finished in error: throws like wait_for()
}

TEST(PythonService, ConcurrentWaitersStartTheTaskOnce) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("task.update(message='once')\n3");
  std::atomic<int> updates{0};
  task.listen([&](const TaskEvent& e) {
    if (e.response_type == ResponseType::UPDATE) ++updates;
  });
  std::vector<std::thread> waiters;
  std::atomic<int> done{0};
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      if (task.wait_for().result().get<int>() == 3) ++done;
    });
  }
  for (auto& t : waiters)
    t.join();
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(updates.load(), 1);  // one EXECUTE was sent
}

// ---------------------------------------------------------------------------------------------
// Crashes

TEST(PythonService, CrashReportHasExitCodeAndOutput) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // The plain channel, where a print lands on the protocol's stdout (the peers' layout).
  Service service = peer_env().python(Channel::plain_stdio);
  Task task = service.task(
      "import os, sys\n"
      "print('not-json-marker', flush=True)\n"
      "sys.stderr.write('stderr-marker\\n'); sys.stderr.flush()\n"
      "os._exit(3)\n");
  auto crash_events = std::make_shared<std::atomic<int>>(0);
  task.listen([crash_events](const TaskEvent& e) {
    if (e.response_type == ResponseType::CRASH) ++*crash_events;
  });
  try {
    task.wait_for();
    FAIL() << "wait_for() should have thrown";
  } catch (const TaskException& e) {
    EXPECT_TRUE(starts_with(e.what(), "Task crashed: Worker crashed with exit code 3."))
        << e.what();
  }
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  EXPECT_EQ(crash_events->load(), 1);
  std::string error = task.error().value_or("");
  EXPECT_TRUE(starts_with(error, "Worker crashed with exit code 3.\n\n[stdout]\n")) << error;
  auto stdout_at = error.find("[stdout]\n"), stderr_at = error.find("\n[stderr]\n");
  ASSERT_NE(stderr_at, std::string::npos) << error;
  EXPECT_NE(error.find("not-json-marker"), std::string::npos);
  EXPECT_LT(error.find("not-json-marker"), stderr_at);  // in the [stdout] section
  EXPECT_GT(error.find("stderr-marker"), stderr_at);    // in the [stderr] section
  EXPECT_LT(stdout_at, stderr_at);
  EXPECT_EQ(error.back(), '\n');
  EXPECT_EQ(service.wait_for(), 3);
  EXPECT_FALSE(service.is_alive());
}

TEST(PythonService, CrashWithNoOutputSaysNone) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // Silence the worker's numpy warning so that both sections are empty.
  Service service = peer_env().python();
  service.init("import sys, io\nsys.stderr = io.StringIO()");
  Task task = service.task("import os\nos._exit(4)");
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_EQ(task.error().value_or(""),
            "Worker crashed with exit code 4.\n\n[stdout]\n<none>\n\n[stderr]\n<none>\n");
}

TEST(PythonService, CrashDetectionLatencyWithGrandchildHoldingStdout) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  // The grandchild inherits the worker's stdout and stderr and keeps them open for 5 s: the
  // crash must not wait for their EOF. time.monotonic_ns() reads CLOCK_MONOTONIC, the clock of
  // std::chrono::steady_clock on Linux.
  Task task = service.task(
      "import subprocess, os, sys, time\n"
      "subprocess.Popen(['sleep', '5'])\n"
      "sys.stderr.write('exit-at %d\\n' % time.monotonic_ns()); sys.stderr.flush()\n"
      "os._exit(3)\n");
  auto crashed_at = std::make_shared<std::atomic<std::int64_t>>(0);
  task.listen([crashed_at](const TaskEvent& e) {
    if (e.response_type == ResponseType::CRASH) {
      crashed_at->store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count());
    }
  });
  auto t0 = Clock::now();
  EXPECT_THROW(task.wait_for(), TaskException);
  auto wall = Clock::now() - t0;
  ASSERT_EQ(task.status(), TaskStatus::CRASHED);

  std::int64_t exit_at = 0;
  for (const auto& line : service.error_lines()) {
    if (starts_with(line, "exit-at ")) exit_at = std::stoll(line.substr(8));
  }
  ASSERT_GT(exit_at, 0) << task.error().value_or("");
  double latency_ms = static_cast<double>(crashed_at->load() - exit_at) / 1e6;
  std::cout << "[ MEASURE  ] crash detection latency: " << latency_ms << " ms (from the worker's"
            << " last line before _exit to the CRASH event)\n";
  ::testing::Test::RecordProperty("crash_latency_ms", std::to_string(latency_ms));
  EXPECT_GE(latency_ms, 0.0);
  EXPECT_LT(latency_ms, 500.0);
  EXPECT_LT(wall, 4s) << "the crash waited for the grandchild";
  EXPECT_EQ(service.wait_for(), 3);
}

TEST(PythonService, TasksAfterDeathCrashAtOnce) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  EXPECT_THROW(service.task("import os\nos._exit(3)").wait_for(), TaskException);
  EXPECT_EQ(service.wait_for(), 3);
  EXPECT_FALSE(service.is_alive());

  auto t0 = Clock::now();
  Task late = service.task("1 + 1");
  try {
    late.wait_for();
    FAIL() << "a task on a dead worker must not complete";
  } catch (const TaskException& e) {
    EXPECT_TRUE(starts_with(e.what(), "Task crashed: Worker crashed with exit code 3."))
        << e.what();
  }
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(late.status(), TaskStatus::CRASHED);
  // A timed wait on such a task returns at once, too (and throws, as the task is finished).
  Task later = service.task("2");
  EXPECT_THROW(later.wait_for(10s), TaskException);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(PythonService, KillCrashesPendingTasks) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("import time\ntime.sleep(100)");
  start_and_await_launch(task);
  EXPECT_EQ(task.status(), TaskStatus::RUNNING);
  EXPECT_TRUE(service.is_alive());
  service.kill();
  EXPECT_EQ(service.wait_for(), -SIGKILL);
  // wait_for() returns after the pending tasks were crashed.
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  EXPECT_TRUE(starts_with(task.error().value_or(""), "Worker crashed with exit code -9."));
  EXPECT_FALSE(service.is_alive());
  EXPECT_THROW(task.wait_for(), TaskException);
  service.kill();  // after exit: no effect
}

TEST(PythonService, WriteToDeadWorkerCrashesTheTaskWithoutSigpipe) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // SIGPIPE's default action (termination), whatever the harness set: a SIGPIPE raised by the
  // library would kill this test. No handler is installed.
  struct sigaction dfl {
  }, old{};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);

  // A worker that cannot read requests any more (its stdin closed) but stays alive: the write
  // fails with EPIPE and the service must turn that into a crash rather than a hang.
  Lines debug;
  Service service = peer_env().python(
      {"-c",
       "import os, sys, time\nos.close(0)\nprint('stdin-closed', file=sys.stderr, "
       "flush=True)\ntime.sleep(60)"});
  service.debug(debug.sink());
  service.start();
  ASSERT_TRUE(debug.wait_for({"[WORKER-", "stdin-closed"}));
  Task task = service.task("1");
  auto t0 = Clock::now();
  EXPECT_THROW(task.wait_for(), TaskException);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(task.status(), TaskStatus::CRASHED);
  EXPECT_TRUE(starts_with(task.error().value_or(""), "Worker crashed with exit code -9."))
      << task.error().value_or("");
  EXPECT_EQ(service.wait_for(), -SIGKILL);
  ::sigaction(SIGPIPE, &old, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Listeners, logs, debug

TEST(PythonService, ThrowingListenerIsLoggedAndTaskCompletes) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Lines log;
  Service service = peer_env().python();
  service.log(log.sink());
  Task task = service.task("6 * 7");
  std::atomic<int> calls{0};
  task.listen([](const TaskEvent&) { throw std::runtime_error("listener-boom"); });
  task.listen([&](const TaskEvent&) { ++calls; });  // later listeners still run
  task.wait_for();
  EXPECT_EQ(task.result().get<int>(), 42);
  EXPECT_EQ(calls.load(), 2);  // LAUNCH, COMPLETION
  EXPECT_TRUE(log.wait_for({"listener-boom", task.id()}));
  EXPECT_TRUE(service.invalid_lines().empty());
}

TEST(PythonService, DebugCallbackSeesServiceAndWorkerLines) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Lines debug;
  Service service = peer_env().python();
  service.debug(debug.sink());
  service.task("import sys\nsys.stderr.write('to-stderr\\n'); sys.stderr.flush()\n5").wait_for();
  EXPECT_TRUE(debug.wait_for({"[WORKER-", "to-stderr"}));
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "EXECUTE"}));     // a request written
  EXPECT_TRUE(debug.wait_for({"[SERVICE-", "COMPLETION"}));  // a response read
  for (const auto& line : debug.all()) {
    EXPECT_TRUE(starts_with(line, "[SERVICE-") || starts_with(line, "[WORKER-")) << line;
  }
  // Once Service::wait_for() has returned, every callback about the worker's output has run:
  // its last stderr line is there without waiting.
  Task last = service.task("import sys\nsys.stderr.write('last-words\\n'); sys.stderr.flush()");
  last.wait_for();
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  auto lines = debug.all();
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) {
                           return l.find("[WORKER-") == 0 && l.find("last-words") != l.npos;
                         }),
            lines.end());
}

TEST(PythonService, WorkerInfoIsEmptyFor012) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  EXPECT_FALSE(service.worker_info().has_value());
  service.task("1").wait_for();
  EXPECT_FALSE(service.worker_info().has_value());  // 0.12 workers send no HELLO
}

TEST(PythonService, NonJsonStdoutLinesAreKept) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python(Channel::plain_stdio);
  Task task = service.task("print('hello')\nprint('{not json')\n42");
  task.wait_for();
  EXPECT_EQ(task.result().get<int>(), 42);
  auto invalid = service.invalid_lines();
  EXPECT_NE(std::find(invalid.begin(), invalid.end(), "hello"), invalid.end());
  EXPECT_NE(std::find(invalid.begin(), invalid.end(), "{not json"), invalid.end());
}

TEST(PythonService, NanInUpdateInfoLosesNothing) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task(
      "task.update(message='a', info={'loss': float('nan'), 'inf': float('-inf')})\n"
      "task.update(message='b', current=1, maximum=2, info={'loss': 0.5})\n"
      "task.update(message='c', current=2, maximum=2)\n"
      "task.outputs['ok'] = True\n");
  std::mutex mu;
  std::vector<TaskEvent> updates;
  task.listen([&](const TaskEvent& e) {
    std::lock_guard lock(mu);
    if (e.response_type == ResponseType::UPDATE) updates.push_back(e);
  });
  task.wait_for();
  EXPECT_EQ(task.outputs().at("ok").get<bool>(), true);
  std::lock_guard lock(mu);
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_TRUE(std::isnan(updates[0].info.at("loss").get<double>()));
  EXPECT_EQ(updates[0].info.at("inf").get<double>(), -INFINITY);
  EXPECT_EQ(updates[1].info.at("loss").get<double>(), 0.5);
  EXPECT_EQ(updates[2].message, "c");
  EXPECT_TRUE(updates[2].info.is_null());
  EXPECT_EQ(task.message(), "c");
  EXPECT_EQ(task.current(), 2);
  EXPECT_TRUE(service.invalid_lines().empty());
}

// ---------------------------------------------------------------------------------------------
// Configuration: queue, init, env

TEST(PythonService, MainQueueRunsOnTheMainThread) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  const std::string script =
      "import threading\nthreading.current_thread() is threading.main_thread()";
  Task main_task = service.task(script, {}, "main");
  EXPECT_EQ(main_task.queue(), std::optional<std::string>("main"));
  EXPECT_TRUE(main_task.wait_for().result().get<bool>());
  EXPECT_FALSE(service.task(script).wait_for().result().get<bool>());
}

TEST(PythonService, InitScriptExportsToTasks) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.init("import math\nGOLDEN = 1.618");
  EXPECT_DOUBLE_EQ(service.task("GOLDEN").wait_for().result().get<double>(), 1.618);
  EXPECT_DOUBLE_EQ(service.task("math.sqrt(4)").wait_for().result().get<double>(), 2.0);
  EXPECT_THROW(service.init("x = 1"), Error);  // started
  EXPECT_THROW(service.env({{"A", "1"}}), Error);
}

TEST(PythonService, EnvironmentVariablesSetAndUnset) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ASSERT_EQ(::setenv("APPOSE_TEST_INHERITED_UNSET", "present", 1), 0);
  Service service = peer_env().python();
  service.env({{"APPOSE_TEST_VAR", "x"}, {"APPOSE_TEST_INHERITED_UNSET", std::nullopt}});
  Task task = service.task(
      "import os\n"
      "{'var': os.environ.get('APPOSE_TEST_VAR'),\n"
      " 'unset': os.environ.get('APPOSE_TEST_INHERITED_UNSET', 'absent'),\n"
      " 'conda': os.environ.get('CONDA_PREFIX', 'absent')}");
  task.wait_for();
  ::unsetenv("APPOSE_TEST_INHERITED_UNSET");
  EXPECT_EQ(task.outputs().at("var").get<std::string>(), "x");
  EXPECT_EQ(task.outputs().at("unset").get<std::string>(), "absent");
  EXPECT_EQ(task.outputs().at("conda").get<std::string>(), "absent");
}

// ---------------------------------------------------------------------------------------------
// Size and concurrency

TEST(PythonService, FiftyMegabyteInput) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  const std::size_t size = 50u << 20;
  std::string big(size, 'a');
  big[size / 2] = 'b';
  Task task = service.task("{'n': len(s), 'b': s.index('b')}", {{"s", std::move(big)}});
  task.wait_for();
  EXPECT_EQ(task.outputs().at("n").get<std::size_t>(), size);
  EXPECT_EQ(task.outputs().at("b").get<std::size_t>(), size / 2);
}

TEST(PythonService, HundredConcurrentTasksFromSeveralThreads) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  constexpr int kTasks = 100, kThreads = 4;
  std::vector<Task> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(service.task("import time\ntime.sleep(0.01)\nx * x", {{"x", i}}));
  }
  std::vector<std::thread> starters;
  for (int t = 0; t < kThreads; ++t) {
    starters.emplace_back([&, t] {
      for (int i = t; i < kTasks; i += kThreads)
        tasks[static_cast<std::size_t>(i)].start();
    });
  }
  for (auto& s : starters)
    s.join();
  for (int i = 0; i < kTasks; ++i) {
    auto& task = tasks[static_cast<std::size_t>(i)];
    task.wait_for();
    EXPECT_EQ(task.result().get<int>(), i * i);
  }
  EXPECT_TRUE(service.invalid_lines().empty());
}

TEST(PythonService, ThreeThousandShortTasksNoneLost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // The Python worker glues concurrent responses on one line and emits blank lines: the
  // service must still see every response.
  Service service = peer_env().python();
  constexpr int kTasks = 3000;
  std::vector<Task> tasks;
  tasks.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i)
    tasks.push_back(service.task("x * 2", {{"x", i}}));
  for (auto& task : tasks)
    task.start();
  int wrong = 0, lost = 0;
  for (int i = 0; i < kTasks; ++i) {
    auto& task = tasks[static_cast<std::size_t>(i)];
    if (!task.wait_for(60s)) {
      ++lost;
      continue;
    }
    if (task.result().get<int>() != 2 * i) ++wrong;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(service.invalid_lines().empty())
      << service.invalid_lines().size() << " invalid, first: " << service.invalid_lines()[0];
}

// ---------------------------------------------------------------------------------------------
// Shared memory

TEST(PythonService, NDArrayInput) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  NDArray data(DType::float32, Shape{1000});
  auto values = data.span<float>();
  double expected = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(i) * 0.5f;
    expected += values[i];
  }
  Task task = service.task("float(data.ndarray().sum())", {{"data", data}});
  task.wait_for();
  EXPECT_NEAR(task.result().get<double>(), expected, 1e-3);
}

TEST(PythonService, NDArrayOutputIsOwnedByTheHost) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  std::string name;
  {
    Task task = service.task(
        "from appose import NDArray\n"
        "a = NDArray('float64', [4, 5])\n"
        "a.ndarray()[:] = 7\n"
        "task.outputs['a'] = a\n");
    task.wait_for();
    NDArray a = task.outputs().at("a").get<NDArray>();
    EXPECT_EQ(a.dtype(), DType::float64);
    EXPECT_EQ(a.shape(), (Shape{4, 5}));
    auto v = a.span<double>();
    ASSERT_EQ(v.size(), 20u);
    for (double x : v)
      EXPECT_EQ(x, 7.0);
    name = a.shm().name();
    EXPECT_TRUE(test::shm_block_exists(name));
  }
  // Task and NDArray handles dropped: the host owned the block and has unlinked it.
  EXPECT_FALSE(test::shm_block_exists(name)) << name << " was left behind";
}

TEST(PythonService, ReturnedInputArrayKeepsItsOwner) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  NDArray data(DType::int32, Shape{3});
  std::string name = data.shm().name();
  {
    Task task =
        service.task("data.ndarray()[:] = 5\ntask.outputs['same'] = data", {{"data", data}});
    task.wait_for();
    NDArray same = task.outputs().at("same").get<NDArray>();
    EXPECT_EQ(same.shm().name(), name);
  }
  // Dropping the output did not destroy the caller's input block.
  EXPECT_TRUE(test::shm_block_exists(name));
  for (int x : data.span<std::int32_t>())
    EXPECT_EQ(x, 5);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

TEST(PythonService, IsAliveAndPid) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  EXPECT_FALSE(service.is_alive());
  EXPECT_EQ(service.pid(), -1);
  EXPECT_THROW(service.wait_for(), Error);  // not started
  service.start();
  service.start();  // harmless
  EXPECT_TRUE(service.is_alive());
  EXPECT_GT(service.pid(), 0);
  EXPECT_FALSE(service.wait_for(10ms).has_value());
  service.close();
  EXPECT_EQ(service.wait_for(30s), std::optional<int>(0));
  EXPECT_FALSE(service.is_alive());
}

TEST(PythonService, CloseLetsRunningTasksFinish) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("import time\ntime.sleep(0.2)\n'finished'");
  start_and_await_launch(task);
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  EXPECT_EQ(task.status(), TaskStatus::COMPLETE);
  EXPECT_EQ(task.result().get<std::string>(), "finished");
}

TEST(PythonService, CloseRightAfterManyTasksLosesNoCompletion) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // The worker answers the last tasks just before it exits on EOF: those responses are still in
  // the pipe when its exit is noticed, and must be read rather than crashed.
  Service service = peer_env().python();
  std::vector<Task> tasks;
  for (int i = 0; i < 200; ++i) {
    tasks.push_back(service.task("{'y': x + 1, 'pad': 'p' * 2000}", {{"x", i}}));
    tasks.back().start();
  }
  service.close();
  EXPECT_EQ(service.wait_for(), 0);
  for (int i = 0; i < 200; ++i) {
    auto& task = tasks[static_cast<std::size_t>(i)];
    ASSERT_EQ(task.status(), TaskStatus::COMPLETE) << i << ": " << task.error().value_or("");
    EXPECT_EQ(task.outputs().at("y").get<int>(), i + 1);
  }
}

TEST(PythonService, TaskOnClosedServiceThrows) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service.task("1").wait_for();
  service.close();
  Task task = service.task("2");
  EXPECT_THROW(task.start(), Error);
  EXPECT_EQ(task.status(), TaskStatus::INITIAL);
  EXPECT_EQ(service.wait_for(), 0);
  EXPECT_THROW(task.start(), Error);  // still closed, worker gone
  EXPECT_THROW(service.task("3").wait_for(), Error);
  // Several threads waiting for one task that cannot start: each gets the error, none hangs.
  Task shared = service.task("4");
  std::atomic<int> threw{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      try {
        shared.wait_for();
      } catch (const Error&) {
        ++threw;
      }
    });
  }
  for (auto& w : waiters)
    w.join();
  EXPECT_EQ(threw.load(), 4);

  Service never = peer_env().python();
  never.close();
  EXPECT_THROW(never.task("1").wait_for(), Error);
  EXPECT_EQ(never.pid(), -1);
}

TEST(PythonService, DroppingLastHandlesStopsAStuckWorker) {
  APPOSE_REQUIRE_PYTHON_PEER();
  std::int64_t pid = -1;
  auto t0 = Clock::now();
  {
    Service service = peer_env().python();
    service.shutdown_grace(200ms);
    Task task = service.task("import time\ntime.sleep(100)");
    start_and_await_launch(task);
    pid = service.pid();
    t0 = Clock::now();
  }  // the last handles go: EOF, then (the task never ends) a kill after the grace period
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(wait_exit(pid, 5s)) << "worker " << pid << " still running";
  EXPECT_TRUE(wait_reaped(pid, 5s)) << "worker " << pid << " not reaped";
  auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 150ms) << "killed before its grace period";
  EXPECT_LT(elapsed, 5s);
}

TEST(PythonService, DroppingLastHandlesOfAnIdleWorkerClosesIt) {
  APPOSE_REQUIRE_PYTHON_PEER();
  std::int64_t pid = -1;
  {
    Service service = peer_env().python();  // default grace: 5 s; an idle worker exits on EOF
    EXPECT_EQ(service.task("1").wait_for().result().get<int>(), 1);
    pid = service.pid();
  }
  EXPECT_TRUE(wait_exit(pid, 4s)) << "worker " << pid << " did not exit on EOF";
  EXPECT_TRUE(wait_reaped(pid, 5s));
}

TEST(PythonService, DroppingLastHandleInsideListenerDoesNotDeadlock) {
  APPOSE_REQUIRE_PYTHON_PEER();
  struct Holder {
    std::optional<Service> service;
    std::optional<Task> task;
  };
  auto holder = std::make_shared<Holder>();
  auto dropped = std::make_shared<Signal>();
  std::int64_t pid = -1;
  {
    Service service = peer_env().python();
    Task task = service.task("'bye'");
    task.listen([holder, dropped](const TaskEvent& e) {
      if (e.response_type != ResponseType::COMPLETION) return;
      holder->service.reset();
      holder->task.reset();
      dropped->set();
    });
    holder->service = service;
    holder->task = task;
    task.start();
    pid = service.pid();
  }  // the test's own handles are gone: only the holder (and the event) keep the service
  EXPECT_TRUE(dropped->wait());
  EXPECT_TRUE(wait_exit(pid, 5s)) << "worker " << pid << " still running";
  EXPECT_TRUE(wait_reaped(pid, 5s));
}

}  // namespace
}  // namespace appose
