// Ctrl-C on macOS, which has neither signalfd nor eventfd: the signals stay blocked in every
// thread (as on Linux), and a kqueue reports them. EVFILT_SIGNAL records every attempt to
// deliver a signal to the process, blocked or not (kqueue(2)); it does not take the signal off
// the pending set, where it stays, harmless: no thread unblocks it, and children start with an
// empty pending set and the mask reset. Deliveries before the kqueue exists are not recorded, so
// a signal sent before the watcher starts is not reported. An EVFILT_USER event on the same
// kqueue stops the watcher thread. The tool may include no header of src/, so this does not
// share the library's kqueue helpers (src/platform/macos/kqueue.hpp).

#include <sys/event.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>
#include <thread>
#include <utility>

#include "signals.hpp"
#include "signals_posix.hpp"

namespace appose::cli {

namespace {

/// The identifier of the EVFILT_USER event that stops the watcher.
constexpr uintptr_t kStopEvent = 1;

/// One change to `kq`, retrying interruptions; throws on failure.
void change(int kq, uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags) {
  struct kevent ev {};
  EV_SET(&ev, ident, filter, flags, fflags, 0, nullptr);
  int rc;
  do {
    rc = ::kevent(kq, &ev, 1, nullptr, 0, nullptr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) throw std::system_error(errno, std::generic_category(), "kevent");
}

}  // namespace

struct SignalWatcher::State {
  std::function<void(int, int)> on_signal;
  int kq = -1;
  std::thread thread;

  void loop() const {
    int interrupts = 0;
    while (true) {
      struct kevent ev {};
      const int n = ::kevent(kq, nullptr, 0, &ev, 1, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (n == 0) continue;
      if (ev.filter == EVFILT_USER) return;
      if (ev.filter != EVFILT_SIGNAL) continue;
      // Several deliveries since the last retrieval count once, as a pending signal does on
      // Linux.
      const int signo = static_cast<int>(ev.ident);
      if (signo == SIGINT) ++interrupts;
      on_signal(signo, interrupts);
    }
  }
};

SignalWatcher::SignalWatcher(std::function<void(int, int)> on_signal)
    : state_(std::make_unique<State>()) {
  state_->on_signal = std::move(on_signal);
  state_->kq = ::kqueue();
  if (state_->kq < 0) throw std::system_error(errno, std::generic_category(), "kqueue");
  try {
    for (int signo : {SIGINT, SIGTERM})  // interrupt_set()
      change(state_->kq, static_cast<uintptr_t>(signo), EVFILT_SIGNAL, EV_ADD, 0);
    change(state_->kq, kStopEvent, EVFILT_USER, EV_ADD | EV_CLEAR, 0);
  } catch (...) {
    ::close(state_->kq);
    throw;
  }
  state_->thread = std::thread([state = state_.get()] { state->loop(); });
}

SignalWatcher::~SignalWatcher() {
  // Triggering a user event registered above cannot fail short of a dead kqueue; the thread
  // would then be stuck in kevent() and join() would hang, so a failure ends the process.
  try {
    change(state_->kq, kStopEvent, EVFILT_USER, 0, NOTE_TRIGGER);
  } catch (...) {
    std::terminate();
  }
  state_->thread.join();
  ::close(state_->kq);
}

}  // namespace appose::cli
