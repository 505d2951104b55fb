// The output pump on POSIX: one poll() over the two pipes, the child's exit descriptor (a pidfd
// on Linux, a kqueue on macOS: platform/posix/exit_fd.hpp) and the wake event. Where there is
// none (Linux before 5.3), the exit is checked on a short tick instead.

#include "platform/output_pump.hpp"
#include "platform/pump_schedule.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string_view>
#include <system_error>

#include "appose/error.hpp"
#include "platform/posix/process_native.hpp"

namespace appose::detail::platform {

namespace {

using Clock = PumpHandler::Clock;

/// How often the exit is checked without an exit descriptor.
constexpr auto kExitTick = std::chrono::milliseconds(50);
constexpr std::size_t kReadSize = std::size_t{64} << 10;

int poll_timeout(Clock::duration wait) noexcept {
  if (wait <= Clock::duration::zero()) return 0;
  // Rounded up: rounding down would wake poll() just before the deadline and spin on 0 ms.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

struct Stream {
  OutputStream id;
  int fd;
  LineSplitter lines;
  LineSplitter::Sink sink;
  bool open;
};

}  // namespace

PumpResult pump_output(Process& process, const PumpOptions& options, PumpHandler& handler) {
  const Process::Native* native = process.native();
  if (native == nullptr) throw Error("cannot read the output of a process that was not started");
  auto sink_for = [&handler](OutputStream id) -> LineSplitter::Sink {
    return
        [&handler, id](std::string& line, std::size_t dropped) { handler.line(id, line, dropped); };
  };
  Stream streams[2] = {
      {OutputStream::out, native->stdout_pipe.get(), LineSplitter(options.out),
       sink_for(OutputStream::out), native->stdout_pipe.valid()},
      {OutputStream::err, native->stderr_pipe.get(), LineSplitter(options.err),
       sink_for(OutputStream::err), native->stderr_pipe.valid()},
  };
  const int exit_fd = native->exit_fd.get();
  int wake_fd = options.wake != nullptr ? static_cast<int>(options.wake->native_handle()) : -1;
  PumpSchedule schedule(options, handler);
  std::string buffer(kReadSize, '\0');

  while (streams[0].open || streams[1].open || !schedule.exited()) {
    const PumpSchedule::Step step = schedule.next();
    if (step == PumpSchedule::Step::timer_ran) continue;
    if (step == PumpSchedule::Step::stop) break;
    const bool exited = schedule.exited();

    pollfd fds[4];
    Stream* owners[2] = {};
    nfds_t n = 0;
    for (auto& s : streams) {
      if (!s.open) continue;
      owners[n] = &s;
      fds[n++] = {s.fd, POLLIN, 0};
    }
    const nfds_t n_streams = n;
    const bool watch_exit = !exited && exit_fd >= 0;
    const nfds_t exit_index = n;
    if (watch_exit) fds[n++] = {exit_fd, POLLIN, 0};
    const nfds_t wake_index = n;
    if (wake_fd >= 0) fds[n++] = {wake_fd, POLLIN, 0};

    if (!exited && exit_fd < 0) schedule.bound(kExitTick);
    const auto wait = schedule.wait();

    const int ready = ::poll(fds, n, wait ? poll_timeout(*wait) : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot wait for the child's output",
                  std::error_code(errno, std::generic_category()));
    }
    if (ready == 0 && schedule.timeout_ends_drain()) break;

    for (nfds_t k = 0; k < n_streams; ++k) {
      if (fds[k].revents == 0) continue;
      Stream& s = *owners[k];
      const ssize_t got = ::read(s.fd, buffer.data(), buffer.size());
      if (got > 0) {
        s.lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)), s.sink);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        s.open = false;
        s.lines.finish(s.sink);
        handler.closed(s.id);
      }
    }
    if (wake_fd >= 0 && fds[wake_index].revents != 0) {
      // Never read: it stays readable for the other waits that include it.
      wake_fd = -1;
      handler.woken();
    }
    const bool now_exited = watch_exit ? fds[exit_index].revents != 0
                                       : !exited && exit_fd < 0 && process.exited_unreaped();
    if (now_exited) schedule.note_exit();
  }

  for (auto& s : streams) {
    if (s.open) s.lines.finish(s.sink);
  }
  return {!streams[0].open && !streams[1].open};
}

}  // namespace appose::detail::platform
