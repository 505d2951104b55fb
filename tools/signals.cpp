#include "signals.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <system_error>
#include <thread>
#include <utility>

#include "signals_posix.hpp"

namespace appose::cli {

struct SignalWatcher::State {
  std::function<void(int, int)> on_signal;
  int signal_fd = -1;
  int stop_fd = -1;
  std::thread thread;

  void loop() const {
    int interrupts = 0;
    while (true) {
      std::array<pollfd, 2> fds{{{signal_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}}};
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      signalfd_siginfo info{};
      ssize_t r = ::read(signal_fd, &info, sizeof info);
      if (r != static_cast<ssize_t>(sizeof info)) continue;
      const int signo = static_cast<int>(info.ssi_signo);
      if (signo == SIGINT) ++interrupts;
      on_signal(signo, interrupts);
    }
  }
};

SignalWatcher::SignalWatcher(std::function<void(int, int)> on_signal)
    : state_(std::make_unique<State>()) {
  state_->on_signal = std::move(on_signal);
  sigset_t set = interrupt_set();
  state_->signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (state_->signal_fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  state_->stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (state_->stop_fd < 0) {
    int err = errno;
    ::close(state_->signal_fd);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  state_->thread = std::thread([state = state_.get()] { state->loop(); });
}

SignalWatcher::~SignalWatcher() {
  std::uint64_t one = 1;
  // A failed write would leave the thread polling for ever; eventfd writes of 1 cannot fail
  // short of overflow, so the result is only checked to satisfy the compiler.
  [[maybe_unused]] ssize_t w = ::write(state_->stop_fd, &one, sizeof one);
  state_->thread.join();
  ::close(state_->signal_fd);
  ::close(state_->stop_fd);
}

}  // namespace appose::cli
