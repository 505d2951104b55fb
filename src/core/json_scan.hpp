#pragma once

// The end of a run of bytes that a JSON string holds as they are, found eight bytes at a time:
// the strings of a protocol message (task ids above all) are such runs, and the reader and the
// writer each walked them byte by byte through a table (issue 18: a fifth of the instructions
// of encoding or decoding a small message).

#include <bit>
#include <cstddef>
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
  // Sets the high bit of each byte of w that ends the run. A flag can also be set, wrongly, in
  // a byte above (later than) one that truly ends it, where a subtraction borrowed from it; the
  // lowest flag is always exact, and it is the only one read.
  auto stops = [del_plain](std::uint64_t w) {
    auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
    std::uint64_t s = (w & kHighs)                           // 0x80 and above
                      | ((w - kOnes * 0x20U) & ~w & kHighs)  // below 0x20
                      | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'));
    if (!del_plain) s |= has_zero(w ^ (kOnes * 0x7FU));
    return s;
  };
  // On a little-endian machine the lowest flag is the first such byte in memory: found with
  // one count, not byte by byte (a protocol string ends in the middle of a word: once per key
  // and per value).
  constexpr bool kLowestFirst = std::endian::native == std::endian::little;
  auto first_stop = [](std::uint64_t s) {
    return static_cast<std::size_t>(std::countr_zero(s)) / 8;
  };
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (const std::uint64_t s = stops(w); s != 0) {
      if constexpr (kLowestFirst) return p + first_stop(s);
      break;  // the word holds the end: found byte by byte below
    }
    p += 8;
  }
  if constexpr (kLowestFirst) {
    // The last few bytes as one word, padded with bytes that never end a run.
    const auto left = static_cast<std::size_t>(end - p);
    if (left == 0) return end;
    std::uint64_t w = kOnes * 'a';
    std::memcpy(&w, p, left);
    const std::uint64_t s = stops(w);
    return s == 0 ? end : p + first_stop(s);
  }
  while (p < end && *p >= 0x20U && *p < 0x80U && *p != '"' && *p != '\\' &&
         (del_plain || *p != 0x7FU)) {
    ++p;
  }
  return p;
}

}  // namespace appose::detail::codec
