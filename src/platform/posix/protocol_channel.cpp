// POSIX protocol channel: private duplicates of fds 0 and 1, above the standard descriptors
// and close-on-exec, so that neither this process's prints nor its children reach them.

#include "platform/protocol_channel.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <utility>

#include "appose/error.hpp"
#include "platform/posix/unique_fd.hpp"
#include "util/line_reader.hpp"

namespace appose::detail::platform {

namespace {

/// Points fd 0 at /dev/null and fd 1 at stderr (or /dev/null), so that only the private
/// copies lead to the host.
void shield_stdio() noexcept {
  int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_in >= 0) {
    ::dup2(null_in, STDIN_FILENO);
    ::close(null_in);
  }
  // fd 1 now writes to stderr; if there is no stderr, to /dev/null: never to the protocol.
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    int null_out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_out >= 0) {
      ::dup2(null_out, STDOUT_FILENO);
      ::close(null_out);
    }
  }
  // stdout was a pipe (fully buffered): line-buffer it so that the operations' printf and
  // std::cout output reaches the host's error lines as it is written. glibc flushes what was
  // buffered before, to the new fd 1.
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
}

}  // namespace

struct ProtocolChannel::State {
  UniqueFd in, out;
  /// Serialises writers: a pipe write larger than PIPE_BUF may be split, and another thread's
  /// line must not land inside it.
  std::mutex write_mu;
  LineReader lines;
};

ProtocolChannel ProtocolChannel::take_stdio(bool shield) {
  UniqueFd in(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
  int in_error = errno;
  UniqueFd out(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
  if (!in.valid() || !out.valid()) {
    throw Error("cannot duplicate stdin/stdout for the protocol",
                std::error_code(in.valid() ? errno : in_error, std::generic_category()));
  }
  auto state = std::make_unique<State>();
  state->in = std::move(in);
  state->out = std::move(out);
  if (shield) shield_stdio();
  return ProtocolChannel(std::move(state));
}

ProtocolChannel::ProtocolChannel() noexcept = default;
ProtocolChannel::ProtocolChannel(std::unique_ptr<State> state) noexcept
    : state_(std::move(state)) {}
ProtocolChannel::ProtocolChannel(ProtocolChannel&& other) noexcept = default;
ProtocolChannel& ProtocolChannel::operator=(ProtocolChannel&& other) noexcept = default;
ProtocolChannel::~ProtocolChannel() = default;

std::optional<std::string_view> ProtocolChannel::read_line() {
  if (!state_) return std::nullopt;
  const int fd = state_->in.get();
  return state_->lines.next([fd](char* into, std::size_t room) -> std::size_t {
    ssize_t n;
    do {
      n = ::read(fd, into, room);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  });
}

bool ProtocolChannel::line_ready() noexcept {
  return !state_ || state_->lines.ready();
}

bool ProtocolChannel::write_line(std::string line) {
  line.push_back('\n');
  return write_lines(line);
}

bool ProtocolChannel::write_lines(std::string_view data) {
  if (!state_) return false;
  std::lock_guard lock(state_->write_mu);
  while (!data.empty()) {
    ssize_t n = ::write(state_->out.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace appose::detail::platform
