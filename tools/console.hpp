#pragma once

// What the commands print: a progress display (a bar redrawn in place on a terminal, plain
// lines otherwise), messages that must not collide with it, and error reports.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace appose::cli {

/// The progress display of one command, shared by the threads that report progress (a build's
/// thread, a service's event thread) and those that print lines. Thread-safe.
///
/// On a terminal one line is redrawn with '\r': `title [#####.....] 42%` when the maximum is
/// known, else a spinner (animated by a ticker thread, so a long silent step still shows life).
/// Elsewhere it prints `progress: title current/maximum` lines, at most one per title every
/// 0.5 s, though the last of a title is always printed.
class Console {
 public:
  /// `stream`: where progress goes; drawn as a bar if it is a terminal. `enabled`: false
  /// shows no progress at all (--quiet).
  explicit Console(std::FILE* stream, bool enabled = true);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  [[nodiscard]] bool tty() const noexcept { return tty_; }

  void progress(std::string_view title, std::optional<std::int64_t> current,
                std::optional<std::int64_t> maximum);
  /// Prints `text` and a newline to `stream`, clearing the bar first and redrawing it after.
  void line(std::FILE* stream, std::string_view text);
  /// Prints the last throttled progress line and clears the bar, for good.
  void finish();

 private:
  void draw_locked();
  void clear_locked();
  void flush_pending_locked();
  void tick();

  std::FILE* out_;
  bool enabled_;
  bool tty_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool shown_ = false;  // a bar is on the screen
  bool active_ = false;
  std::string title_;
  std::optional<std::int64_t> current_;
  std::optional<std::int64_t> maximum_;
  unsigned spin_ = 0;
  std::string last_title_;
  std::chrono::steady_clock::time_point last_print_;
  std::optional<std::string> pending_;
  std::thread ticker_;
};

/// Prints `appose: error: <first line>` to stderr, then the last `tail` lines of the rest
/// (a tool's error output), indented.
void report_error(std::string_view message, std::size_t tail = 20);

/// "512 B", "1.5 KiB", "182.4 MiB", ...
std::string human_size(std::uintmax_t bytes);

/// The executable `name` on PATH, if any.
std::optional<std::filesystem::path> which(std::string_view name);

/// The environment directory an argument names: a path (it has a '/', or is "." or ".."), an
/// environment under envs_dir(), or else a directory relative to the current one. Throws
/// NotFound (cli.hpp) when there is none.
std::filesystem::path resolve_env(const std::string& name_or_path);

/// Splits `text` at '\n' (a trailing newline gives no empty last line).
std::vector<std::string> split_lines(std::string_view text);

}  // namespace appose::cli
