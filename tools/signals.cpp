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

namespace appose::cli {

namespace {

sigset_t interrupt_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_interrupts() {
  sigset_t set = interrupt_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::function<void(int, int)> on_signal)
    : on_signal_(std::move(on_signal)) {
  sigset_t set = interrupt_set();
  signal_fd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (signal_fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    int err = errno;
    ::close(signal_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  thread_ = std::thread([this] { loop(); });
}

SignalWatcher::~SignalWatcher() {
  std::uint64_t one = 1;
  // A failed write would leave the thread polling for ever; eventfd writes of 1 cannot fail
  // short of overflow, so the result is only checked to satisfy the compiler.
  [[maybe_unused]] ssize_t w = ::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(signal_fd_);
  ::close(stop_fd_);
}

void SignalWatcher::loop() {
  int interrupts = 0;
  while (true) {
    std::array<pollfd, 2> fds{{{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    signalfd_siginfo info{};
    ssize_t r = ::read(signal_fd_, &info, sizeof info);
    if (r != static_cast<ssize_t>(sizeof info)) continue;
    const int signo = static_cast<int>(info.ssi_signo);
    if (signo == SIGINT) ++interrupts;
    on_signal_(signo, interrupts);
  }
}

}  // namespace appose::cli
