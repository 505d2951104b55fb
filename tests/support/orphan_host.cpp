// A host for the no-orphan tests (tests/support/orphans.hpp): starts a worker, waits until it
// is busy, prints the worker's pid on stdout, and sleeps until it is killed. The tests SIGKILL
// it and check that the worker's process group does not outlive it.
//
//   orphan_host [--no-parent-pid] python <venv>        a Python task sleeping ten minutes
//   orphan_host [--no-parent-pid] groovy <classpath>   a Groovy task sleeping ten minutes
//   orphan_host [--no-parent-pid] command <argv...>    a plain command as the worker
//   orphan_host commands <n> <argv...>                  a worker that ended (reaped, its own
//       child left running), then n of the command; prints all their pids on one line
//
// --no-parent-pid unsets APPOSE_PARENT_PID for the worker, which opts it out of the host
// watch (the negative control). The Python channel follows APPOSE_PRIVATE_CHANNEL as usual.

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <appose/appose.hpp>

#include "platform/process.hpp"

namespace {

int usage() {
  std::cerr << "usage: orphan_host [--no-parent-pid] (python <venv> | groovy <classpath> | "
               "command <argv...> | commands <n> <argv...>)\n";
  return 2;
}

/// Waits until `task` runs, so the worker is busy (not idle at EOF) when the host dies.
bool wait_running(appose::Task& task) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (task.status() != appose::TaskStatus::RUNNING) {
    if (std::chrono::steady_clock::now() > deadline || appose::is_finished(task.status())) {
      std::cerr << "the task did not start running: " << appose::to_string(task.status()) << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool parent_pid = true;
  if (!args.empty() && args[0] == "--no-parent-pid") {
    parent_pid = false;
    args.erase(args.begin());
  }
  if (args.size() < 2) return usage();
  const std::string mode = args[0];
  try {
    std::optional<appose::Service> service;
    std::optional<appose::Task> task;
    if (mode == "python") {
      const std::string& venv = args[1];
      service = appose::Environment(venv, {venv + "/bin"}).python();
      task = service->task("import time\ntime.sleep(600)\n");
    } else if (mode == "groovy") {
      service = appose::Environment(".").groovy({args[1]});
      task = service->task("sleep(600000)", {}, "main");
    } else if (mode == "commands") {
      // One lifeline guards every worker of a host: at our death it must kill the n live
      // groups, and leave alone the group of the worker that ended (reaped: off its list),
      // whose child runs on. The platform layer, since a Service kills what its worker leaves.
      using appose::detail::platform::Process;
      appose::detail::platform::SpawnOptions options;
      options.kill_with_host = true;
      options.argv = {"/bin/sh", "-c", "sleep 600 >/dev/null 2>&1 & exit 0"};
      Process ended = Process::spawn(options);
      if (ended.wait() != 0) return 1;
      std::string pids = std::to_string(ended.pid());
      std::vector<Process> live;
      options.argv.assign(args.begin() + 2, args.end());
      for (int i = std::stoi(args[1]); i > 0; --i) {
        live.push_back(Process::spawn(options));
        pids += " " + std::to_string(live.back().pid());
      }
      std::cout << pids << std::endl;
      for (;;)
        ::pause();
    } else if (mode == "command") {
      appose::ServiceConfig config;
      config.command.assign(args.begin() + 1, args.end());
      service.emplace(std::move(config));
    } else {
      return usage();
    }
    if (!parent_pid) service->env({{"APPOSE_PARENT_PID", std::nullopt}});
    service->start();
    if (task) {
      task->start();
      if (!wait_running(*task)) return 1;
    }
    std::cout << service->pid() << std::endl;  // endl flushes
    for (;;)
      ::pause();
  } catch (const std::exception& e) {
    std::cerr << "orphan_host: " << e.what() << "\n";
    return 1;
  }
}
