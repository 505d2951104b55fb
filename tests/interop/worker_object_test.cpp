// Service::get_var/put_var/call/proxy and WorkerObject against the real workers: appose-python
// 0.12 (the peer in .peers/venv) and, where it is present, appose-java 0.9.0's Groovy worker.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

using test::peer_env;

/// appose-java 0.9.0's GroovyWorker may report a default-queue task FAILED "thread death"
/// before it starts (a race in its janitor; see groovy_service_test.cpp). Service::get_var,
/// put_var and call use the default queue, so the Groovy test retries them (they are
/// idempotent); proxies use the "main" queue, where the race cannot happen.
using test::retry_thread_death;

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// ---------------------------------------------------------------------------------------------
// Python

TEST(WorkerObjectPython, VariablesAndCalls) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  ASSERT_NE(service.syntax(), nullptr);
  EXPECT_EQ(service.syntax()->name(), "python");

  service.put_var("x", 41);
  EXPECT_EQ(service.get_var("x").get<int>(), 41);
  // The exported variable reaches ordinary tasks, too.
  EXPECT_EQ(service.task("x + 1").wait_for().result().get<int>(), 42);
  service.put_var("words", Array{"a", "b"});
  EXPECT_EQ(service.get_var("words").get<std::vector<std::string>>(),
            (std::vector<std::string>{"a", "b"}));

  EXPECT_EQ(service.call("max", {1, 5, 3}).get<int>(), 5);
  EXPECT_EQ(service.call("len", {"four"}).get<int>(), 4);
  // A worker error surfaces as TaskException.
  EXPECT_THROW(static_cast<void>(service.get_var("no_such_variable")), TaskException);
}

TEST(WorkerObjectPython, ObjectsJsonCannotCarryComeBackAsWorkerObjects) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  Task task = service.task("import datetime\ndatetime.datetime(2024, 5, 17)");
  task.wait_for();
  ASSERT_EQ(task.result().kind(), Value::Kind::worker_object);
  WorkerObject date = task.result().get<WorkerObject>();
  EXPECT_FALSE(date.var_name().empty());
  EXPECT_EQ(date.get("year").get<int>(), 2024);
  EXPECT_EQ(date.get("month").get<int>(), 5);
  EXPECT_EQ(date.call("weekday").get<int>(), 4);  // a Friday; zero-argument method
  EXPECT_EQ(date.call("replace", {2025}).get<WorkerObject>().call("isoformat").get<std::string>(),
            "2025-05-17T00:00:00");
  // A bound method is itself an object; calling it calls the method.
  Value weekday = date.get("weekday");
  ASSERT_EQ(weekday.kind(), Value::Kind::worker_object);
  EXPECT_EQ(weekday.get<WorkerObject>()().get<int>(), 4);
  auto attrs = date.attributes();
  EXPECT_TRUE(contains(attrs, "year"));
  EXPECT_TRUE(contains(attrs, "weekday"));
  EXPECT_THROW(static_cast<void>(date.get("no_such_attribute")), TaskException);
}

TEST(WorkerObjectPython, ProxyOfAnExportedUserObject) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().python();
  service
      .task(
          "class Counter:\n"
          "  def __init__(self): self.n = 0\n"
          "  def inc(self, k): self.n += k; return self\n"
          "  def value(self): return self.n\n"
          "task.export(counter=Counter(), Counter=Counter)\n")
      .wait_for();
  WorkerObject counter = service.proxy("counter");
  EXPECT_EQ(counter.var_name(), "counter");
  Value returned = counter.call("inc", {5});
  ASSERT_EQ(returned.kind(), Value::Kind::worker_object);
  WorkerObject same = returned.get<WorkerObject>();
  EXPECT_NE(same.var_name(), "counter");  // auto-exported under a name of the worker's choosing
  EXPECT_EQ(counter.call("value").get<int>(), 5);
  // The returned handle is the same Counter.
  same.call("inc", {2});
  EXPECT_EQ(counter.call("value").get<int>(), 7);
  EXPECT_EQ(counter.get("n").get<int>(), 7);
  // Calling a callable object: the class itself makes a new Counter.
  WorkerObject fresh = service.proxy("Counter")().get<WorkerObject>();
  EXPECT_EQ(fresh.call("value").get<int>(), 0);
  EXPECT_EQ(counter.call("value").get<int>(), 7);
  // A WorkerObject argument is passed as the object itself, not as its reference.
  EXPECT_TRUE(service.call("isinstance", {counter, service.proxy("Counter")}).get<bool>());
  EXPECT_TRUE(service.call("isinstance", {same, service.proxy("Counter")}).get<bool>());
  service.put_var("alias", counter);  // another name for the same object
  EXPECT_TRUE(service.task("alias is counter").wait_for().result().get<bool>());
  // An object of another service cannot be passed.
  Service other = peer_env().python();
  other.put_var("o", 1);
  EXPECT_THROW(static_cast<void>(service.call("id", {other.proxy("o")})), Error);
  // On the main queue: objects it returns stay there.
  WorkerObject on_main = service.proxy("counter", "main");
  EXPECT_EQ(on_main.queue(), "main");
  WorkerObject derived = on_main.call("inc", {1}).get<WorkerObject>();
  EXPECT_EQ(derived.queue(), "main");
  EXPECT_FALSE(counter.queue().has_value());
  EXPECT_FALSE(same.queue().has_value());
  EXPECT_EQ(derived.call("value").get<int>(), 8);
}

TEST(WorkerObjectPython, ClosedServiceIsAnError) {
  APPOSE_REQUIRE_PYTHON_PEER();
  WorkerObject orphan;
  {
    Service service = peer_env().python();
    service.put_var("v", 3);
    orphan = service.proxy("v");
    EXPECT_EQ(orphan.get("real").get<int>(), 3);
    service.close();
    service.wait_for();
  }
  // The proxy keeps the service (as a Task does), but a closed service runs no task.
  EXPECT_NE(orphan.service(), nullptr);
  EXPECT_THROW(static_cast<void>(orphan.get("real")), Error);
  EXPECT_THROW(orphan.call("bit_length"), Error);
  EXPECT_THROW(orphan(), Error);
  EXPECT_THROW(static_cast<void>(orphan.attributes()), Error);
  // A default-constructed handle has no service at all.
  EXPECT_EQ(WorkerObject().service(), nullptr);
  EXPECT_THROW(static_cast<void>(WorkerObject().get("x")), Error);
}

TEST(WorkerObjectPython, NoSyntaxIsAnError) {
  APPOSE_REQUIRE_PYTHON_PEER();
  Service service = peer_env().service(
      {"python"}, {"-c", "import appose.python_worker; appose.python_worker.main()"});
  EXPECT_EQ(service.syntax(), nullptr);
  try {
    static_cast<void>(service.get_var("x"));
    FAIL() << "get_var() without a syntax must throw";
  } catch (const TaskException&) {
    FAIL() << "must be refused before any task runs";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("syntax"), std::string::npos) << e.what();
  }
  EXPECT_THROW(service.put_var("x", 1), Error);
  EXPECT_THROW(static_cast<void>(service.call("max", {1, 2})), Error);
  EXPECT_THROW(static_cast<void>(service.proxy("x")), Error);
  // Naming the syntax makes them work.
  service.syntax("python");
  service.put_var("x", 2);
  EXPECT_EQ(service.get_var("x").get<int>(), 2);
  EXPECT_THROW(service.syntax("cobol"), Error);
}

// ---------------------------------------------------------------------------------------------
// Groovy (appose-java 0.9.0)

TEST(WorkerObjectGroovy, VariablesCallsAndProxies) {
  APPOSE_REQUIRE_JAVA_PEER();
  Service service = Environment(".").groovy(*test::peer_java_classpath());
  ASSERT_NE(service.syntax(), nullptr);
  EXPECT_EQ(service.syntax()->name(), "groovy");

  retry_thread_death([&] {
    service.put_var("x", 41);
    return 0;
  });
  EXPECT_EQ(retry_thread_death([&] { return service.get_var("x"); }).get<int>(), 41);
  EXPECT_EQ(service.task("x + 1", {}, "main").wait_for().result().get<int>(), 42);
  EXPECT_EQ(retry_thread_death([&] { return service.call("Math.max", {3, 7}); }).get<int>(), 7);

  // A proxy of an exported object (a JSON-compatible one: 0.9.0 does not auto-export objects).
  retry_thread_death([&] {
    service.put_var("s", "hello");
    return 0;
  });
  WorkerObject s = service.proxy("s", "main");
  EXPECT_EQ(s.queue(), "main");
  EXPECT_EQ(s.call("toUpperCase").get<std::string>(), "HELLO");
  EXPECT_EQ(s.call("substring", {1, 3}).get<std::string>(), "el");
  EXPECT_EQ(s.get("bytes").size(), 5u);  // a Groovy property: getBytes()
  auto attrs = s.attributes();
  EXPECT_TRUE(contains(attrs, "toUpperCase"));
  EXPECT_TRUE(contains(attrs, "length"));
}

}  // namespace
}  // namespace appose
