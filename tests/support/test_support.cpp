#include "support/test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __APPLE__
#include <libproc.h>
#include <sys/event.h>
#include <sys/proc_info.h>
#else
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace appose::test {

ExitWatch::ExitWatch(std::int64_t pid) {
  const auto p = static_cast<pid_t>(pid);
#ifdef __APPLE__
  fd_ = ::kqueue();
  if (fd_ < 0) {
    error_ = errno;
    return;
  }
  set_cloexec(fd_);
  struct kevent change {};
  EV_SET(&change, static_cast<uintptr_t>(p), EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, nullptr);
  if (::kevent(fd_, &change, 1, nullptr, 0, nullptr) != 0) {
    error_ = errno;
    ::close(fd_);
    fd_ = -1;
    // A zombie is refused with ESRCH, yet kill() still finds it: it has exited.
    if (error_ == ESRCH && ::kill(p, 0) == 0) {
      error_ = 0;
      exited_ = true;
    }
  }
#else
  fd_ = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
  if (fd_ < 0) error_ = errno;
#endif
}

ExitWatch::~ExitWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool ExitWatch::exited_within(std::chrono::milliseconds timeout) const {
  if (exited_) return true;
  if (fd_ < 0) return error_ == ESRCH;  // already gone
  // Both descriptors poll readable once the process has exited (a kqueue while an event is
  // pending, and nothing retrieves it).
  pollfd pfd{fd_, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) == 1;
}

bool wait_exit(std::int64_t pid, std::chrono::milliseconds timeout) {
  return ExitWatch(pid).exited_within(timeout);
}

bool shm_block_exists(const std::string& name) {
#ifdef __APPLE__
  const int fd = ::shm_open(("/" + name).c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::close(fd);
  return true;
#else
  return std::filesystem::exists("/dev/shm/" + name);
#endif
}

#ifdef __APPLE__
namespace {

/// proc_pidinfo's task info of `pid` (zeros if it is gone).
proc_taskinfo task_info(pid_t pid) {
  proc_taskinfo info{};
  const auto size = static_cast<int>(sizeof info);
  if (::proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &info, size) != size) info = proc_taskinfo{};
  return info;
}

}  // namespace

ThreadsAndFds threads_and_fds() {
  // Asked without a buffer, PROC_PIDLISTFDS gives room for more descriptors than are open.
  const int room = ::proc_pidinfo(::getpid(), PROC_PIDLISTFDS, 0, nullptr, 0);
  std::vector<proc_fdinfo> fds(room > 0 ? static_cast<std::size_t>(room) / sizeof(proc_fdinfo) : 0);
  const int filled = ::proc_pidinfo(::getpid(), PROC_PIDLISTFDS, 0, fds.data(),
                                    static_cast<int>(fds.size() * sizeof(proc_fdinfo)));
  return {static_cast<std::size_t>(task_info(::getpid()).pti_threadnum),
          filled > 0 ? static_cast<std::size_t>(filled) / sizeof(proc_fdinfo) : 0};
}

std::size_t resident_bytes(std::int64_t pid) {
  return task_info(pid == 0 ? ::getpid() : static_cast<pid_t>(pid)).pti_resident_size;
}
#else
namespace {

std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir))
    ++n;
  return n;
}

}  // namespace

ThreadsAndFds threads_and_fds() {
  return {count_entries("/proc/self/task"), count_entries("/proc/self/fd")};
}

std::size_t resident_bytes(std::int64_t pid) {
  // statm: one read, no parsing of the whole status file.
  std::ifstream statm("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}
#endif

int set_cloexec(int fd) {
  if (fd >= 0) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

void open_cloexec_pipe(int (&fds)[2]) {
#ifdef __APPLE__
  const bool ok = ::pipe(fds) == 0;
  if (ok) {
    set_cloexec(fds[0]);
    set_cloexec(fds[1]);
  }
#else
  const bool ok = ::pipe2(fds, O_CLOEXEC) == 0;
#endif
  if (!ok) throw std::system_error(errno, std::generic_category(), "pipe");
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  open_cloexec_pipe(in);
  open_cloexec_pipe(out);
  open_cloexec_pipe(err);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error("posix_spawnp " + argv[0] + " failed");
  }
  ProcessResult result;
  std::size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  std::array<pollfd, 3> fds{};
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    nfds_t n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (::poll(fds.data(), n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written == input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      std::array<char, 65536> buf{};
      ssize_t r = ::read(fds[i].fd, buf.data(), buf.size());
      bool is_out = fds[i].fd == out[0];
      if (r <= 0) {
        (is_out ? out_open : err_open) = false;
      } else {
        (is_out ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(r));
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return result;
}

ProcessResult run_python(const std::string& script, const std::vector<std::string>& args,
                         const std::string& input) {
  auto py = peer_python();
  if (!py) throw std::runtime_error("appose-python peer missing; run scripts/peers.sh");
  std::vector<std::string> argv{*py, "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input);
}

}  // namespace appose::test
