#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>

#include "system.hpp"

namespace appose::cli {

std::string executable_name(std::string_view name) {
  return std::string(name);
}

bool is_terminal(std::FILE* stream) {
  return ::isatty(::fileno(stream)) == 1;
}

std::size_t terminal_columns(std::FILE* stream) {
  winsize ws{};
  if (::ioctl(::fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

void prepare_console() {}

std::vector<std::string> utf8_arguments(int argc, char** argv) {
  return {argv, argv + argc};
}

std::optional<std::string> env_var(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool runnable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

bool writable_dir(const std::filesystem::path& dir) {
  return ::access(dir.c_str(), W_OK) == 0;
}

void set_env(const char* name, const std::string& value) {
  ::setenv(name, value.c_str(), 1);
}

std::optional<SharedMemorySpace> shared_memory_space(std::string& why) {
#ifdef __APPLE__
  (void)why;
  SharedMemorySpace space;
  space.what = "shared memory space";
  space.unchecked =
      "macOS has no /dev/shm: blocks are pageable memory like any other, bounded by RAM and "
      "swap, which grows on the disk";
  return space;
#else
  struct statvfs vfs {};
  if (::statvfs("/dev/shm", &vfs) != 0) {
    why = "cannot read /dev/shm's size (statvfs failed)";
    return std::nullopt;
  }
  SharedMemorySpace space;
  space.what = "/dev/shm space";
  space.free = static_cast<std::uintmax_t>(vfs.f_bavail) * vfs.f_frsize;
  space.total = static_cast<std::uintmax_t>(vfs.f_blocks) * vfs.f_frsize;
  space.grow_advice =
      "make /dev/shm larger: docker run --shm-size=2g, or mount -o remount,size=2g /dev/shm";
  return space;
#endif
}

}  // namespace appose::cli
