#include "console.hpp"
#include "cli.hpp"
#include "system.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <appose/builder.hpp>
#include <array>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace appose::cli {

namespace {

constexpr auto kThrottle = 500ms;
constexpr auto kSpinInterval = 100ms;
constexpr std::array<char, 4> kSpinner{'|', '/', '-', '\\'};

/// Cuts `text` to at most `bytes` bytes without splitting a UTF-8 character.
std::string_view truncate_utf8(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  std::size_t n = bytes;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0U) == 0x80U)
    --n;
  return text.substr(0, n);
}

void write_all(std::FILE* stream, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stream);
  std::fflush(stream);
}

}  // namespace

Console::Console(std::FILE* stream, bool enabled)
    : out_(stream), enabled_(enabled), tty_(enabled && is_terminal(stream)) {
  if (tty_) ticker_ = std::thread([this] { tick(); });
}

Console::~Console() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  finish();
}

void Console::progress(std::string_view title, std::optional<std::int64_t> current,
                       std::optional<std::int64_t> maximum) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  // An update naming a new step starts afresh; one that only moves the counter (Python's
  // task.update(current=n)) keeps its step's title and maximum.
  if (!title.empty() && title != title_) {
    title_ = std::string(title);
    current_ = current;
    maximum_ = maximum;
  } else {
    if (current) current_ = current;
    if (maximum) maximum_ = maximum;
  }
  active_ = true;
  if (tty_) {
    draw_locked();
    return;
  }
  std::string text = "progress: " + title_;
  if (current_) {
    text += fmt::format(" {}", *current_);
    if (maximum_ && *maximum_ > 0) text += fmt::format("/{}", *maximum_);
  }
  auto now = std::chrono::steady_clock::now();
  if (title_ == last_title_ && now - last_print_ < kThrottle) {
    pending_ = std::move(text);
    return;
  }
  flush_pending_locked();
  write_all(out_, text + "\n");
  last_title_ = title_;
  last_print_ = now;
}

void Console::line(std::FILE* stream, std::string_view text) {
  std::lock_guard lock(mu_);
  flush_pending_locked();
  clear_locked();
  std::string framed(text);
  framed.push_back('\n');
  write_all(stream, framed);
  if (tty_ && active_) draw_locked();
}

void Console::finish() {
  std::lock_guard lock(mu_);
  flush_pending_locked();
  clear_locked();
  active_ = false;
}

void Console::flush_pending_locked() {
  if (!pending_) return;
  write_all(out_, *pending_ + "\n");
  pending_.reset();
  last_print_ = std::chrono::steady_clock::now();
}

void Console::clear_locked() {
  if (!shown_) return;
  write_all(out_, "\r\033[K");
  shown_ = false;
}

void Console::draw_locked() {
  const std::size_t cols = terminal_columns(out_);
  std::string prefix;
  std::string suffix;
  if (maximum_ && *maximum_ > 0) {
    const double fraction = std::clamp(
        static_cast<double>(current_.value_or(0)) / static_cast<double>(*maximum_), 0.0, 1.0);
    const std::size_t width = cols >= 100 ? 30 : std::max<std::size_t>(10, cols / 4);
    const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(width));
    suffix = fmt::format(" [{}{}] {:3}%", std::string(filled, '#'),
                         std::string(width - filled, '.'), static_cast<int>(fraction * 100.0));
  } else {
    prefix = fmt::format("{} ", kSpinner.at(spin_ % kSpinner.size()));
    if (current_) suffix = fmt::format(" ({})", *current_);
  }
  // A line wider than the terminal wraps, and '\r' would then redraw only its last row.
  const std::size_t room =
      cols > prefix.size() + suffix.size() + 1 ? cols - prefix.size() - suffix.size() - 1 : 0;
  write_all(out_, fmt::format("\r{}{}{}\033[K", prefix, truncate_utf8(title_, room), suffix));
  shown_ = true;
}

void Console::tick() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, kSpinInterval);
    if (stop_) break;
    if (!active_ || !shown_ || (maximum_ && *maximum_ > 0)) continue;
    ++spin_;
    draw_locked();
  }
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

void report_error(std::string_view message, std::size_t tail) {
  std::vector<std::string> lines = split_lines(message);
  auto first =
      std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return !l.empty(); });
  if (first == lines.end()) {
    std::fputs("appose: error: (no message)\n", stderr);
    return;
  }
  std::string out = fmt::format("appose: error: {}\n", *first);
  std::vector<std::string> rest(first + 1, lines.end());
  while (!rest.empty() && rest.back().empty())
    rest.pop_back();
  std::size_t skip = rest.size() > tail ? rest.size() - tail : 0;
  if (skip > 0) out += fmt::format("  ... ({} earlier lines not shown)\n", skip);
  for (std::size_t i = skip; i < rest.size(); ++i)
    out += fmt::format("  {}\n", rest[i]);
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

std::string human_size(std::uintmax_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  constexpr std::array<const char*, 5> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits.at(unit));
}

std::optional<fs::path> which(std::string_view name) {
  if (utf8_path(name).has_parent_path()) {
    if (runnable(utf8_path(name))) return utf8_path(name);
    return std::nullopt;
  }
  const std::string file = executable_name(name);
  const std::string path = env_var("PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  std::string_view dirs = path;
  while (true) {
    auto colon = dirs.find(kPathListSeparator);
    std::string_view dir = dirs.substr(0, colon);
    fs::path candidate = utf8_path(dir.empty() ? "." : dir) / utf8_path(file);
    if (runnable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

fs::path resolve_env(const std::string& name_or_path) {
  std::error_code ec;
  const fs::path given = utf8_path(name_or_path);
  if (name_or_path.find('/') != std::string::npos || name_or_path == "." || name_or_path == "..") {
    fs::path dir = fs::absolute(given, ec);
    if (!fs::exists(dir, ec)) {
      throw NotFound(fmt::format("no environment at {}", utf8_string(dir)));
    }
    return dir;
  }
  fs::path under = appose::envs_dir() / given;
  if (fs::exists(under, ec)) return under;
  if (fs::is_directory(given, ec)) return fs::absolute(given, ec);
  throw NotFound(fmt::format(
      "no environment named \"{}\" under {} (`appose list` shows them; give a path, e.g. "
      "./{}, to use another directory)",
      name_or_path, utf8_string(appose::envs_dir()), name_or_path));
}

}  // namespace appose::cli
