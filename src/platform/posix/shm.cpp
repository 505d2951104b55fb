// POSIX shared memory: shm_open + mmap, named like Python's multiprocessing.shared_memory.

#include "platform/shm.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <type_traits>

#include "platform/posix/shm_calls.hpp"
#include "platform/posix/shm_name.hpp"

namespace appose::detail::platform {

namespace {

constexpr std::size_t name_max = kShmNameMax;
#if defined(NAME_MAX) && !defined(__APPLE__)
static_assert(kLinuxShmNameMax == NAME_MAX);
#endif

std::error_code errno_code(int err) noexcept {
  return {err, std::generic_category()};
}

template <typename Call>
auto retry_eintr(Call call) noexcept {
  auto r = call();
  while (r == -1 && errno == EINTR)
    r = call();
  return r;
}

// "/" + name, NUL-terminated, without allocating (the callers are noexcept).
class OsName {
 public:
  explicit OsName(std::string_view name) noexcept {
    if (!shm_name_fits(name, name_max)) return;
    buf_[0] = '/';
    std::memcpy(buf_.data() + 1, name.data(), name.size());
    buf_[name.size() + 1] = '\0';
    valid_ = true;
  }
  [[nodiscard]] bool valid() const noexcept { return valid_; }
  [[nodiscard]] const char* c_str() const noexcept { return buf_.data(); }

 private:
  std::array<char, name_max + 2> buf_{};
  bool valid_ = false;
};

constexpr PosixShmCalls real_calls = {
    [](const char* name, int flags, mode_t mode) { return ::shm_open(name, flags, mode); },
    [](int fd, off_t length) { return ::ftruncate(fd, length); },
    [](int fd, off_t offset, off_t length) {
#if defined(__linux__)
      return ::posix_fallocate(fd, offset, length);
#else
      // macOS has no posix_fallocate, and needs none: ftruncate itself allocates the memory
      // objects behind a block (and may be called once per block only).
      (void)fd;
      (void)offset;
      (void)length;
      return 0;
#endif
    },
    [](int fd, struct stat* st) { return ::fstat(fd, st); },
    [](void* addr, std::size_t length, int prot, int flags, int fd, off_t offset) {
      return ::mmap(addr, length, prot, flags, fd, offset);
    },
    [](void* addr, std::size_t length) { return ::munmap(addr, length); },
    [](const char* name) { return ::shm_unlink(name); },
    [](int fd) { return ::close(fd); },
};

// Closing never retries EINTR: Linux releases the descriptor even then, and a retry could close
// a descriptor another thread has just been given.
void close_fd(int fd) noexcept {
  posix_shm_calls().close(fd);
}

// Maps the block behind `fd` and closes `fd`: the mapping alone keeps the block alive, and an
// open descriptor would leak into every child process forked meanwhile.
std::error_code map_and_close(int fd, std::size_t size, ShmMapping& out, ShmStep& failed) noexcept {
  auto& sys = posix_shm_calls();
  void* address = sys.mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    const int err = errno;
    close_fd(fd);
    failed = ShmStep::map;
    return errno_code(err);
  }
  close_fd(fd);
  out = ShmMapping{address, size, 0};
  return {};
}

std::error_code stat_size(int fd, std::size_t& size) noexcept {
  struct stat st {};
  if (retry_eintr([&] { return posix_shm_calls().fstat(fd, &st); }) != 0) {
    return errno_code(errno);
  }
  size = static_cast<std::size_t>(st.st_size);
  return {};
}

}  // namespace

PosixShmCalls& posix_shm_calls() noexcept {
  static PosixShmCalls calls = real_calls;
  return calls;
}

const PosixShmCalls& posix_shm_real_calls() noexcept {
  return real_calls;
}

std::string_view shm_name_prefix() noexcept {
  return "psm_";
}

std::size_t shm_name_max() noexcept {
  return name_max;
}

std::error_code shm_create(std::string_view name, std::size_t size, ShmMapping& out,
                           ShmStep& failed) noexcept {
  failed = ShmStep::none;
  const OsName os_name(name);
  if (!os_name.valid()) {
    failed = ShmStep::open;
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (size > static_cast<std::make_unsigned_t<off_t>>(std::numeric_limits<off_t>::max())) {
    failed = ShmStep::resize;
    return std::make_error_code(std::errc::file_too_large);
  }
  const auto length = static_cast<off_t>(size);
  auto& sys = posix_shm_calls();

  // O_EXCL: an existing block is never reused, truncated or resized.
  const int fd = retry_eintr(
      [&] { return sys.shm_open(os_name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600); });
  if (fd < 0) {
    failed = ShmStep::open;
    return errno_code(errno);
  }
  // From here on the name is ours, so a failure must not leave a half-made block behind.
  auto abandon = [&](ShmStep step, int err) {
    close_fd(fd);
    sys.shm_unlink(os_name.c_str());
    failed = step;
    return errno_code(err);
  };

  // Once only: macOS refuses a second ftruncate of a block (EINVAL), and attaching never sizes.
  if (retry_eintr([&] { return sys.ftruncate(fd, length); }) != 0) {
    return abandon(ShmStep::resize, errno);
  }
  // ftruncate only sets the size of a sparse tmpfs file; without a reservation, a full /dev/shm
  // would surface later as SIGBUS on the first write to a page that cannot be backed.
  int err = sys.fallocate(fd, 0, length);
  while (err == EINTR)
    err = sys.fallocate(fd, 0, length);
  // A file system that cannot reserve space still gives a usable block, just without the early
  // check.
  if (err != 0 && err != EOPNOTSUPP && err != ENOSYS) return abandon(ShmStep::reserve, err);

  std::size_t actual = 0;
  if (auto ec = stat_size(fd, actual)) return abandon(ShmStep::stat, ec.value());
  if (auto ec = map_and_close(fd, actual, out, failed)) {
    sys.shm_unlink(os_name.c_str());
    return ec;
  }
  return {};
}

std::error_code shm_attach(std::string_view name, ShmMapping& out, ShmStep& failed) noexcept {
  failed = ShmStep::none;
  const OsName os_name(name);
  if (!os_name.valid()) {
    failed = ShmStep::open;
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto& sys = posix_shm_calls();
  // No O_CREAT: attaching to a missing name must fail, not create an empty block.
  const int fd = retry_eintr([&] { return sys.shm_open(os_name.c_str(), O_RDWR | O_CLOEXEC, 0); });
  if (fd < 0) {
    failed = ShmStep::open;
    return errno_code(errno);
  }
  std::size_t size = 0;
  if (auto ec = stat_size(fd, size)) {
    close_fd(fd);
    failed = ShmStep::stat;
    return ec;
  }
  if (size == 0) {
    close_fd(fd);
    out = ShmMapping{};
    failed = ShmStep::map;
    return std::make_error_code(std::errc::invalid_argument);
  }
  return map_and_close(fd, size, out, failed);
}

std::error_code shm_unmap(ShmMapping& mapping) noexcept {
  const ShmMapping m = mapping;
  mapping = ShmMapping{};
  if (m.address == nullptr) return {};
  if (posix_shm_calls().munmap(m.address, m.size) != 0) return errno_code(errno);
  return {};
}

std::error_code shm_unlink(std::string_view name) noexcept {
  const OsName os_name(name);
  if (!os_name.valid()) return std::make_error_code(std::errc::invalid_argument);
  if (retry_eintr([&] { return posix_shm_calls().shm_unlink(os_name.c_str()); }) != 0) {
    return errno_code(errno);
  }
  return {};
}

}  // namespace appose::detail::platform
