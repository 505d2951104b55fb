#include "util/fs_util.hpp"

#include <system_error>

namespace fs = std::filesystem;

namespace appose::detail {

std::filesystem::path utf8_path(std::string_view text) {
  return std::filesystem::path(std::u8string(text.begin(), text.end()));
}

std::string utf8_string(const std::filesystem::path& p) {
  const std::u8string text = p.u8string();
  return {text.begin(), text.end()};
}

void remove_quietly(const std::filesystem::path& p) noexcept {
  std::error_code ec;
  std::filesystem::remove(p, ec);
}

bool is_dir(const fs::path& p) noexcept {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_file(const fs::path& p) noexcept {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool path_exists(const fs::path& p) noexcept {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

bool is_empty_dir(const fs::path& p) noexcept {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

std::string absolute_dir(const fs::path& p) {
  auto abs = fs::absolute(p).lexically_normal();
  if (abs.has_relative_path() && !abs.has_filename()) abs = abs.parent_path();
  return utf8_string(abs);
}

}  // namespace appose::detail
