// A host for the no-orphan test (tests/interop/python_channel_test.cpp): starts a Python
// worker from the virtual environment in argv[1] running a task that sleeps for ten minutes
// (with argv[2] == "no-parent-pid", without APPOSE_PARENT_PID, so without the parent watch),
// waits until the task is RUNNING, prints the worker's pid on stdout, and sleeps until it is
// killed. The test SIGKILLs it and checks that the worker does not outlive it.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <appose/appose.hpp>

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 3 && std::string(argv[2]) == "no-parent-pid")) {
    std::cerr << "usage: orphan_host <venv dir> [no-parent-pid]\n";
    return 2;
  }
  try {
    std::string venv = argv[1];
    appose::Environment env(venv, {venv + "/bin"});
    appose::Service service = env.python();
    if (argc == 3) service.env({{"APPOSE_PARENT_PID", std::nullopt}});
    appose::Task task = service.task("import time\ntime.sleep(600)\n");
    task.start();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (task.status() != appose::TaskStatus::RUNNING) {
      if (std::chrono::steady_clock::now() > deadline || appose::is_finished(task.status())) {
        std::cerr << "the task did not start running: " << appose::to_string(task.status()) << "\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::cout << service.pid() << std::endl;  // endl flushes
    for (;;)
      ::pause();
  } catch (const std::exception& e) {
    std::cerr << "orphan_host: " << e.what() << "\n";
    return 1;
  }
}
