#pragma once

// Ctrl-C and SIGTERM for the long-running commands (build, run), handled on an ordinary thread:
// the signals are blocked in every thread and read from a signalfd, so the reaction (cancel a
// task, kill a worker, print a line) may call anything, which a signal handler could not.

#include <functional>
#include <thread>

namespace appose::cli {

/// Blocks SIGINT and SIGTERM in the calling thread. Call it first thing in a command, before
/// any thread exists (threads inherit the mask; one that did not would take the signal's default
/// action and end the process). Workers and tools do not inherit the mask: appose resets it
/// when it spawns them.
void block_interrupts();

/// Reads SIGINT and SIGTERM (blocked by block_interrupts()) on its own thread and calls
/// `on_signal(signo, interrupts)`, where `interrupts` counts the SIGINTs so far. Signals sent
/// before the watcher starts are delivered when it does.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int signo, int interrupts)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void loop();

  std::function<void(int, int)> on_signal_;
  int signal_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace appose::cli
