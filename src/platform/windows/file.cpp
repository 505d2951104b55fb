#include "platform/file.hpp"

#include <utility>

#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

namespace {

HANDLE as_handle(std::intptr_t handle) noexcept {
  return reinterpret_cast<HANDLE>(handle);
}

/// CreateFileW's result as File's handle: INVALID_HANDLE_VALUE is File's kClosed (-1).
std::intptr_t opened(HANDLE h, std::error_code& ec) noexcept {
  ec = h == INVALID_HANDLE_VALUE ? win32::last_error() : std::error_code();
  return reinterpret_cast<std::intptr_t>(h);
}

}  // namespace

File File::create_new(const std::filesystem::path& path, std::error_code& ec) noexcept {
  // CREATE_NEW fails on an existing file (ERROR_FILE_EXISTS). The default security (the
  // directory's inherited ACL) is Windows' "readable by others, writable by its owner". Others
  // may read it, rename it or delete it while it is written, as on POSIX; the handle is not
  // inherited by child processes.
  return File(opened(::CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                                   nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr),
                     ec));
}

File File::open_read(const std::filesystem::path& path, std::error_code& ec) noexcept {
  return File(opened(::CreateFileW(path.c_str(), GENERIC_READ,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr),
                     ec));
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
  return win32::write_all(as_handle(handle_), data, size);
}

std::size_t File::read(void* data, std::size_t size, std::error_code& ec) noexcept {
  return win32::read_some(as_handle(handle_), data, size, ec);
}

std::error_code File::close() noexcept {
  if (handle_ == kClosed) return {};
  return ::CloseHandle(as_handle(std::exchange(handle_, kClosed))) ? std::error_code()
                                                                   : win32::last_error();
}

}  // namespace appose::detail::platform
