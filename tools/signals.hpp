#pragma once

// Ctrl-C and SIGTERM for the long-running commands (build, run), handled on an ordinary thread,
// so the reaction (cancel a task, kill a worker, print a line) may call anything, which a
// signal handler could not. POSIX: the signals are blocked in every thread (signals_posix.cpp)
// and read from a signalfd (Linux, signals.cpp) or reported by a kqueue (macOS,
// signals_macos.cpp). Windows (signals_windows.cpp): a console control handler, which Windows
// runs on a thread of its own; Ctrl-C and Ctrl-Break come as SIGINT, closing the console,
// logging off and shutting down as SIGTERM.

#include <functional>
#include <memory>

namespace appose::cli {

/// Blocks SIGINT and SIGTERM in the calling thread (nothing to do on Windows). Call it first thing
/// in a command, before any thread exists (threads inherit the mask; one that did not would take
/// the signal's default action and end the process). Workers and tools do not inherit the mask:
/// appose resets it when it spawns them.
void block_interrupts();

/// Reads SIGINT and SIGTERM (blocked by block_interrupts()) on its own thread and calls
/// `on_signal(signo, interrupts)`, where `interrupts` counts the SIGINTs so far; calls are
/// never concurrent. Signals sent before the watcher starts are delivered when it does (Linux;
/// on macOS they stay pending, unreported: kqueue records only later deliveries; on Windows a
/// Ctrl-C before it starts has the default effect, ending the process). One watcher at a time.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int signo, int interrupts)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  /// The system's part (descriptors and a thread; a registered console handler), defined by
  /// each implementation.
  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace appose::cli
