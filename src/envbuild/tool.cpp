// Running the build tools: locating pixi/uv/micromamba, streaming a command's output line by
// line, and stopping it (and everything it started) on request.

#include "envbuild/tool.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "appose/error.hpp"
#include "platform/env_var.hpp"
#include "platform/output_pump.hpp"
#include "platform/process.hpp"
#include "util/fs_util.hpp"

namespace appose::detail {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Locating the tools

fs::path absolute_path(const fs::path& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal();
}

// ---------------------------------------------------------------------------------------------
// Output

constexpr std::size_t kMaxLine = std::size_t{1} << 20;
constexpr std::size_t kTailBytes = std::size_t{64} << 10;
constexpr std::string_view kTruncated = " \xE2\x80\xA6 [line truncated]";  // " … [line truncated]"
/// How long a descendant may keep the pipes open after the child exited. Long enough to read
/// what is already in the pipes; short enough that nobody notices a leftover daemon.
constexpr std::chrono::milliseconds kExitGrace{100};

bool continuation(char c) noexcept {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

/// The last `n` bytes of valid UTF-8 `s` or fewer, starting on a character boundary.
std::string_view utf8_suffix(std::string_view s, std::size_t n) noexcept {
  if (s.size() <= n) return s;
  std::size_t start = s.size() - n;
  while (start < s.size() && continuation(s[start]))
    ++start;
  return s.substr(start);
}

/// Cuts `s` to its last `limit` bytes, at a line start so that an error message does not begin
/// in the middle of a line, unless that would throw away more than half of what fits (one huge
/// last line is worth more than alignment).
void keep_tail(std::string& s, std::size_t limit) {
  if (s.size() <= limit) return;
  std::size_t start = s.size() - limit;
  if (s[start - 1] != '\n') {
    auto nl = s.find('\n', start);
    if (nl != std::string::npos && nl + 1 - start <= limit / 2) {
      start = nl + 1;
    } else {
      while (start < s.size() && continuation(s[start]))
        ++start;
    }
  }
  s.erase(0, start);
}

/// The last kTailBytes of one stream's lines, for the BuildException. Bounded however much the
/// tool prints.
class Tail {
 public:
  void add(std::string_view line) {
    if (line.size() >= kTailBytes) {
      text_.assign(utf8_suffix(line, kTailBytes - 1));
    } else {
      text_ += line;
    }
    text_ += '\n';
    if (text_.size() > 2 * kTailBytes) keep_tail(text_, kTailBytes);
  }
  /// The lines joined by '\n'.
  std::string take() {
    if (!text_.empty() && text_.back() == '\n') text_.pop_back();
    keep_tail(text_, kTailBytes);
    return std::move(text_);
  }

 private:
  std::string text_;
};

/// Hands the tool's lines to the callbacks and the tails, and stops the tool on cancel:
/// SIGTERM to its group at once, SIGKILL after the grace unless it has exited by then.
class ToolOutput final : public platform::PumpHandler {
 public:
  ToolOutput(platform::Process& process, const std::function<void(std::string_view)>& on_output,
             const std::function<void(std::string_view)>& on_error,
             std::chrono::milliseconds kill_grace)
      : process_(process), on_output_(on_output), on_error_(on_error), kill_grace_(kill_grace) {}

  void line(platform::OutputStream stream, std::string& line, std::size_t dropped) override {
    if (dropped != 0) line += kTruncated;
    const bool out = stream == platform::OutputStream::out;
    (out ? out_tail_ : err_tail_).add(line);
    const auto& sink = out ? on_output_ : on_error_;
    if (sink) sink(line);
  }
  void exited() override { exited_ = true; }
  void woken() override {
    process_.terminate_group();
    canceled_ = true;
    kill_deadline_ = Clock::now() + kill_grace_;
  }
  std::optional<Clock::time_point> deadline() override {
    if (exited_ || kill_sent_) return std::nullopt;
    return kill_deadline_;
  }
  void timer() override {
    process_.kill_group();
    kill_sent_ = true;
  }

  [[nodiscard]] bool canceled() const noexcept { return canceled_; }
  Tail& out_tail() noexcept { return out_tail_; }
  Tail& err_tail() noexcept { return err_tail_; }

 private:
  platform::Process& process_;
  const std::function<void(std::string_view)>& on_output_;
  const std::function<void(std::string_view)>& on_error_;
  const std::chrono::milliseconds kill_grace_;
  Tail out_tail_, err_tail_;
  std::optional<Clock::time_point> kill_deadline_;
  bool exited_ = false, canceled_ = false, kill_sent_ = false;
};

}  // namespace

const char* tool_name(ToolKind kind) noexcept {
  switch (kind) {
    case ToolKind::pixi:
      return "pixi";
    case ToolKind::uv:
      return "uv";
    case ToolKind::micromamba:
      return "micromamba";
  }
  return "unknown";
}

const char* tool_env_var(ToolKind kind) noexcept {
  switch (kind) {
    case ToolKind::pixi:
      return "APPOSE_PIXI";
    case ToolKind::uv:
      return "APPOSE_UV";
    case ToolKind::micromamba:
      return "APPOSE_MICROMAMBA";
  }
  return "APPOSE_UNKNOWN";
}

std::filesystem::path tool_cache_path(ToolKind kind, const std::filesystem::path& root, HostOs os) {
  const std::string exe = executable_name(tool_name(kind), os);
  switch (kind) {
    case ToolKind::pixi:
      return root / ".pixi" / "bin" / exe;
    case ToolKind::uv:
      return root / ".uv" / "bin" / exe;
    case ToolKind::micromamba:
      // Where micromamba's own archive puts it: a conda package's layout for that system.
      return os == HostOs::windows ? root / ".mamba" / "Library" / "bin" / exe
                                   : root / ".mamba" / "bin" / exe;
  }
  return root / tool_name(kind);
}

std::optional<std::filesystem::path> locate_tool(
    ToolKind kind, const std::optional<std::filesystem::path>& explicit_path,
    const std::filesystem::path& root) {
  const char* name = tool_name(kind);
  const char* var = tool_env_var(kind);
  const fs::path cache = absolute_path(tool_cache_path(kind, root));
  // A setting that names a tool is the user's intent: falling back silently to another copy
  // would build with a tool they did not ask for.
  if (explicit_path) {
    if (explicit_path->empty()) {
      throw BuildException(fmt::format(
          "the {} executable given to the builder is an empty path: pass the path of the {} "
          "binary, or none to use ${}, {} or PATH",
          name, name, var, detail::utf8_string(cache)));
    }
    fs::path path = absolute_path(*explicit_path);
    if (std::string why = platform::executable_problem(detail::utf8_string(path)); !why.empty()) {
      throw BuildException(fmt::format(
          "the {} executable given to the builder, '{}', {}: pass the path of the {} binary, or "
          "none to use ${}, {} or PATH",
          name, detail::utf8_string(path), why, name, var, detail::utf8_string(cache)));
    }
    return path;
  }
  if (auto value = platform::env_var(var); value && !value->empty()) {
    fs::path path = absolute_path(utf8_path(*value));
    if (std::string why = platform::executable_problem(detail::utf8_string(path)); !why.empty()) {
      throw BuildException(fmt::format(
          "{} points to '{}', which {}: set {} to the path of the {} binary, or unset it to use "
          "{} or PATH",
          var, detail::utf8_string(path), why, var, name, detail::utf8_string(cache)));
    }
    return path;
  }
  if (platform::executable_problem(detail::utf8_string(cache)).empty()) return cache;
  std::string found =
      platform::find_executable(executable_name(name, kHostOs), platform::path_dirs());
  if (!found.empty()) return absolute_path(found);
  return std::nullopt;
}

CancelState::CancelState() try : event_() {
} catch (const Error& e) {
  throw BuildException("cannot create the build's cancel event", e.code());
}

ToolResult run_tool(const ToolCommand& command,
                    const std::function<void(std::string_view)>& on_output,
                    const std::function<void(std::string_view)>& on_error,
                    const CancelState* cancel, std::chrono::milliseconds kill_grace) {
  if (command.argv.empty() || command.argv[0].empty()) {
    throw BuildException("cannot run a build tool: empty command line");
  }
  if (command.cwd.empty()) {
    throw BuildException(fmt::format(
        "cannot run '{}': no working directory given (a tool never runs in the caller's)",
        command.argv[0]));
  }
  platform::SpawnOptions options{command.argv, detail::utf8_string(command.cwd),
                                 tool_environment(command.env)};
  platform::Process process;
  try {
    process = platform::Process::spawn(options);
  } catch (const Error& e) {
    std::string what = fmt::format(
        "cannot start the build tool '{}' in '{}' (check that the tool is executable and the "
        "directory exists)",
        command.argv[0], detail::utf8_string(command.cwd));
    if (e.code()) throw BuildException(what, e.code());
    throw BuildException(what + ": " + e.what());
  }
  process.close_stdin();

  platform::PumpOptions pump;
  pump.out = pump.err = {kMaxLine, /*repair_utf8=*/true, LineSplitter::Overflow::at_once};
  // No idle limit after the exit: the pipes are read to EOF, for kExitGrace at most.
  pump.drain_quiet = pump.drain_cap = kExitGrace;
  pump.wake = cancel != nullptr ? &cancel->event() : nullptr;
  // Clamped so that now + grace cannot overflow the clock.
  kill_grace = std::clamp(kill_grace, std::chrono::milliseconds(0),
                          std::chrono::milliseconds(std::chrono::hours(24 * 365)));
  ToolOutput output(process, on_output, on_error, kill_grace);
  try {
    // The child is never reaped before this returns: until then its pid names the process
    // group, so the group kills cannot hit a stranger.
    if (!platform::pump_output(process, pump, output).drained) {
      // The child is gone but a descendant holds the pipes. Killing the group ends it; one
      // that left the group (setsid) may hold them forever, but they are not read any more.
      process.kill_group();
    }
  } catch (...) {
    // No process may outlive a failed run: it would keep writing into the environment.
    process.kill_group();
    process.wait();
    throw;
  }
  ToolResult result;
  result.canceled = output.canceled();
  // The tool has exited; on cancel, a descendant that ignored SIGTERM must not keep working
  // in an environment the caller is about to discard.
  if (result.canceled) process.kill_group();
  result.exit_code = process.wait();
  result.output_text = output.out_tail().take();
  result.error_text = output.err_tail().take();
  return result;
}

BuildException tool_failure(std::string_view context, const ToolCommand& command,
                            const ToolResult& result) {
  std::string tail = !result.error_text.empty() ? result.error_text : result.output_text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' '))
    tail.pop_back();
  const int code = result.exit_code;
  std::string message =
      fmt::format("{}: `{}` exited with {}{}{}", context, fmt::join(command.argv, " "),
                  code < 0 ? fmt::format("signal {}", -code) : fmt::format("code {}", code),
                  tail.empty() ? "" : ":\n", tail);
  std::string tool = command.argv.empty()
                         ? std::string()
                         : detail::utf8_string(utf8_path(command.argv[0]).filename());
  return {message, std::move(tool), code, std::move(tail)};
}

}  // namespace appose::detail
