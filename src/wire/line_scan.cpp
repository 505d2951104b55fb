#include "wire/line_scan.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <exception>
#include <utility>

#include "core/json_reader.hpp"
#include "util/utf8.hpp"

namespace appose::detail::codec {

namespace {

/// At most this many reasons are listed in one note about an invalid piece of a line.
constexpr std::size_t kMaxReasons = 3;

/// Finds the JSON objects of one line: probes each '{' (and '[', to skip arrays whole) with
/// the JSON reader, and collects the text between the objects found with the reasons it is
/// not one.
class ObjectScanner {
 public:
  explicit ObjectScanner(std::string_view line) : line_(line) {}

  LineContents run() {
    std::size_t i = 0;
    // '[' is probed only from here on, so that failed probes stay linear in total.
    std::size_t bracket_floor = 0;
    while (i < line_.size()) {
      std::size_t c = i;
      while (c < line_.size() && line_[c] != '{' && (line_[c] != '[' || c < bracket_floor))
        ++c;
      if (c == line_.size()) break;
      Value v;
      const ReadResult read = read_value(line_, c, v);
      const bool ok = read.ok;
      if (line_[c] == '{') {
        if (ok && !read.bad_utf8) {
          flush(c, true);
          out_.messages.push_back(std::move(v.as_object()));
          i = run_start_ = read.end;
        } else if (ok) {
          reasons_.push_back(fmt::format(
              "the JSON object at bytes {}-{} holds invalid UTF-8 in a string (byte {}): "
              "rejected rather than altered",
              c, read.end, *read.bad_utf8));
          i = read.end;
        } else {
          reasons_.push_back(fmt::format("no complete JSON object from byte {}: {} at byte {}", c,
                                         read.error, read.error_position));
          // Resuming after the error, not after the '{', keeps an object nested in a broken
          // one from being taken for a message.
          i = read.error_position + 1;
        }
      } else if (ok) {
        // A JSON array (a script printing a list) is not a message, even if it holds objects.
        reasons_.push_back(
            fmt::format("bytes {}-{} hold a JSON array, not an object", c, read.end));
        i = read.end;
      } else {
        bracket_floor = read.error_position + 1;
        i = c + 1;
      }
    }
    flush(line_.size(), false);
    return std::move(out_);
  }

 private:
  // Records line_[run_start_, end) as invalid unless it is white space. Pieces next to a
  // message are trimmed; a line without any message is kept whole, indentation included.
  void flush(std::size_t end, bool before_message) {
    std::size_t a = run_start_;
    std::size_t b = end;
    bool whole_line = !before_message && out_.messages.empty();
    if (!whole_line) {
      while (a < b && is_line_space(line_[a]))
        ++a;
      while (b > a && is_line_space(line_[b - 1]))
        --b;
    }
    bool blank = true;
    for (std::size_t k = a; k < b && blank; ++k)
      blank = is_line_space(line_[k]);
    if (!blank) {
      out_.invalid.push_back(utf8::to_valid(line_.substr(a, b - a)));
      std::string why;
      if (reasons_.empty()) {
        why = "text outside any JSON object";
      } else {
        for (std::size_t k = 0; k < reasons_.size() && k < kMaxReasons; ++k) {
          if (k > 0) why += "; ";
          why += reasons_[k];
        }
        if (reasons_.size() > kMaxReasons) {
          why += fmt::format("; and {} more", reasons_.size() - kMaxReasons);
        }
      }
      out_.notes.push_back(fmt::format("invalid text at bytes {}-{}: {}", a, b, why));
    }
    reasons_.clear();
  }

  std::string_view line_;
  std::size_t run_start_ = 0;
  std::vector<std::string> reasons_;
  LineContents out_;
};

}  // namespace

LineContents split_line(std::string_view line) {
  try {
    return ObjectScanner(line).run();
  } catch (const std::exception& e) {
    // Only allocation failure gets here; the line must still not take the reader down.
    LineContents out;
    out.invalid.push_back(utf8::to_valid(line));
    out.notes.push_back(fmt::format("the line could not be split: {}", e.what()));
    return out;
  }
}

}  // namespace appose::detail::codec
