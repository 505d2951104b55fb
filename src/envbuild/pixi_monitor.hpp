#pragma once

// Progress phases of `pixi -vv install`, read from its debug log on stderr (the lines
// appose-java and appose-python parse), so a caller sees "Solving", "Installing conda
// packages 40/120", ... instead of a silent minute. Internal.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace appose::detail {

class PixiInstallMonitor {
 public:
  using Progress = std::function<void(std::string_view, std::int64_t, std::int64_t)>;

  /// `env_dir`: the project directory; `env_name`: the pixi environment being installed.
  PixiInstallMonitor(std::filesystem::path env_dir, std::string env_name, Progress progress);

  /// Feeds one stderr line; reports a phase when the line marks one. Conda installation is
  /// measured by counting `conda-meta/*.json` against the `- conda:` entries pixi.lock lists
  /// for this platform, re-counted at most every 200 ms while pixi keeps writing lines.
  void line(std::string_view text);

 private:
  void count_conda();

  std::filesystem::path env_dir_;
  std::string env_name_;
  Progress progress_;
  std::int64_t platforms_ = 0;
  std::int64_t solved_ = 0;
  std::int64_t conda_total_ = 0;
  bool conda_installing_ = false;
  std::chrono::steady_clock::time_point last_count_{};
  std::int64_t pypi_done_before_ = 0;
  std::int64_t pypi_total_ = 0;
};

/// The conda packages pixi.lock lists for `env_name` on this platform (linux-64, osx-arm64, ...),
/// read as the peers read it (a line-oriented walk, not a YAML parse: the file is pixi's own
/// and large). 0 when unknown.
std::int64_t pixi_lock_conda_count(const std::filesystem::path& lock_file,
                                   const std::string& env_name);

}  // namespace appose::detail
