#pragma once

// Lines of a byte stream handed out in place, for the C++ worker's protocol input: each byte is
// read once into one reused buffer and a line is returned as a view into it, never copied and
// never zero-filled first (a request can be megabytes of JSON, and a no-op task's request is a
// few hundred bytes: clearing a 64 KiB read buffer per request cost as much as the pipe itself,
// docs/benchmarks.md). Internal.

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace appose::detail {

/// Splits what a read function returns into lines. Not thread-safe: one reader.
class LineReader {
 public:
  /// The least room offered to one read: requests can be megabytes, and big reads keep the
  /// system calls few.
  static constexpr std::size_t kChunk = std::size_t{64} << 10;

  /// Whether next() would return without reading: a whole line is buffered, or the input has
  /// ended.
  [[nodiscard]] bool ready() noexcept;

  /// The next line without its '\n' (the last bytes without one count as a line), or nullopt
  /// at the end. `read(char* into, std::size_t room)` fills at most `room` bytes and returns how
  /// many, 0 at the end of the stream (or on an error, which ends it just the same). The view
  /// is valid until the next call.
  template <class Read>
  std::optional<std::string_view> next(Read&& read) {
    while (true) {
      if (std::optional<std::string_view> line = take_line()) return line;
      if (eof_) return take_rest();
      make_room();
      const std::size_t n = read(data_.get() + end_, capacity_ - end_);
      if (n == 0) {
        eof_ = true;
      } else {
        end_ += n;
      }
    }
  }

 private:
  std::optional<std::string_view> take_line() noexcept;
  std::optional<std::string_view> take_rest() noexcept;
  // Moves the unreturned bytes to the front and makes at least kChunk bytes free after them.
  void make_room();

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  // [start_, end_) is read and not yet returned; no '\n' lies in [start_, scanned_), so a long
  // line is searched once, not once per read.
  std::size_t start_ = 0, scanned_ = 0, end_ = 0;
  bool eof_ = false;
};

}  // namespace appose::detail
