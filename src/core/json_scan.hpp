#pragma once

// The end of a run of bytes that a JSON string holds as they are, found eight bytes at a time:
// the strings of a protocol message (task ids above all) are such runs, and the reader and the
// writer each walked them byte by byte through a table (issue 18: a fifth of the instructions
// of encoding or decoding a small message).

#include <cstdint>
#include <cstring>

namespace appose::detail::codec {

/// The first byte from `p` on (`end` if none) that is not printable ASCII, or is a quote or a
/// backslash; with `del_plain` false, DEL (0x7F) ends the run too (the writer escapes it, as
/// Python's ensure_ascii does). Bytes of 0x80 and above end it: they are UTF-8, checked apart.
inline const unsigned char* plain_run_end(const unsigned char* p, const unsigned char* end,
                                          bool del_plain) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  // Whether a byte of v is zero: exact as a yes or no (not as to which byte).
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    std::uint64_t stop = (w & kHighs)                           // 0x80 and above
                         | ((w - kOnes * 0x20U) & ~w & kHighs)  // below 0x20
                         | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'));
    if (!del_plain) stop |= has_zero(w ^ (kOnes * 0x7FU));
    if (stop != 0) break;  // the word holds the end: found byte by byte below
    p += 8;
  }
  while (p < end && *p >= 0x20U && *p < 0x80U && *p != '"' && *p != '\\' &&
         (del_plain || *p != 0x7FU)) {
    ++p;
  }
  return p;
}

}  // namespace appose::detail::codec
