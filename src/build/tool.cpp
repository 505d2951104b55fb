// Running the build tools: locating pixi/uv/micromamba, streaming a command's output line by
// line, and stopping it (and everything it started) on request.

#include "build/tool.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "appose/error.hpp"
#include "platform/process.hpp"

extern char** environ;

namespace appose::detail {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

// ---------------------------------------------------------------------------------------------
// Locating the tools

/// Why `path` cannot be run, or empty if it can. Spelled out because the user has to fix it.
std::string unusable_reason(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? "does not exist"
                           : fmt::format("cannot be read ({})", last_error().message());
  }
  if (S_ISDIR(st.st_mode)) return "is a directory, not the executable";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (::access(path.c_str(), X_OK) != 0) return "is not executable (chmod +x it)";
  return {};
}

fs::path absolute_path(const fs::path& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal();
}

// ---------------------------------------------------------------------------------------------
// Splitting output into lines

constexpr std::size_t kMaxLine = std::size_t{1} << 20;
constexpr std::size_t kTailBytes = std::size_t{64} << 10;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";                  // U+FFFD
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

/// Turns one stream's bytes into lines of valid UTF-8. Bytes arrive in arbitrary chunks, so a
/// multi-byte sequence or a "\r\n" may straddle two reads: that state is carried between
/// feed() calls. Memory is bounded by kMaxLine plus the tail, however long a line is.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(std::string_view)>& sink) : sink_(sink) {}

  void feed(std::string_view data) {
    std::size_t i = 0;
    while (i < data.size()) {
      if (discarding_) {
        // '\n' is never part of a multi-byte sequence, so skipping to it is safe.
        auto nl = data.find('\n', i);
        if (nl == std::string_view::npos) return;
        discarding_ = false;
        i = nl + 1;
        continue;
      }
      const auto b = static_cast<unsigned char>(data[i]);
      if (need_ > 0) {
        if (b >= lo_ && b <= hi_) {
          seq_[seq_len_++] = data[i++];
          lo_ = 0x80;
          hi_ = 0xBF;
          if (--need_ == 0) {
            append({seq_, seq_len_});
            seq_len_ = 0;
          }
          continue;
        }
        // An ill-formed sequence becomes one U+FFFD (the "maximal subpart" rule Python and
        // browsers use); the byte that broke it is looked at afresh.
        drop_sequence();
        continue;
      }
      if (b < 0x80) {
        std::size_t j = i;
        while (j < data.size() && static_cast<unsigned char>(data[j]) < 0x80 && data[j] != '\n' &&
               data[j] != '\r') {
          ++j;
        }
        if (j > i) {
          append(data.substr(i, j - i));
          i = j;
        } else if (b == '\n') {
          ++i;
          end_line();
        } else {  // '\r': kept back until we know whether '\n' follows
          ++i;
          if (pending_cr_) add("\r");
          pending_cr_ = !discarding_;
        }
        continue;
      }
      ++i;
      start_sequence(b);
    }
  }

  /// End of the stream: an unterminated last line is a line too.
  void finish() {
    if (need_ > 0) drop_sequence();
    if (discarding_) {
      discarding_ = false;
      return;
    }
    if (!line_.empty() || pending_cr_) end_line();
  }

  /// The last kTailBytes of what was delivered, lines joined by '\n'.
  std::string take_tail() {
    if (!tail_.empty() && tail_.back() == '\n') tail_.pop_back();
    keep_tail(tail_, kTailBytes);
    return std::move(tail_);
  }

 private:
  void start_sequence(unsigned char b) {
    // Well-formed UTF-8 (Unicode table 3-7): the second byte's range excludes overlong forms,
    // surrogates and code points above U+10FFFF.
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b == 0xE0) {
      need = 2;
      lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      need = 2;
    } else if (b == 0xED) {
      need = 2;
      hi = 0x9F;
    } else if (b == 0xF0) {
      need = 3;
      lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      need = 3;
    } else if (b == 0xF4) {
      need = 3;
      hi = 0x8F;
    }
    if (need == 0) {
      append(kReplacement);
      return;
    }
    seq_[0] = static_cast<char>(b);
    seq_len_ = 1;
    need_ = need;
    lo_ = lo;
    hi_ = hi;
  }

  void drop_sequence() {
    need_ = 0;
    seq_len_ = 0;
    append(kReplacement);
  }

  /// Adds valid UTF-8 without '\n' to the current line.
  void append(std::string_view text) {
    if (pending_cr_) {
      pending_cr_ = false;
      add("\r");
    }
    add(text);
  }

  void add(std::string_view text) {
    if (discarding_) return;
    if (line_.size() + text.size() <= kMaxLine) {
      line_ += text;
      return;
    }
    // Deliver what fits now rather than at the newline: the line may never end (a tool that
    // prints a progress bar forever), and holding it would be unbounded anyway.
    std::size_t fit = kMaxLine - line_.size();
    while (fit > 0 && continuation(text[fit]))
      --fit;
    line_ += text.substr(0, fit);
    line_ += kTruncated;
    discarding_ = true;
    pending_cr_ = false;
    deliver();
  }

  void end_line() {
    pending_cr_ = false;
    deliver();
  }

  void deliver() {
    if (line_.size() >= kTailBytes) {
      tail_.assign(utf8_suffix(line_, kTailBytes - 1));
    } else {
      tail_ += line_;
    }
    tail_ += '\n';
    if (tail_.size() > 2 * kTailBytes) keep_tail(tail_, kTailBytes);
    // line_ keeps its capacity (at most kMaxLine plus the marker): no allocation per line.
    if (sink_) sink_(line_);
    line_.clear();
  }

  const std::function<void(std::string_view)>& sink_;
  std::string line_;
  std::string tail_;
  char seq_[4] = {};
  std::size_t seq_len_ = 0;
  std::size_t need_ = 0;
  unsigned char lo_ = 0x80, hi_ = 0xBF;
  bool pending_cr_ = false;
  bool discarding_ = false;
};

// ---------------------------------------------------------------------------------------------
// Running

int millis_until(Clock::time_point deadline, Clock::time_point now) noexcept {
  if (deadline <= now) return 0;
  // Rounded up: rounding down would wake poll() just before the deadline and spin on 0 ms.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

/// Whether the child has exited, without reaping it: only for kernels without pidfds.
bool exited_unreaped(pid_t pid) noexcept {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

/// Reads both pipes until they close and the child has exited, or until the exit grace ends.
/// Never reaps the child: until it is reaped its pid names the process group, so killpg()
/// cannot hit a stranger. Returns whether the command was canceled.
bool pump(Process& process, LineSplitter& out, LineSplitter& err, const CancelState* cancel,
          std::chrono::milliseconds kill_grace) {
  struct Stream {
    int fd;
    LineSplitter& lines;
    bool open = true;
  };
  Stream streams[2] = {{process.stdout_fd(), out}, {process.stderr_fd(), err}};
  const int exit_fd = process.exit_fd();
  // Clamped so that now + grace cannot overflow the clock.
  kill_grace = std::clamp(kill_grace, std::chrono::milliseconds(0),
                          std::chrono::milliseconds(std::chrono::hours(24 * 365)));

  bool exited = false, term_sent = false, kill_sent = false;
  std::optional<Clock::time_point> kill_deadline, exit_deadline;
  std::string buffer(std::size_t{64} << 10, '\0');

  while (streams[0].open || streams[1].open || !exited) {
    const auto now = Clock::now();
    if (!term_sent && cancel != nullptr && cancel->canceled()) {
      process.kill_group(SIGTERM);
      term_sent = true;
      kill_deadline = now + kill_grace;
    }
    if (kill_deadline && !exited && !kill_sent && now >= *kill_deadline) {
      process.kill_group(SIGKILL);
      kill_sent = true;
    }
    if (exit_deadline && now >= *exit_deadline) {
      // The child is gone but a descendant holds the pipes. Killing the group ends it; one
      // that left the group (setsid) may hold them forever, so stop reading either way.
      process.kill_group(SIGKILL);
      break;
    }

    pollfd fds[4];
    Stream* owners[2] = {};
    nfds_t n = 0;
    for (auto& s : streams) {
      if (!s.open) continue;
      owners[n] = &s;
      fds[n++] = {s.fd, POLLIN, 0};
    }
    const nfds_t n_streams = n;
    int exit_index = -1;
    if (!exited && exit_fd >= 0) {
      exit_index = static_cast<int>(n);
      fds[n++] = {exit_fd, POLLIN, 0};
    }
    // The eventfd is never read: it only wakes poll(), canceled() is checked at the top of the
    // loop, and it is no longer polled once SIGTERM is sent.
    if (!term_sent && cancel != nullptr) fds[n++] = {cancel->fd(), POLLIN, 0};
    int timeout = -1;
    auto until = [&](Clock::time_point deadline) {
      int ms = millis_until(deadline, now);
      timeout = timeout < 0 ? ms : std::min(timeout, ms);
    };
    if (kill_deadline && !exited && !kill_sent) until(*kill_deadline);
    if (exit_deadline) until(*exit_deadline);
    // Kernels before 5.3 have no pidfd: there, and only there, the exit is checked on a tick.
    if (!exited && exit_fd < 0) until(now + std::chrono::milliseconds(50));

    int ready = ::poll(fds, n, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw BuildException("cannot wait for the build tool's output", last_error());
    }

    for (nfds_t k = 0; k < n_streams; ++k) {
      if (fds[k].revents == 0) continue;
      Stream& s = *owners[k];
      ssize_t got;
      do {
        got = ::read(s.fd, buffer.data(), buffer.size());
      } while (got < 0 && errno == EINTR);
      if (got > 0) {
        s.lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
      } else if (got == 0 || errno != EAGAIN) {
        s.open = false;
        s.lines.finish();
      }
    }
    bool now_exited = false;
    if (exit_index >= 0) {
      now_exited = fds[exit_index].revents != 0;
    } else if (!exited && exit_fd < 0) {
      now_exited = exited_unreaped(process.pid());
    }
    if (now_exited) {
      exited = true;
      if (streams[0].open || streams[1].open) exit_deadline = Clock::now() + kExitGrace;
    }
  }

  for (auto& s : streams) {
    if (s.open) s.lines.finish();
  }
  return term_sent;
}

bool activation_variable(std::string_view name) noexcept {
  for (std::string_view prefix : {"CONDA_", "PIXI_", "MAMBA_"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  for (std::string_view exact : {"CONDARC", "MAMBARC", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT",
                                 "PYTHONHOME", "PYTHONPATH"}) {
    if (name == exact) return true;
  }
  return false;
}

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

std::filesystem::path tool_cache_path(ToolKind kind, const std::filesystem::path& root) {
  switch (kind) {
    case ToolKind::pixi:
      return root / ".pixi" / "bin" / "pixi";
    case ToolKind::uv:
      return root / ".uv" / "bin" / "uv";
    case ToolKind::micromamba:
      return root / ".mamba" / "bin" / "micromamba";
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
          name, name, var, cache.string()));
    }
    fs::path path = absolute_path(*explicit_path);
    if (std::string why = unusable_reason(path); !why.empty()) {
      throw BuildException(fmt::format(
          "the {} executable given to the builder, '{}', {}: pass the path of the {} binary, or "
          "none to use ${}, {} or PATH",
          name, path.string(), why, name, var, cache.string()));
    }
    return path;
  }
  if (const char* value = std::getenv(var); value != nullptr && *value != '\0') {
    fs::path path = absolute_path(value);
    if (std::string why = unusable_reason(path); !why.empty()) {
      throw BuildException(fmt::format(
          "{} points to '{}', which {}: set {} to the path of the {} binary, or unset it to use "
          "{} or PATH",
          var, path.string(), why, var, name, cache.string()));
    }
    return path;
  }
  if (unusable_reason(cache).empty()) return cache;
  std::string found = find_executable(name, path_dirs());
  if (!found.empty()) return absolute_path(found);
  return std::nullopt;
}

CancelState::CancelState() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_.valid()) throw BuildException("cannot create the build's cancel event", last_error());
}

void CancelState::cancel() noexcept {
  if (canceled_.exchange(true)) return;
  // Only an atomic and write(): callable from a signal handler. errno is restored for the
  // code the handler interrupted.
  int saved = errno;
  std::uint64_t one = 1;
  ssize_t rc;
  do {
    rc = ::write(fd_.get(), &one, sizeof one);
  } while (rc < 0 && errno == EINTR);
  errno = saved;
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
  SpawnOptions options{command.argv, command.cwd.string(), tool_environment(command.env)};
  Process process;
  try {
    process = Process::spawn(options);
  } catch (const Error& e) {
    std::string what = fmt::format(
        "cannot start the build tool '{}' in '{}' (check that the tool is executable and the "
        "directory exists)",
        command.argv[0], command.cwd.string());
    if (e.code()) throw BuildException(what, e.code());
    throw BuildException(what + ": " + e.what());
  }
  process.close_stdin();

  ToolResult result;
  LineSplitter out(on_output), err(on_error);
  try {
    result.canceled = pump(process, out, err, cancel, kill_grace);
  } catch (...) {
    // No process may outlive a failed run: it would keep writing into the environment.
    process.kill_group(SIGKILL);
    process.wait();
    throw;
  }
  // The tool has exited; on cancel, a descendant that ignored SIGTERM must not keep working
  // in an environment the caller is about to discard.
  if (result.canceled) process.kill_group(SIGKILL);
  result.exit_code = process.wait();
  result.output_text = out.take_tail();
  result.error_text = err.take_tail();
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
  std::string tool =
      command.argv.empty() ? std::string() : fs::path(command.argv[0]).filename().string();
  return {message, std::move(tool), code, std::move(tail)};
}

std::map<std::string, std::optional<std::string>> tool_environment(
    const std::map<std::string, std::string>& builder_env) {
  std::map<std::string, std::optional<std::string>> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (activation_variable(name)) env.emplace(std::string(name), std::nullopt);
  }
  for (const auto& [name, value] : builder_env)
    env[name] = value;
  return env;
}

}  // namespace appose::detail
