#include "environment/host_os.hpp"

#include "util/ascii.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

// Windows names are case-insensitive: PYTHON.EXE is as executable as python.exe.
bool ends_with_exe(std::string_view name) {
  return name.size() >= 4 && ascii_lower(name.substr(name.size() - 4)) == ".exe";
}

}  // namespace

bool same_env_name(std::string_view a, std::string_view b, HostOs os) {
  if (os != HostOs::windows) return a == b;
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

bool env_name_starts_with(std::string_view name, std::string_view prefix, HostOs os) {
  return name.size() >= prefix.size() && same_env_name(name.substr(0, prefix.size()), prefix, os);
}

bool is_absolute_path(std::string_view path, HostOs os) noexcept {
  if (os != HostOs::windows) return !path.empty() && path.front() == '/';
  const auto separator = [](char c) { return c == '\\' || c == '/'; };
  if (path.size() >= 2 && separator(path[0]) && separator(path[1])) return true;  // UNC
  const bool drive = path.size() >= 3 &&
                     ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
                     path[1] == ':';
  return drive && separator(path[2]);
}

bool has_directory_part(std::string_view path, HostOs os) noexcept {
  return path.find_first_of(os == HostOs::windows ? "/\\" : "/") != std::string_view::npos;
}

char path_list_separator(HostOs os) noexcept {
  return os == HostOs::windows ? ';' : ':';
}

std::string executable_name(std::string_view name, HostOs os) {
  std::string out(name);
  if (os == HostOs::windows && !ends_with_exe(name)) out += ".exe";
  return out;
}

std::vector<std::string> python_candidates(HostOs os) {
  if (os == HostOs::windows) return {"python.exe", "python3.exe", "bin/python.exe"};
  return {"python", "python3", "bin/python"};
}

std::vector<std::string> java_candidates(HostOs os) {
  std::vector<std::string> out;
  for (const char* exe : {"java", "bin/java", "jre/bin/java"})
    out.push_back(executable_name(exe, os));
  return out;
}

std::vector<fs::path> conda_bin_dirs(const fs::path& prefix, HostOs os) {
  if (os != HostOs::windows) return {prefix / "bin"};
  return {prefix,
          prefix / "Library" / "mingw-w64" / "bin",
          prefix / "Library" / "usr" / "bin",
          prefix / "Library" / "bin",
          prefix / "Scripts",
          prefix / "bin"};
}

const char* venv_bin_dir(HostOs os) noexcept {
  return os == HostOs::windows ? "Scripts" : "bin";
}

std::optional<std::string> worker_path(const std::vector<std::string>& bin_dirs,
                                       const std::vector<std::string>& inherited, HostOs os) {
  if (os != HostOs::windows || bin_dirs.empty()) return std::nullopt;
  std::string path;
  for (const auto* dirs : {&bin_dirs, &inherited}) {
    for (const std::string& dir : *dirs) {
      if (!path.empty()) path += path_list_separator(os);
      path += dir;
    }
  }
  return path;
}

bool private_channel_supported(HostOs os) noexcept {
  return os != HostOs::windows;
}

}  // namespace appose::detail
