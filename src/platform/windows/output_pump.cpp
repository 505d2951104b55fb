// The output pump on Windows: one overlapped read outstanding on each output pipe, and one
// WaitForMultipleObjects over the reads' events, the process handle and the wake event, with
// the caller's deadline as timeout: the shape of the POSIX poll() loop.
//
// Overlapped reads rather than a blocking reader thread per pipe: a read that a grandchild's
// open pipe keeps waiting forever must be ended when the drain is cut short, and only an
// overlapped read can be cancelled without a race (CancelSynchronousIo misses a thread that
// is about to call ReadFile, and closing a handle with a synchronous read pending blocks).
// Process::spawn opens our ends of the output pipes for overlapped I/O for this reason.

#include "platform/output_pump.hpp"
#include "platform/pump_schedule.hpp"

#include <algorithm>
#include <string_view>
#include <system_error>

#include "appose/error.hpp"
#include "platform/windows/process_native.hpp"

namespace appose::detail::platform {

namespace {

using Clock = PumpHandler::Clock;

constexpr std::size_t kReadSize = std::size_t{64} << 10;

DWORD wait_timeout(Clock::duration wait) noexcept {
  if (wait <= Clock::duration::zero()) return 0;
  // Rounded up: rounding down would wake the wait just before the deadline and spin on 0 ms.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<DWORD>(std::min<decltype(ms)>(ms, INFINITE - 1));
}

/// One output pipe: its line splitter and its outstanding read. A read still outstanding when
/// the reader is destroyed (the drain cut short, or the handler threw) is cancelled and waited
/// for, since it writes into this object.
class Reader {
 public:
  Reader(OutputStream id, HANDLE pipe, const LineSplitter::Options& options, PumpHandler& handler)
      : id_(id),
        pipe_(pipe),
        lines_(options),
        sink_([&handler, id](std::string& line, std::size_t dropped) {
          handler.line(id, line, dropped);
        }),
        handler_(handler),
        open_(pipe != nullptr && pipe != INVALID_HANDLE_VALUE),
        buffer_(open_ ? kReadSize : 0, '\0') {
    if (!open_) return;
    event_.reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    if (!event_.valid()) throw Error("cannot wait for the child's output", win32::last_error());
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { cancel(); }

  [[nodiscard]] bool open() const noexcept { return open_; }
  /// The event to wait on while a read is outstanding; null otherwise.
  [[nodiscard]] HANDLE waitable() const noexcept { return pending_ ? event_.get() : nullptr; }

  /// Starts a read unless one is outstanding. A pipe that is already at its end is closed.
  void start() {
    if (!open_ || pending_) return;
    overlapped_ = {};
    overlapped_.hEvent = event_.get();
    // The result of a read that completes at once is also taken from GetOverlappedResult():
    // the event is signalled either way.
    if (::ReadFile(pipe_, buffer_.data(), static_cast<DWORD>(buffer_.size()), nullptr,
                   &overlapped_) ||
        ::GetLastError() == ERROR_IO_PENDING) {
      pending_ = true;
    } else {
      close();
    }
  }

  /// Takes the outstanding read's result if it has completed: lines, or the end of the pipe.
  void collect() {
    if (!pending_) return;
    DWORD got = 0;
    if (::GetOverlappedResult(pipe_, &overlapped_, &got, FALSE)) {
      pending_ = false;
      // A zero-byte read is a zero-byte write of the child's, not the end of the pipe.
      if (got > 0) lines_.feed(std::string_view(buffer_.data(), got), sink_);
    } else if (::GetLastError() != ERROR_IO_INCOMPLETE) {
      // ERROR_BROKEN_PIPE: every writer is gone. Anything else ends the stream too.
      pending_ = false;
      close();
    }
  }

  /// The end of reading (the drain is over): an outstanding read is cancelled, what it had
  /// read by then is given, and the unfinished last line.
  void finish() {
    if (!open_) return;
    if (pending_ && cancel()) lines_.feed(std::string_view(buffer_.data(), cancelled_got_), sink_);
    lines_.finish(sink_);
  }

 private:
  void close() {
    open_ = false;
    lines_.finish(sink_);
    handler_.closed(id_);
  }

  /// Cancels the outstanding read and waits for it; whether it had read anything.
  bool cancel() noexcept {
    if (!pending_) return false;
    pending_ = false;
    ::CancelIoEx(pipe_, &overlapped_);
    DWORD got = 0;
    // Waits for the read to end: cancelled, or completed just before.
    const bool completed = ::GetOverlappedResult(pipe_, &overlapped_, &got, TRUE) != FALSE;
    cancelled_got_ = completed ? got : 0;
    return cancelled_got_ > 0;
  }

  OutputStream id_;
  HANDLE pipe_;
  LineSplitter lines_;
  LineSplitter::Sink sink_;
  PumpHandler& handler_;
  bool open_;
  bool pending_ = false;
  win32::UniqueHandle event_;
  OVERLAPPED overlapped_{};
  DWORD cancelled_got_ = 0;
  std::string buffer_;
};

bool signalled(HANDLE h) noexcept {
  return ::WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
}

}  // namespace

PumpResult pump_output(Process& process, const PumpOptions& options, PumpHandler& handler) {
  const Process::Native* native = process.native();
  if (native == nullptr) throw Error("cannot read the output of a process that was not started");
  Reader out(OutputStream::out, native->stdout_pipe.get(), options.out, handler);
  Reader err(OutputStream::err, native->stderr_pipe.get(), options.err, handler);
  Reader* const readers[2] = {&out, &err};
  const HANDLE child = native->process.get();
  HANDLE wake =
      options.wake != nullptr ? reinterpret_cast<HANDLE>(options.wake->native_handle()) : nullptr;
  PumpSchedule schedule(options, handler);
  // Reaped already: its handle is gone, and so is any doubt that it has exited.
  if (child == nullptr) schedule.note_exit();

  while (out.open() || err.open() || !schedule.exited()) {
    const PumpSchedule::Step step = schedule.next();
    if (step == PumpSchedule::Step::timer_ran) continue;
    if (step == PumpSchedule::Step::stop) break;
    const bool exited = schedule.exited();

    for (Reader* r : readers)
      r->start();
    // Both pipes may have ended just now, after the child.
    if (exited && !out.open() && !err.open()) break;
    HANDLE handles[4];
    DWORD n = 0;
    for (Reader* r : readers) {
      if (HANDLE h = r->waitable()) handles[n++] = h;
    }
    // Never empty: before the exit the child is in it, afterwards an open pipe's read.
    if (!exited) handles[n++] = child;
    if (wake != nullptr) handles[n++] = wake;

    const auto wait = schedule.wait();
    const DWORD ready =
        ::WaitForMultipleObjects(n, handles, FALSE, wait ? wait_timeout(*wait) : INFINITE);
    if (ready == WAIT_FAILED) {
      throw Error("cannot wait for the child's output", win32::last_error());
    }
    if (ready == WAIT_TIMEOUT && schedule.timeout_ends_drain()) break;

    // Whatever is ready, not only the first handle the wait names, so that a busy stdout
    // cannot starve stderr or hide the exit.
    for (Reader* r : readers)
      r->collect();
    if (wake != nullptr && signalled(wake)) {
      // Never reset: it stays signalled for the other waits that include it.
      wake = nullptr;
      handler.woken();
    }
    if (!exited && signalled(child)) schedule.note_exit();
  }

  out.finish();
  err.finish();
  return {!out.open() && !err.open()};
}

}  // namespace appose::detail::platform
