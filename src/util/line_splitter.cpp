#include "util/line_splitter.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "util/utf8.hpp"

namespace appose::detail {

namespace {

// A line buffer that grew beyond this for one huge line is given back after it: a worker that
// printed 200 MiB once must not keep the host 200 MiB larger. Below it the buffer is reused,
// so that ordinary lines cost no allocation.
constexpr std::size_t kRetainedCapacity = std::size_t{2} << 20;

bool is_lead(unsigned char b) noexcept {
  return b >= 0xC2U && b <= 0xF4U;
}

/// Whether `step`, decoded at `p`, is a sequence cut short by `end` rather than an invalid
/// one: decode() reports a valid prefix that runs out of bytes as invalid, with the length of
/// what there was.
bool unfinished(const unsigned char* p, const unsigned char* end, const utf8::Step& step) {
  return !step.valid && is_lead(*p) && p + step.length == end;
}

/// The offset of the first '\n' or '\r' in data[from..], or data.size(). memchr reads many
/// bytes per step; a loop over the bytes cost about as much as reading the protocol line they
/// held (docs/benchmarks.md).
std::size_t next_break(std::string_view data, std::size_t from) noexcept {
  const char* p = data.data() + from;
  const std::size_t n = data.size() - from;
  const void* nl = std::memchr(p, '\n', n);
  const std::size_t to_nl =
      nl == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(nl) - p);
  const void* cr = std::memchr(p, '\r', to_nl);
  return from +
         (cr == nullptr ? to_nl : static_cast<std::size_t>(static_cast<const char*>(cr) - p));
}

}  // namespace

void LineSplitter::feed(std::string_view data, const Sink& sink) {
  if (!carry_.empty()) {
    data.remove_prefix(complete_carry(data, sink));
    if (!carry_.empty()) return;  // still unfinished: `data` was all of it
  }
  const bool repair = options_.repair_utf8;
  std::size_t i = 0;
  while (i < data.size()) {
    if (discarding_) {
      // '\n' is never part of a multi-byte sequence, so skipping to it is safe.
      const auto nl = data.find('\n', i);
      if (nl == std::string_view::npos) return;
      discarding_ = false;
      i = nl + 1;
      continue;
    }
    const char c = data[i];
    if (c == '\n') {
      ++i;
      end_line(sink);
      continue;
    }
    if (c == '\r') {
      ++i;
      if (pending_cr_) {
        pending_cr_ = false;
        put("\r", sink);
      }
      pending_cr_ = !discarding_;
      continue;
    }
    const auto b = static_cast<unsigned char>(c);
    if (repair && b >= 0x80U) {
      const unsigned char* p = utf8::bytes_of(data) + i;
      const unsigned char* end = utf8::bytes_of(data) + data.size();
      const utf8::Step step = utf8::decode(p, end);
      if (step.valid) {
        add(data.substr(i, step.length), sink);
      } else if (unfinished(p, end, step)) {
        carry_.assign(data.substr(i));
        return;
      } else {
        // Each maximal invalid subpart becomes one U+FFFD; the byte that broke it is looked at
        // afresh.
        add(utf8::kReplacement, sink);
      }
      i += step.length;
      continue;
    }
    std::size_t j = i + 1;
    if (repair) {
      while (j < data.size() && data[j] != '\n' && data[j] != '\r' &&
             static_cast<unsigned char>(data[j]) < 0x80U) {
        ++j;
      }
    } else {
      j = next_break(data, j);
    }
    add(data.substr(i, j - i), sink);
    i = j;
  }
}

void LineSplitter::finish(const Sink& sink) {
  if (!carry_.empty()) {
    carry_.clear();
    add(utf8::kReplacement, sink);
  }
  if (discarding_) {
    discarding_ = false;
    pending_cr_ = false;
    return;
  }
  if (!line_.empty() || pending_cr_ || dropped_ != 0) end_line(sink);
}

std::size_t LineSplitter::complete_carry(std::string_view data, const Sink& sink) {
  const std::size_t had = carry_.size();
  const std::size_t take = std::min(data.size(), std::size_t{4} - had);
  char buf[4] = {};
  std::copy(carry_.begin(), carry_.end(), buf);
  std::copy_n(data.begin(), take, buf + had);
  const std::string_view seq(buf, had + take);
  const unsigned char* p = utf8::bytes_of(seq);
  const utf8::Step step = utf8::decode(p, p + seq.size());
  if (unfinished(p, p + seq.size(), step)) {
    carry_.assign(seq);
    return take;
  }
  carry_.clear();
  // The carried bytes are a valid prefix, so the sequence (or its maximal invalid subpart)
  // spans at least all of them.
  add(step.valid ? seq.substr(0, step.length) : utf8::kReplacement, sink);
  return step.length - had;
}

void LineSplitter::add(std::string_view text, const Sink& sink) {
  if (discarding_) return;
  if (pending_cr_) {
    pending_cr_ = false;
    put("\r", sink);
    if (discarding_) return;
  }
  put(text, sink);
}

void LineSplitter::put(std::string_view text, const Sink& sink) {
  if (dropped_ != 0) {
    dropped_ += text.size();
    return;
  }
  if (line_.size() + text.size() <= options_.max_line) {
    line_ += text;
    return;
  }
  std::size_t fit = options_.max_line - line_.size();
  if (options_.repair_utf8) fit = utf8::cut(text, fit).size();
  line_ += text.substr(0, fit);
  dropped_ = text.size() - fit;
  if (options_.overflow == Overflow::at_once) {
    discarding_ = true;
    pending_cr_ = false;
    deliver(sink);
  }
}

void LineSplitter::end_line(const Sink& sink) {
  pending_cr_ = false;
  deliver(sink);
}

void LineSplitter::deliver(const Sink& sink) {
  const std::size_t dropped = std::exchange(dropped_, 0);
  // Cleared even when the sink throws: the next line must not start with this one.
  struct Reset {
    std::string& line;
    explicit Reset(std::string& l) noexcept : line(l) {}
    Reset(const Reset&) = delete;
    Reset& operator=(const Reset&) = delete;
    ~Reset() {
      line.clear();
      if (line.capacity() > kRetainedCapacity) std::string().swap(line);
    }
  } reset(line_);
  sink(line_, dropped);
}

}  // namespace appose::detail
