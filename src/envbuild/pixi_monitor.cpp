#include "envbuild/pixi_monitor.hpp"

#include <cstdlib>
#include <optional>
#include <system_error>

#include "envbuild/conda_platform.hpp"
#include "util/read_file.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// The first run of digits after `after` in `text`.
std::optional<std::int64_t> number_after(std::string_view text, std::string_view after) {
  auto pos = text.find(after);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += after.size();
  while (pos < text.size() && (text[pos] < '0' || text[pos] > '9'))
    ++pos;
  if (pos >= text.size()) return std::nullopt;
  std::int64_t n = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
    n = n * 10 + (text[pos++] - '0');
  return n;
}

std::size_t indent_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ')
    ++i;
  return i;
}

std::string_view trimmed(std::string_view line) {
  auto b = line.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = line.find_last_not_of(" \t\r");
  return line.substr(b, e - b + 1);
}

}  // namespace

std::int64_t pixi_lock_conda_count(const fs::path& lock_file, const std::string& env_name) {
  const char* conda = conda_platform();
  if (conda == nullptr) return 0;
  const std::optional<std::string> text = read_file(lock_file);
  if (!text) return 0;
  // environments: / <env>: / packages: / <platform>: / - conda: ...
  int level = 0;
  std::int64_t count = 0;
  const std::string platform = std::string(conda) + ":";
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    const std::string_view t = trimmed(line);
    if (t.empty() || t.front() == '#') continue;
    const std::size_t indent = indent_of(line);
    switch (level) {
      case 0:
        if (indent == 0 && t == "environments:") level = 1;
        break;
      case 1:
        if (indent == 0) return count;
        if (indent == 2 && t == env_name + ":") level = 2;
        break;
      case 2:
        if (indent <= 2) return count;
        if (indent == 4 && t == "packages:") level = 3;
        break;
      case 3:
        if (indent <= 4) return count;
        if (indent == 6 && t == platform) level = 4;
        break;
      default:
        if (indent < 6 || (indent == 6 && t.front() != '-')) return count;
        if (t.rfind("- conda:", 0) == 0) ++count;
        break;
    }
  }
  return count;
}

PixiInstallMonitor::PixiInstallMonitor(fs::path env_dir, std::string env_name, Progress progress)
    : env_dir_(std::move(env_dir)),
      env_name_(std::move(env_name)),
      progress_(std::move(progress)) {}

void PixiInstallMonitor::count_conda() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_count_ < std::chrono::milliseconds(200)) return;
  last_count_ = now;
  std::int64_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(env_dir_ / ".pixi" / "envs" / env_name_ / "conda-meta", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".json") ++n;
  }
  progress_("Installing conda packages", std::min(n, conda_total_), conda_total_);
}

void PixiInstallMonitor::line(std::string_view text) {
  if (contains(text, "fetched") && contains(text, "records") && contains(text, "solve")) {
    ++platforms_;
    return;
  }
  if (contains(text, "resolved conda environment for solve group")) {
    ++solved_;
    if (platforms_ > 0) progress_("Solving", std::min(solved_, platforms_), platforms_);
    return;
  }
  if (contains(text, "conda_prefix: updating prefix for")) {
    conda_total_ = pixi_lock_conda_count(env_dir_ / "pixi.lock", env_name_);
    conda_installing_ = conda_total_ > 0;
    if (conda_installing_) progress_("Installing conda packages", 0, conda_total_);
    return;
  }
  if (contains(text, "conda_metadata: Prefix file updated")) {
    if (conda_installing_) progress_("Installing conda packages", conda_total_, conda_total_);
    conda_installing_ = false;
    return;
  }
  if (contains(text, "required packages are considered installed")) {
    // "pixi_install_pypi: <n> of <m> required packages are considered installed"
    if (auto done = number_after(text, "pixi_install_pypi:")) pypi_done_before_ = *done;
    if (auto total = number_after(text, " of ")) pypi_total_ = *total;
    return;
  }
  const std::int64_t to_install = pypi_total_ - pypi_done_before_;
  if (contains(text, "pixi_install_pypi: Prepared")) {
    if (auto n = number_after(text, "Prepared"); n && to_install > 0) {
      progress_("Downloading PyPI packages", std::min(*n, to_install), to_install);
    }
    return;
  }
  if (contains(text, "pixi_install_pypi: Installed")) {
    if (auto n = number_after(text, "Installed"); n && to_install > 0) {
      progress_("Installing PyPI packages", std::min(*n, to_install), to_install);
    }
    return;
  }
  if (contains(text, "Installed environment '")) {
    progress_("Installed the environment", 1, 1);
    return;
  }
  if (conda_installing_) count_conda();
}

}  // namespace appose::detail
