// Objects that live in the worker, and a task that will not stop.
//
// Usage: worker_objects_and_cancel <python environment with appose>

#include <appose/appose.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <python environment with appose>\n", argv[0]);
    return 2;
  }
  try {
    appose::Environment env(argv[1], {std::string(argv[1]) + "/bin"});
    appose::Service python = env.python();

    // Values JSON cannot carry stay in the worker; the host gets a handle to them.
    appose::WorkerObject date = python.task("import datetime\ndatetime.date(2024, 5, 17)")
                                    .wait_for()
                                    .result()
                                    .get<appose::WorkerObject>();
    std::printf("year %lld, weekday %lld\n",
                static_cast<long long>(date.get("year").get<std::int64_t>()),
                static_cast<long long>(date.call("weekday").get<std::int64_t>()));

    python.put_var("threshold", 0.5);
    std::printf("threshold in the worker: %g\n", python.get_var("threshold").get<double>());
    std::printf("max computed in the worker: %lld\n",
                static_cast<long long>(python.call("max", {3, 9, 4}).get<std::int64_t>()));

    // A task that ignores cancel requests: ask, then kill the worker after the grace period,
    // then carry on with a fresh worker.
    appose::Task stubborn = python.task("import time\nwhile True: time.sleep(0.1)");
    stubborn.start();
    stubborn.cancel(std::chrono::milliseconds(300));
    try {
      stubborn.wait_for();
    } catch (const appose::TaskException& e) {
      // CRASHED: the worker was killed (its other tasks would have crashed too).
      std::printf("stubborn task: %s\n", std::string(appose::to_string(e.status())).c_str());
    }
    python.restart();
    std::printf(
        "after restart: 2 + 2 = %lld\n",
        static_cast<long long>(python.task("2 + 2").wait_for().result().get<std::int64_t>()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
