#include "platform/dir_lock.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <mutex>
#include <thread>

#include "appose/error.hpp"
#include "build/tool.hpp"
#include "platform/unique_fd.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

// flock(2) cannot wait with a timeout or be woken by our cancel descriptor, so a contended
// lock is waited for on a helper thread while the caller's thread sleeps in poll() on both the
// helper's "acquired" eventfd and the cancel eventfd: no retry loop. A canceled caller leaves
// the helper behind; when it eventually gets the lock it sees the caller is gone and releases
// it at once.
struct DirLock::Waiter {
  std::mutex mu;
  bool abandoned = false;
  int fd = -1;
  UniqueFd acquired{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
};

namespace {

/// Whether `fd` is still the file at `path`: a holder deletes the lock file as it lets go, so a
/// waiter that got the lock on the deleted file holds nothing anyone else can see.
bool still_linked(int fd, const fs::path& path) {
  struct stat held {};
  struct stat named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

DirLock::DirLock(const fs::path& dir, const std::function<void()>& on_wait,
                 const CancelState* cancel)
    : path_(dir.parent_path() / fmt::format(".{}.appose-lock", dir.filename().string())) {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  bool announced = false;
  // Runs again only when the file locked was deleted by the holder before us (see the header).
  for (;;) {
    UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      throw BuildException(fmt::format("cannot create the lock file {}", path_.string()),
                           std::error_code(errno, std::generic_category()));
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        throw BuildException(fmt::format("cannot lock {}", path_.string()),
                             std::error_code(errno, std::generic_category()));
      }
      if (!announced && on_wait) on_wait();
      announced = true;
      fd = UniqueFd(wait(fd.release(), dir, cancel));
    }
    if (still_linked(fd.get(), path_)) {
      fd_ = fd.release();
      return;
    }
  }
}

int DirLock::wait(int raw_fd, const fs::path& dir, const CancelState* cancel) {
  auto waiter = std::make_shared<Waiter>();
  waiter->fd = raw_fd;
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
    const std::uint64_t one = 1;
    (void)!::write(waiter->acquired.get(), &one, sizeof one);
  }).detach();

  for (;;) {
    pollfd fds[2] = {{waiter->acquired.get(), POLLIN, 0}, {cancel ? cancel->fd() : -1, POLLIN, 0}};
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
      std::uint64_t got = 0;
      if (::read(waiter->acquired.get(), &got, sizeof got) == sizeof got) {
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

DirLock::~DirLock() {
  if (fd_ < 0) return;
  // Deleted while still held, so that no one can lock this file after us: a waiter that
  // already opened it finds it unlinked and locks a fresh one (the constructor's loop).
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace appose::detail
