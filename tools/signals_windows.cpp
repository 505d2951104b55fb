// Ctrl-C on Windows: a console control handler. Windows calls it on a thread it creates for the
// purpose, not in a signal context, so it may call on_signal directly; a mutex keeps the calls
// one at a time and keeps the watcher alive while one runs.

#include <windows.h>  // lean, without min/max: tools/CMakeLists.txt defines how

#include <csignal>
#include <mutex>
#include <system_error>
#include <utility>

#include "signals.hpp"

namespace appose::cli {

struct SignalWatcher::State {
  std::function<void(int, int)> on_signal;
  int interrupts = 0;
};

namespace {

// A console control handler takes no context argument: the watcher it serves is reached
// through this slot, which the watcher's constructor fills and its destructor empties.
struct Registration {
  std::mutex mu;
  SignalWatcher::State* state = nullptr;  // guarded by mu
};

Registration& registration() {
  static Registration r;
  return r;
}

BOOL WINAPI on_console_event(DWORD type) {
  int signo = 0;
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      signo = SIGINT;
      break;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      signo = SIGTERM;
      break;
    default:
      return FALSE;
  }
  Registration& r = registration();
  std::lock_guard lock(r.mu);
  if (r.state == nullptr) return FALSE;  // the default: end the process
  if (signo == SIGINT) ++r.state->interrupts;
  r.state->on_signal(signo, r.state->interrupts);
  // Handled: Windows does not end the process (except after a close, logoff or shutdown
  // event, whatever the handler returns, once it returns).
  return TRUE;
}

}  // namespace

void block_interrupts() {}

SignalWatcher::SignalWatcher(std::function<void(int, int)> on_signal)
    : state_(std::make_unique<State>()) {
  state_->on_signal = std::move(on_signal);
  {
    Registration& r = registration();
    std::lock_guard lock(r.mu);
    r.state = state_.get();
  }
  if (::SetConsoleCtrlHandler(&on_console_event, TRUE) == 0) {
    const auto error = static_cast<int>(::GetLastError());
    Registration& r = registration();
    std::lock_guard lock(r.mu);
    r.state = nullptr;
    throw std::system_error(error, std::system_category(), "SetConsoleCtrlHandler");
  }
}

SignalWatcher::~SignalWatcher() {
  ::SetConsoleCtrlHandler(&on_console_event, FALSE);
  // Waits for a handler call in progress (it holds the mutex) before the state goes.
  Registration& r = registration();
  std::lock_guard lock(r.mu);
  r.state = nullptr;
}

}  // namespace appose::cli
