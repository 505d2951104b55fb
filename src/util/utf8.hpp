#pragma once

// UTF-8: strict decoding, encoding and repair. Every place that checks, decodes or repairs
// UTF-8 (the JSON reader and writer, child-output lines, configuration files) uses these, so
// that one definition of "valid" holds across the library: Unicode's (table 3-7), which is
// also Python's, so what a worker accepts and what appose-cpp accepts never differ.

#include <cstddef>
#include <string>
#include <string_view>

namespace appose::detail::utf8 {

/// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

/// One decoded sequence.
struct Step {
  char32_t code_point = 0;  ///< U+FFFD when !valid
  std::size_t length = 1;   ///< bytes consumed; for an invalid sequence, its maximal subpart
  bool valid = false;
};

/// Decodes the sequence at `p` (p < end). Strict: overlong forms, surrogates and code points
/// beyond U+10FFFF are invalid. An invalid sequence reports the length of its maximal valid
/// prefix, so that replacing each with one U+FFFD follows the Unicode recommendation, as
/// Python's errors="replace" does.
Step decode(const unsigned char* p, const unsigned char* end) noexcept;

/// Appends `cp` (a scalar value) encoded.
void append(std::string& out, char32_t cp);

/// Whether `text` is valid UTF-8.
bool is_valid(std::string_view text) noexcept;

/// `text` with each invalid subpart replaced by U+FFFD, as Python's errors="replace".
std::string to_valid(std::string_view text);

/// The length of the (possibly partial or invalid) sequence that starts at text[i], at least 1
/// and never past the end: for quoting the character a message is about.
std::size_t sequence_length(std::string_view text, std::size_t i) noexcept;

/// `text` shortened to at most `max` bytes without splitting a sequence.
std::string_view cut(std::string_view text, std::size_t max) noexcept;

inline const unsigned char* bytes_of(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace appose::detail::utf8
