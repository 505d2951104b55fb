#pragma once

// Running the build tools (pixi, micromamba, uv): finding their executables, running one
// command with its output streamed line by line, and stopping it on request. Internal.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/error.hpp"
#include "environment/activation_env.hpp"
#include "environment/host_os.hpp"
#include "platform/wake_event.hpp"

namespace appose::detail {

/// The tools the builders drive.
enum class ToolKind : std::uint8_t { pixi, uv, micromamba };

/// "pixi", "uv", "micromamba".
const char* tool_name(ToolKind kind) noexcept;
/// The variable naming an explicit executable: APPOSE_PIXI, APPOSE_UV, APPOSE_MICROMAMBA.
const char* tool_env_var(ToolKind kind) noexcept;
/// Where the peers install the tool under `root` on `os`: .pixi/bin/pixi, .uv/bin/uv,
/// .mamba/bin/micromamba; on Windows .pixi/bin/pixi.exe, .uv/bin/uv.exe and
/// .mamba/Library/bin/micromamba.exe.
std::filesystem::path tool_cache_path(ToolKind kind, const std::filesystem::path& root,
                                      HostOs os = kHostOs);

/// The tool's executable: `explicit_path` if given (it must be an executable file, else
/// BuildException), else $APPOSE_<TOOL> (same check), else the cache path under `root` if it is
/// executable, else the first `name` on PATH. nullopt when none is found.
std::optional<std::filesystem::path> locate_tool(
    ToolKind kind, const std::optional<std::filesystem::path>& explicit_path,
    const std::filesystem::path& root);

/// A request to stop, shared between the thread running a tool and the one asking it to stop.
/// A WakeEvent underneath, so that every wait of a build (the tool's output, the build lock, a
/// download) wakes up at once: no polling loop.
class CancelState {
 public:
  /// Throws BuildException when the event cannot be created.
  CancelState();
  /// Asks to stop (idempotent). Callable from any thread and from a signal handler.
  void cancel() noexcept { event_.set(); }
  /// Whether cancel() has been called.
  [[nodiscard]] bool canceled() const noexcept { return event_.is_set(); }
  /// The event itself, for waits in the platform layer.
  [[nodiscard]] const platform::WakeEvent& event() const noexcept { return event_; }

 private:
  platform::WakeEvent event_;
};

/// One tool command.
struct ToolCommand {
  std::vector<std::string> argv;  ///< argv[0]: the tool's absolute path
  std::filesystem::path cwd;      ///< never empty: the tools never run in the user's directory
  /// Set on top of the inherited environment, after tool_environment() has removed the
  /// caller's activation variables (the builder's env(); explicit values win).
  std::map<std::string, std::string> env;
};

/// What a finished command left.
struct ToolResult {
  int exit_code = 0;      ///< exit status, or -signal
  bool canceled = false;  ///< stopped by CancelState::cancel()
  /// The last 64 KiB of stderr's lines, joined by '\n', starting at a line when that keeps at
  /// least half of it: for the BuildException.
  std::string error_text;
  std::string output_text;  ///< the same for stdout
};

/// Runs `command` to completion on the calling thread. Its stdout and stderr are split into
/// lines at '\n' (a trailing '\r' dropped; a UTF-8 sequence split across reads is kept whole;
/// invalid UTF-8 replaced by U+FFFD) and each line is given to `on_output` / `on_error` on the
/// calling thread as soon as it is complete; a last line without newline is given at the end.
/// Either callback may be empty (the lines then only reach the result's tail).
/// The child's stdin is closed at once (a tool that prompts reads EOF instead of hanging the
/// build) and the child leads its own process group; when `cancel` fires, the whole group gets
/// SIGTERM, then SIGKILL after `kill_grace`, and the result says canceled. A line longer than
/// 1 MiB is cut there (the rest of it discarded, the cut marked). Once the child has exited, a
/// descendant still holding the pipes gets about 100 ms before the group is killed: a leftover
/// daemon must not hang the build. Throws BuildException when the command cannot be started;
/// an exception from a callback stops the command (the group is killed and the child reaped)
/// and is rethrown.
ToolResult run_tool(const ToolCommand& command,
                    const std::function<void(std::string_view)>& on_output,
                    const std::function<void(std::string_view)>& on_error,
                    const CancelState* cancel = nullptr,
                    std::chrono::milliseconds kill_grace = std::chrono::milliseconds(2000));

/// The exception for a command that ran and failed (result.exit_code != 0): the message is
/// `<context>: \`<command line>\` exited with code N` (or `signal N`) and the tool's error
/// output (its standard output when it wrote no errors); tool(), exit_code() and output_tail()
/// carry the same facts for programs. `context` says what was being done, e.g. "uv build of
/// /envs/x failed".
BuildException tool_failure(std::string_view context, const ToolCommand& command,
                            const ToolResult& result);

}  // namespace appose::detail
