// POSIX host watch: a thread blocked in poll() on the host's exit descriptor (a pidfd on Linux
// 5.3+, a kqueue on macOS: platform/posix/exit_fd.hpp) and on a stop pipe; without one, the
// host is looked at four times a second.

#include "platform/parent_watch.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "platform/posix/exit_fd.hpp"
#include "platform/posix/unique_fd.hpp"

namespace appose::detail::platform {

struct ParentWatch::State {
  pid_t host = -1;
  /// Whether the host is the one named in APPOSE_PARENT_PID (else it is the parent).
  bool named = false;
  /// Whether this process leads its own group, which then goes with it.
  bool own_group = false;
  /// Closing the write end wakes the thread, which then returns.
  UniqueFd stop_read, stop_write;
  /// Readable once the host has exited; invalid where the system cannot say (then polled).
  UniqueFd exit_fd;
  std::thread thread;

  /// The host may have died before we looked (then getppid() names a reaper): this checks
  /// again without an exit descriptor.
  [[nodiscard]] bool host_gone() const noexcept {
    if (named) return ::kill(host, 0) != 0 && errno == ESRCH;
    return ::getppid() != host;
  }

  void die() const noexcept {
    if (own_group) ::killpg(0, SIGKILL);
    ::kill(::getpid(), SIGKILL);
  }

  void watch() const noexcept {
    while (true) {
      pollfd fds[2] = {{stop_read.get(), POLLIN, 0}, {exit_fd.get(), POLLIN, 0}};
      int n = ::poll(fds, exit_fd.valid() ? 2 : 1, exit_fd.valid() ? -1 : 250);
      if (n < 0 && errno != EINTR) return;
      if (n > 0 && fds[0].revents != 0) return;  // stopped
      if ((n > 0 && fds[1].revents != 0) || (!exit_fd.valid() && host_gone())) die();
    }
  }
};

ParentWatch::ParentWatch() noexcept = default;

ParentWatch::ParentWatch(std::optional<long> named_host) {
  const long host = named_host ? *named_host : static_cast<long>(::getppid());
  if (host <= 1) return;
  auto state = std::make_unique<State>();
  state->host = static_cast<pid_t>(host);
  state->named = named_host.has_value();
  state->own_group = state->named && ::getpgrp() == ::getpid();
  if (open_pipe(state->stop_read, state->stop_write)) return;
  state->exit_fd = open_exit_fd(state->host);
  if (state->host_gone()) state->die();
  // The state does not move while the thread runs: only the pointer to it does.
  state->thread = std::thread([s = state.get()] { s->watch(); });
  state_ = std::move(state);
}

ParentWatch::ParentWatch(ParentWatch&& other) noexcept = default;

ParentWatch& ParentWatch::operator=(ParentWatch&& other) noexcept {
  if (this != &other) {
    ParentWatch old(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

ParentWatch::~ParentWatch() {
  if (!state_) return;
  state_->stop_write.reset();
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace appose::detail::platform
