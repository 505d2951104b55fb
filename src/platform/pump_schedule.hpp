#pragma once

// The timing rules of pump_output(), the same on every system: the caller's deadline, and the
// bounded drain after the child's exit (stop after drain_quiet of silence, drain_cap at the
// latest). Each platform's loop asks it what to do next and how long it may wait; only the
// waiting itself (poll, WaitForMultipleObjects) is the platform's. No OS calls.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "platform/output_pump.hpp"

namespace appose::detail::platform {

/// One pump loop's clock. Not thread-safe: the pumping thread's alone.
class PumpSchedule {
 public:
  using Clock = PumpHandler::Clock;

  /// What the loop does next.
  enum class Step : std::uint8_t {
    /// The handler's timer was due and has run: ask again.
    timer_ran,
    /// The drain after the exit is over: stop reading.
    stop,
    /// Wait for the child, at most wait().
    wait,
  };

  PumpSchedule(const PumpOptions& options, PumpHandler& handler) noexcept
      : options_(options), handler_(handler) {}

  /// Whether the child's exit has been seen.
  [[nodiscard]] bool exited() const noexcept { return exited_; }

  /// The child has exited: starts the drain and tells the handler.
  void note_exit() {
    exited_ = true;
    exit_time_ = Clock::now();
    handler_.exited();
  }

  /// Runs the handler's timer if it is due, ends the drain if it is over, or else sets the
  /// longest wait (the deadline, the drain) for this turn of the loop.
  Step next() {
    const auto now = Clock::now();
    const auto due = handler_.deadline();
    if (due && now >= *due) {
      handler_.timer();
      return Step::timer_ran;
    }
    has_wait_ = false;
    draining_ = false;
    if (exited_) {
      const auto left = exit_time_ + options_.drain_cap - now;
      if (left <= Clock::duration::zero()) return Step::stop;
      draining_ = true;
      drain_wait_ = std::min<Clock::duration>(options_.drain_quiet, left);
      bound(drain_wait_);
    }
    if (due) bound(*due - now);
    return Step::wait;
  }

  /// Waits no longer than `d` this turn (a platform's own reason, such as polling for an exit
  /// it cannot wait on).
  void bound(Clock::duration d) noexcept {
    wait_ = has_wait_ ? std::min(wait_, d) : d;
    has_wait_ = true;
  }

  /// The longest wait this turn; nullopt: until something happens.
  [[nodiscard]] std::optional<Clock::duration> wait() const noexcept {
    return has_wait_ ? std::optional<Clock::duration>(wait_) : std::nullopt;
  }

  /// Whether a wait that timed out ends the reading: it was the drain's (the quiet period, or
  /// its cap), not the deadline's.
  [[nodiscard]] bool timeout_ends_drain() const noexcept {
    return draining_ && wait_ == drain_wait_;
  }

 private:
  const PumpOptions& options_;
  PumpHandler& handler_;
  bool exited_ = false;
  Clock::time_point exit_time_;
  // Plain fields, not optionals: GCC 12 at -O3 (mingw) warns that a compared optional's value
  // may be uninitialised.
  bool has_wait_ = false, draining_ = false;
  Clock::duration wait_{}, drain_wait_{};
};

}  // namespace appose::detail::platform
