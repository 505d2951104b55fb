// Windows shared memory: named file mappings backed by the paging file, named like Python's
// multiprocessing.shared_memory ("wnsm_" + hex digits, no leading slash).
//
// A named mapping lives while any handle or view refers to it, and its *name* lives while any
// handle does: there is nothing to unlink. The creator therefore keeps its mapping handle open
// for as long as the block is mapped (others may still need to attach), and attachers keep
// theirs too, as Python's mmap objects do.

#include "platform/shm.hpp"

#include <array>
#include <cstdint>

#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

namespace {

// Kernel object names are limited to MAX_PATH characters.
constexpr std::size_t name_max = MAX_PATH;

// The UTF-16 name the W functions want, without allocating (the callers are noexcept).
class WideName {
 public:
  explicit WideName(std::string_view name) noexcept {
    // A NUL would end the name early and name another block.
    if (name.empty() || name.size() > name_max || name.find('\0') != std::string_view::npos) {
      return;
    }
    const int n =
        MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name.data(),
                            static_cast<int>(name.size()), buf_.data(), static_cast<int>(name_max));
    if (n <= 0) return;
    buf_[static_cast<std::size_t>(n)] = L'\0';
    valid_ = true;
  }
  [[nodiscard]] bool valid() const noexcept { return valid_; }
  [[nodiscard]] const wchar_t* c_str() const noexcept { return buf_.data(); }

 private:
  std::array<wchar_t, name_max + 1> buf_{};
  bool valid_ = false;
};

HANDLE to_handle(std::uintptr_t handle) noexcept {
  return reinterpret_cast<HANDLE>(handle);
}
std::uintptr_t from_handle(HANDLE handle) noexcept {
  return reinterpret_cast<std::uintptr_t>(handle);
}

// Maps the whole section and reads back its size: Windows rounds a section up to whole pages,
// and VirtualQuery reports the rounded size (what Python reports as size too).
std::error_code map_view(HANDLE mapping, ShmMapping& out, ShmStep& failed) noexcept {
  void* address = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
  if (address == nullptr) {
    failed = ShmStep::map;
    return win32::last_error();
  }
  MEMORY_BASIC_INFORMATION info{};
  if (VirtualQuery(address, &info, sizeof info) == 0) {
    const DWORD err = GetLastError();
    UnmapViewOfFile(address);
    failed = ShmStep::stat;
    return win32::error_code(err);
  }
  out = ShmMapping{address, static_cast<std::size_t>(info.RegionSize), from_handle(mapping)};
  return {};
}

}  // namespace

std::string_view shm_name_prefix() noexcept {
  return "wnsm_";
}

std::size_t shm_name_max() noexcept {
  return name_max;
}

std::error_code shm_create(std::string_view name, std::size_t size, ShmMapping& out,
                           ShmStep& failed) noexcept {
  failed = ShmStep::none;
  const WideName wide(name);
  if (!wide.valid()) {
    failed = ShmStep::open;
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto size64 = static_cast<std::uint64_t>(size);
  // SEC_COMMIT (the default) charges the whole size against the commit limit now, so an
  // exhausted paging file fails here rather than at first touch.
  HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE,
                                      static_cast<DWORD>(size64 >> 32),
                                      static_cast<DWORD>(size64 & 0xFFFFFFFFu), wide.c_str());
  if (mapping == nullptr) {
    const std::error_code ec = win32::last_error();
    failed = ec == std::errc::no_space_on_device ? ShmStep::reserve : ShmStep::open;
    return ec;
  }
  // CreateFileMappingW opens an existing mapping of that name instead of failing; that block is
  // someone else's, so let go of it untouched.
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    CloseHandle(mapping);
    failed = ShmStep::open;
    return std::make_error_code(std::errc::file_exists);
  }
  if (auto ec = map_view(mapping, out, failed)) {
    CloseHandle(mapping);
    return ec;
  }
  return {};
}

std::error_code shm_attach(std::string_view name, ShmMapping& out, ShmStep& failed) noexcept {
  failed = ShmStep::none;
  const WideName wide(name);
  if (!wide.valid()) {
    failed = ShmStep::open;
    return std::make_error_code(std::errc::invalid_argument);
  }
  // OpenFileMappingW never creates: a missing name is ERROR_FILE_NOT_FOUND.
  HANDLE mapping = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wide.c_str());
  if (mapping == nullptr) {
    failed = ShmStep::open;
    return win32::last_error();
  }
  if (auto ec = map_view(mapping, out, failed)) {
    CloseHandle(mapping);
    return ec;
  }
  return {};
}

std::error_code shm_unmap(ShmMapping& mapping) noexcept {
  const ShmMapping m = mapping;
  mapping = ShmMapping{};
  std::error_code result;
  if (m.address != nullptr && !UnmapViewOfFile(m.address)) result = win32::last_error();
  if (m.handle != 0 && !CloseHandle(to_handle(m.handle)) && !result) {
    result = win32::last_error();
  }
  return result;
}

std::error_code shm_unlink(std::string_view name) noexcept {
  // The name goes away with the last handle (see the file comment); closing ours is close()'s
  // job, so there is nothing to do here.
  (void)name;
  return {};
}

}  // namespace appose::detail::platform
