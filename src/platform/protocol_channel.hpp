#pragma once

// A worker's end of the Appose protocol: the stdin and stdout its host gave it, moved to private
// descriptors (handles on Windows) so that nothing else in the process, and no process it
// starts, can read a request or write into a response. Implementation:
// platform/posix/protocol_channel.cpp.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace appose::detail::platform {

/// Request lines in, response lines out. Move-only; a default-constructed channel is closed
/// (no input, every write fails). Destroying it closes the private copies; the standard
/// streams stay where take_stdio() pointed them.
class ProtocolChannel {
 public:
  /// Takes stdin and stdout for the protocol as private copies that child processes do not
  /// inherit. With `shield`, the standard streams are then pointed elsewhere, so that prints
  /// and children cannot touch the protocol: stdin at the null device, stdout at stderr (at
  /// the null device if there is no stderr), line-buffered so that the operations' prints
  /// reach the host as they are written. Throws appose::Error if the copies cannot be made;
  /// nothing has changed then.
  static ProtocolChannel take_stdio(bool shield);

  /// A closed channel.
  ProtocolChannel() noexcept;
  /// Takes over `other`'s channel; `other` is closed afterwards.
  ProtocolChannel(ProtocolChannel&& other) noexcept;
  /// Closes this channel and takes over `other`'s.
  ProtocolChannel& operator=(ProtocolChannel&& other) noexcept;
  ProtocolChannel(const ProtocolChannel&) = delete;
  ProtocolChannel& operator=(const ProtocolChannel&) = delete;
  /// Closes the private copies.
  ~ProtocolChannel();

  /// Blocks until a whole line has arrived and returns it without its newline; the view is
  /// valid until the next call. At the end of the input (or a read error, which ends it just
  /// the same) an unterminated last line is returned as a line, then nullopt for good.
  /// Interrupted reads are retried. For one reader thread at a time.
  std::optional<std::string_view> read_line();

  /// Whether read_line() would return at once, without waiting for input: a whole line has
  /// been read ahead, or the input has ended. For the reader thread.
  [[nodiscard]] bool line_ready() noexcept;

  /// Writes `line` and a newline in one piece: lines of concurrent writers never interleave.
  /// Blocks until all is written; interrupted writes are retried. False if the channel is
  /// closed or the reader is gone (the host has died).
  bool write_line(std::string line);
  /// Writes `lines`, whole lines each ending in a newline, in one piece, as write_line().
  bool write_lines(std::string_view lines);

 private:
  /// The descriptors (handles) and the read buffer, in each platform's own types.
  struct State;
  /// An open channel (take_stdio()).
  explicit ProtocolChannel(std::unique_ptr<State> state) noexcept;

  std::unique_ptr<State> state_;
};

}  // namespace appose::detail::platform
