#pragma once

// Reading a child's stdout and stderr line by line until it exits: the one loop for everything
// that runs a child and reads its output (the service's worker, the build tools). It waits
// without polling for output, the child's exit, a wake event and one deadline of the caller's,
// and bounds the drain after the exit, when a descendant may hold the pipes open.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "platform/process.hpp"
#include "platform/wake_event.hpp"
#include "util/line_splitter.hpp"

namespace appose::detail::platform {

/// One of the child's output streams.
enum class OutputStream : std::uint8_t { out, err };

/// What the pump reports, all on the pumping thread, in the order things happen. An exception
/// from any of these ends pump_output() and propagates (the child is left as it is).
class PumpHandler {
 public:
  /// The clock of deadline().
  using Clock = std::chrono::steady_clock;

  PumpHandler() = default;
  PumpHandler(const PumpHandler&) = delete;
  PumpHandler& operator=(const PumpHandler&) = delete;
  virtual ~PumpHandler() = default;

  /// A line of `stream` (see LineSplitter::Sink for `line` and `dropped`).
  virtual void line(OutputStream stream, std::string& line, std::size_t dropped) = 0;
  /// `stream` reached EOF; its last line was given first.
  virtual void closed(OutputStream /*stream*/) {}
  /// The child has exited. It is not reaped: until the caller reaps it, its id still names
  /// its group.
  virtual void exited() {}
  /// PumpOptions::wake was set. It is not watched any more afterwards.
  virtual void woken() {}
  /// When timer() is due next; nullopt: never. Asked again after every event, so the handler
  /// may move it; timer() must move or clear it, or it would run again at once.
  [[nodiscard]] virtual std::optional<Clock::time_point> deadline() { return std::nullopt; }
  /// deadline() has come.
  virtual void timer() {}
};

/// How pump_output() reads.
struct PumpOptions {
  /// How stdout is split into lines.
  LineSplitter::Options out;
  /// How stderr is split into lines.
  LineSplitter::Options err;
  /// After the exit, reading stops once nothing has come for this long (idle time only: the
  /// time spent handling what was read never counts). Not less than drain_cap: no idle limit.
  std::chrono::milliseconds drain_quiet{20};
  /// After the exit, reading stops this long after it at the latest (a descendant holding the
  /// pipes open, or one that keeps writing).
  std::chrono::milliseconds drain_cap{250};
  /// Watched until set (then PumpHandler::woken()); null: none.
  const WakeEvent* wake = nullptr;
};

/// What pump_output() ended with.
struct PumpResult {
  /// Both streams reached EOF. False: the drain after the exit was cut short (a descendant of
  /// the child may still hold them).
  bool drained = false;
};

/// Reads the child's stdout and stderr until both reach EOF and the child has exited, or the
/// drain after the exit ends; an unfinished last line is given at the end. Never reaps the
/// child and never closes its pipes. Throws appose::Error when the wait itself fails, and
/// whatever the handler throws.
PumpResult pump_output(Process& process, const PumpOptions& options, PumpHandler& handler);

}  // namespace appose::detail::platform
