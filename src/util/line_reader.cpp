#include "util/line_reader.hpp"

#include <algorithm>
#include <cstring>

namespace appose::detail {

std::optional<std::string_view> LineReader::take_line() noexcept {
  if (scanned_ == end_) return std::nullopt;
  const void* nl = std::memchr(data_.get() + scanned_, '\n', end_ - scanned_);
  if (nl == nullptr) {
    scanned_ = end_;
    return std::nullopt;
  }
  const auto at = static_cast<std::size_t>(static_cast<const char*>(nl) - data_.get());
  const std::string_view line(data_.get() + start_, at - start_);
  start_ = scanned_ = at + 1;
  return line;
}

bool LineReader::ready() noexcept {
  if (eof_) return true;
  if (scanned_ == end_) return false;
  const void* nl = std::memchr(data_.get() + scanned_, '\n', end_ - scanned_);
  // No '\n' up to the one found (or the end): take_line() need not search those bytes again.
  scanned_ =
      nl == nullptr ? end_ : static_cast<std::size_t>(static_cast<const char*>(nl) - data_.get());
  return nl != nullptr;
}

std::optional<std::string_view> LineReader::take_rest() noexcept {
  if (start_ == end_) return std::nullopt;
  const std::string_view rest(data_.get() + start_, end_ - start_);
  start_ = scanned_ = end_;
  return rest;
}

void LineReader::make_room() {
  if (start_ != 0) {
    std::memmove(data_.get(), data_.get() + start_, end_ - start_);
    end_ -= start_;
    scanned_ -= start_;
    start_ = 0;
  }
  if (capacity_ - end_ >= kChunk) return;
  const std::size_t capacity = std::max(capacity_ * 2, end_ + kChunk);
  // For overwrite: the bytes are read into, so clearing them first would be wasted work.
  auto data = std::make_unique_for_overwrite<char[]>(capacity);
  if (end_ != 0) std::memcpy(data.get(), data_.get(), end_);
  data_ = std::move(data);
  capacity_ = capacity;
}

}  // namespace appose::detail
