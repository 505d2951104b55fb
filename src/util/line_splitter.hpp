#pragma once

// Splitting a child's output into lines. One definition of "a line" for everything that reads
// a child's stdout or stderr (the service's worker, the build tools), so that CR handling, the
// bound on a line and UTF-8 repair cannot drift apart between them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace appose::detail {

/// Turns a byte stream that arrives in arbitrary chunks into lines. '\n' ends a line; one '\r'
/// right before it (or before the end of the stream) is removed, any other '\r' is kept. What
/// one chunk leaves unfinished (a line, a "\r" that may precede "\n", a UTF-8 sequence) is
/// carried to the next. Memory is bounded by Options::max_line however long a line is.
/// One splitter per stream; not thread-safe.
class LineSplitter {
 public:
  /// What becomes of a line that outgrows Options::max_line.
  enum class Overflow : std::uint8_t {
    /// Delivered when it ends, cut to max_line, with the count of the bytes dropped: for lines
    /// that are parsed, where the caller must know how much was lost.
    at_end,
    /// Delivered as soon as it outgrows max_line, and the rest of it skipped: for lines shown
    /// as they come, where a line may never end (a progress bar printed forever).
    at_once,
  };

  /// How one stream is split.
  struct Options {
    /// The most bytes of one line that are kept (after repair; '\n' and the removed '\r' do
    /// not count). At least 1.
    std::size_t max_line = std::size_t{1} << 20;
    /// Whether each invalid UTF-8 subpart becomes U+FFFD (as Python's errors="replace"); a
    /// line is then cut only between characters. Without it the bytes pass through as they are.
    bool repair_utf8 = false;
    /// See Overflow.
    Overflow overflow = Overflow::at_end;
  };

  /// Receives one line, without its end. The sink may move from `line`. `dropped` is 0 for a
  /// whole line; otherwise the line was cut: with Overflow::at_end, `dropped` is the number of
  /// bytes that did not fit; with Overflow::at_once, the number that did not fit in the chunk
  /// that overflowed (at least 1; the rest of the line is skipped uncounted).
  using Sink = std::function<void(std::string& line, std::size_t dropped)>;

  /// A splitter for one stream.
  explicit LineSplitter(Options options) noexcept : options_(options) {}

  /// Takes the next bytes of the stream; gives `sink` each line they complete, in order.
  /// An exception from `sink` propagates (the line it was given is discarded).
  void feed(std::string_view data, const Sink& sink);
  /// The end of the stream: an unfinished last line (even an empty one ended by a lone '\r')
  /// is a line too; an unfinished UTF-8 sequence becomes U+FFFD. The splitter is then ready
  /// for a new stream.
  void finish(const Sink& sink);

 private:
  /// Completes the carried UTF-8 sequence from the start of `data`; returns the bytes used.
  std::size_t complete_carry(std::string_view data, const Sink& sink);
  /// Adds line content (a pending '\r' first).
  void add(std::string_view text, const Sink& sink);
  /// Adds line content within the bound.
  void put(std::string_view text, const Sink& sink);
  void end_line(const Sink& sink);
  void deliver(const Sink& sink);

  Options options_;
  std::string line_;
  std::size_t dropped_ = 0;
  /// A valid but unfinished UTF-8 sequence at the end of the last chunk (repair only).
  std::string carry_;
  /// A '\r' was read last: kept back until it is known whether '\n' follows.
  bool pending_cr_ = false;
  /// Overflow::at_once delivered the start of this line: skip to its end.
  bool discarding_ = false;
};

}  // namespace appose::detail
