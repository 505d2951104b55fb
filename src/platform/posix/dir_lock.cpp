#include "platform/dir_lock.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "appose/error.hpp"
#include "platform/posix/unique_fd.hpp"

namespace fs = std::filesystem;

namespace appose::detail::platform {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

// flock(2) cannot wait with a timeout or be woken by the cancel descriptor, so a contended
// lock is waited for on a helper thread while the caller's thread sleeps in poll() on both the
// helper's "acquired" pipe and the cancel descriptor: no retry loop. A canceled caller leaves
// the helper behind; when it eventually gets the lock it sees the caller is gone and releases
// it at once.
struct Waiter {
  std::mutex mu;
  bool abandoned = false;
  int fd = -1;
  UniqueFd acquired_read;   ///< readable once the helper holds the lock; non-blocking
  UniqueFd acquired_write;  ///< the helper writes one byte here
};

/// Both ends close-on-exec, the read end non-blocking (a pipe rather than an eventfd: POSIX).
void open_acquired_pipe(Waiter& waiter) {
  if (auto ec = open_pipe(waiter.acquired_read, waiter.acquired_write)) {
    throw BuildException("cannot wait for the build lock (too many open files? raise ulimit -n)",
                         ec);
  }
  (void)::fcntl(waiter.acquired_read.get(), F_SETFL, O_NONBLOCK);
}

/// Blocks until `raw_fd` (owned from here on) is locked or `cancel` becomes readable; returns
/// it locked.
int wait_for_lock(int raw_fd, const fs::path& dir, int cancel) {
  auto waiter = std::make_shared<Waiter>();
  waiter->fd = raw_fd;
  try {
    open_acquired_pipe(*waiter);
  } catch (...) {
    ::close(raw_fd);
    throw;
  }
  std::thread([waiter] {
    int r = 0;
    do {
      r = ::flock(waiter->fd, LOCK_EX);
    } while (r != 0 && errno == EINTR);
    std::lock_guard lock(waiter->mu);
    if (waiter->abandoned) {
      ::close(waiter->fd);  // releases the lock nobody wants any more
      waiter->fd = -1;
      return;
    }
    const char one = 1;
    (void)!::write(waiter->acquired_write.get(), &one, sizeof one);
  }).detach();

  for (;;) {
    pollfd fds[2] = {{waiter->acquired_read.get(), POLLIN, 0}, {cancel, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (fds[0].revents != 0) {
      std::lock_guard lock(waiter->mu);
      const int fd = waiter->fd;
      waiter->fd = -1;
      return fd;
    }
    if (fds[1].revents != 0) {
      std::lock_guard lock(waiter->mu);
      // The helper may have acquired the lock just now: then release it here.
      char got = 0;
      if (::read(waiter->acquired_read.get(), &got, sizeof got) == sizeof got) {
        ::close(waiter->fd);
        waiter->fd = -1;
      } else {
        waiter->abandoned = true;
      }
      throw BuildException(
          fmt::format("canceled while waiting for another build of {} to finish", dir.string()));
    }
  }
}

/// Whether `fd` is still the file at `path`: a holder deletes the lock file as it lets go, so a
/// waiter that got the lock on the deleted file holds nothing anyone else can see.
bool still_linked(int fd, const fs::path& path) {
  struct stat held {};
  struct stat named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

DirLock::DirLock(const fs::path& dir, const std::function<void()>& on_wait, const WakeEvent* cancel)
    : path_(dir.parent_path() / fmt::format(".{}.appose-lock", dir.filename().string())) {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  bool announced = false;
  // Runs again only when the file locked was deleted by the holder before us (see the header).
  for (;;) {
    UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      throw BuildException(fmt::format("cannot create the lock file {}", path_.string()),
                           last_error());
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        throw BuildException(fmt::format("cannot lock {}", path_.string()), last_error());
      }
      if (!announced && on_wait) on_wait();
      announced = true;
      fd = UniqueFd(wait_for_lock(
          fd.release(), dir, cancel != nullptr ? static_cast<int>(cancel->native_handle()) : -1));
    }
    if (still_linked(fd.get(), path_)) {
      handle_ = fd.release();
      return;
    }
  }
}

DirLock::~DirLock() {
  if (handle_ < 0) return;
  // Deleted while still held, so that no one can lock this file after us: a waiter that
  // already opened it finds it unlinked and locks a fresh one (the constructor's loop).
  ::unlink(path_.c_str());
  ::close(static_cast<int>(handle_));
}

}  // namespace appose::detail::platform
