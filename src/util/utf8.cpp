#include "util/utf8.hpp"

#include <algorithm>

namespace appose::detail::utf8 {

Step decode(const unsigned char* p, const unsigned char* end) noexcept {
  unsigned b0 = p[0];
  if (b0 < 0x80U) return {b0, 1, true};
  std::size_t need = 0;
  unsigned lo = 0x80U;
  unsigned hi = 0xBFU;
  char32_t cp = 0;
  if (b0 >= 0xC2U && b0 <= 0xDFU) {
    need = 1;
    cp = b0 & 0x1FU;
  } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
    need = 2;
    cp = b0 & 0x0FU;
    if (b0 == 0xE0U) lo = 0xA0U;
    if (b0 == 0xEDU) hi = 0x9FU;
  } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
    need = 3;
    cp = b0 & 0x07U;
    if (b0 == 0xF0U) lo = 0x90U;
    if (b0 == 0xF4U) hi = 0x8FU;
  } else {
    return {0xFFFD, 1, false};
  }
  std::size_t i = 1;
  for (std::size_t k = 0; k < need; ++k, ++i) {
    if (p + i >= end) return {0xFFFD, i, false};
    unsigned b = p[i];
    if (b < lo || b > hi) return {0xFFFD, i, false};
    cp = (cp << 6U) | (b & 0x3FU);
    lo = 0x80U;
    hi = 0xBFU;
  }
  return {cp, i, true};
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80U) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800U) {
    out += static_cast<char>(0xC0U | (cp >> 6U));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  } else if (cp < 0x10000U) {
    out += static_cast<char>(0xE0U | (cp >> 12U));
    out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  } else {
    out += static_cast<char>(0xF0U | (cp >> 18U));
    out += static_cast<char>(0x80U | ((cp >> 12U) & 0x3FU));
    out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
    out += static_cast<char>(0x80U | (cp & 0x3FU));
  }
}

bool is_valid(std::string_view text) noexcept {
  const unsigned char* p = bytes_of(text);
  const unsigned char* end = p + text.size();
  while (p < end) {
    if (*p < 0x80U) {
      ++p;
      continue;
    }
    Step step = decode(p, end);
    if (!step.valid) return false;
    p += step.length;
  }
  return true;
}

std::string to_valid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const unsigned char* p = bytes_of(text);
  const unsigned char* end = p + text.size();
  const unsigned char* run = p;
  while (p < end) {
    if (*p < 0x80U) {
      ++p;
      continue;
    }
    Step step = decode(p, end);
    if (!step.valid) {
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      out += kReplacement;
      run = p + step.length;
    }
    p += step.length;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
  return out;
}

std::size_t sequence_length(std::string_view text, std::size_t i) noexcept {
  const unsigned char* p = bytes_of(text) + i;
  return decode(p, bytes_of(text) + text.size()).length;
}

std::string_view cut(std::string_view text, std::size_t max) noexcept {
  if (text.size() <= max) return text;
  std::size_t end = max;
  // Back up over continuation bytes to the start of the sequence that straddles `max`.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U)
    --end;
  return text.substr(0, end);
}

}  // namespace appose::detail::utf8
