#pragma once

// One build in progress: its configuration and directory, the located tool, the subscribers
// that see its progress and output, and the bookkeeping that decides what a failure may
// delete. The back-ends run their steps through it. Internal.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/error.hpp"
#include "envbuild/builder_config.hpp"
#include "envbuild/tool_backend.hpp"

namespace appose::detail {

class Build {
 public:
  /// Decides whether a tool's stderr line reaches the builder's error subscribers; it sees every
  /// line first (pixi's install monitor reads its progress from them).
  using ErrorFilter = std::function<bool(std::string_view line)>;

  /// A build of `config` (concrete) in `dir` with `backend`'s tool. Notes whether `dir` exists
  /// already: a directory that was there before stays the caller's.
  Build(const BuilderConfig& config, std::filesystem::path dir, const ToolBackend& backend);

  /// The configuration being built.
  [[nodiscard]] const BuilderConfig& config() const noexcept { return c_; }
  /// The environment's directory.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  /// Tells every progress subscriber, in order, on the calling thread.
  void progress(std::string_view title, std::int64_t current, std::int64_t maximum) const;

  /// The tool's executable: found where the builder, $APPOSE_<TOOL>, the peers' cache or PATH
  /// say, else downloaded into the peers' cache (BuildException saying how to fix it when that
  /// fails). Located once per build.
  const std::filesystem::path& tool();

  /// Runs `<tool> <flags> <args>` (the back-end places the flags) in `cwd` (default: the
  /// environments root), streaming its output to the subscribers; BuildException with the
  /// tool's error output if it fails or is canceled. `errors`, when given, sees every stderr
  /// line and decides whether it is forwarded.
  void run(const std::vector<std::string>& args, const std::filesystem::path& cwd = {},
           const ErrorFilter& errors = {});

  /// Creates the directory if it is missing, remembering whether this build made it.
  void ensure_dir();
  /// Wipes an Appose-owned directory and starts it anew; refuses one Appose does not own.
  void fresh_dir();
  /// Notes that the directory now exists by this build's doing (it, or a tool, made it). A
  /// directory that was there before the build stays the caller's.
  void adopt_created();

  /// Writes `text` to `file` whole (see write_file_atomic()).
  void write(const std::filesystem::path& file, std::string_view text) const;
  /// Writes the fingerprint and drops the building marker: the build is complete.
  void finish(std::string_view fingerprint) const;
  /// After a failure: a directory this build created goes again; one that existed before
  /// stays (emptied, if the build had to start from scratch; its marker keeps it Appose's).
  void abandon() const noexcept;

 private:
  std::filesystem::path tool_cwd() const;
  BuildException canceled(const std::string& shown) const;
  void mark() const;

  const BuilderConfig& c_;
  std::filesystem::path dir_;
  const ToolBackend& backend_;
  std::filesystem::path tool_;
  bool existed_;
  bool created_ = false;
};

}  // namespace appose::detail
