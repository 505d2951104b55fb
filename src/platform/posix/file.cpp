#include "platform/file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace appose::detail::platform {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

}  // namespace

File File::create_new(const std::filesystem::path& path, std::error_code& ec) noexcept {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  ec = fd < 0 ? last_error() : std::error_code();
  return File(fd);
}

File File::open_read(const std::filesystem::path& path, std::error_code& ec) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ec = fd < 0 ? last_error() : std::error_code();
  return File(fd);
}

File::File(File&& other) noexcept : handle_(std::exchange(other.handle_, kClosed)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = std::exchange(other.handle_, kClosed);
  }
  return *this;
}

File::~File() {
  close();
}

std::error_code File::write_all(const void* data, std::size_t size) noexcept {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::write(static_cast<int>(handle_), p, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  return {};
}

std::size_t File::read(void* data, std::size_t size, std::error_code& ec) noexcept {
  for (;;) {
    const ssize_t got = ::read(static_cast<int>(handle_), data, size);
    if (got >= 0) {
      ec.clear();
      return static_cast<std::size_t>(got);
    }
    if (errno != EINTR) {
      ec = last_error();
      return 0;
    }
  }
}

std::error_code File::close() noexcept {
  if (handle_ == kClosed) return {};
  // Not retried on EINTR: on Linux the descriptor is released either way.
  const int r = ::close(static_cast<int>(std::exchange(handle_, kClosed)));
  return r == 0 ? std::error_code() : last_error();
}

}  // namespace appose::detail::platform
