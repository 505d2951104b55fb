// The benchmarks' child processes; see child.hpp.

#include "child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>
#include <utility>

extern char** environ;

namespace appose::bench {

namespace {

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The pieces of posix_spawn, released on every path out of spawn().
struct SpawnParts {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  bool actions_made = false;
  bool attr_made = false;

  SpawnParts() = default;
  SpawnParts(const SpawnParts&) = delete;
  SpawnParts& operator=(const SpawnParts&) = delete;
  ~SpawnParts() {
    for (int* pair : {in, out, err}) {
      close_fd(pair[0]);
      close_fd(pair[1]);
    }
    if (actions_made) posix_spawn_file_actions_destroy(&actions);
    if (attr_made) posix_spawnattr_destroy(&attr);
  }
};

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

Child Child::spawn(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env) {
  if (argv.empty()) fail(EINVAL, "spawn: no command");
  SpawnParts p;
  // Close-on-exec: only the ends duplicated onto 0-2 reach the child.
  for (int* pair : {p.in, p.out, p.err}) {
    if (::pipe2(pair, O_CLOEXEC) != 0) fail(errno, "pipe2");
  }
  if (int e = posix_spawn_file_actions_init(&p.actions)) fail(e, "posix_spawn_file_actions_init");
  p.actions_made = true;
  posix_spawn_file_actions_adddup2(&p.actions, p.in[0], 0);
  posix_spawn_file_actions_adddup2(&p.actions, p.out[1], 1);
  posix_spawn_file_actions_adddup2(&p.actions, p.err[1], 2);
  if (int e = posix_spawnattr_init(&p.attr)) fail(e, "posix_spawnattr_init");
  p.attr_made = true;
  // Its own group, so that kill() reaches what it starts; the signal state of a fresh process,
  // whatever this one blocks or ignores.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setpgroup(&p.attr, 0);
  posix_spawnattr_setsigdefault(&p.attr, &all);
  posix_spawnattr_setsigmask(&p.attr, &none);
  posix_spawnattr_setflags(
      &p.attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!env.contains(std::string(entry.substr(0, entry.find('=')))))
      env_strings.emplace_back(entry);
  }
  for (const auto& [name, value] : env)
    env_strings.push_back(name + "=" + value);
  std::vector<char*> envp, args;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy)
    args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = -1;
  if (int e = posix_spawnp(&pid, args[0], &p.actions, &p.attr, args.data(), envp.data())) {
    fail(e, "cannot start " + argv.front());
  }
  Child child;
  child.pid_ = pid;
  child.stdin_ = std::exchange(p.in[1], -1);
  child.stdout_ = std::exchange(p.out[0], -1);
  child.stderr_ = std::exchange(p.err[0], -1);
  return child;
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_(std::exchange(other.stdin_, -1)),
      stdout_(std::exchange(other.stdout_, -1)),
      stderr_(std::exchange(other.stderr_, -1)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    stdin_ = std::exchange(other.stdin_, -1);
    stdout_ = std::exchange(other.stdout_, -1);
    stderr_ = std::exchange(other.stderr_, -1);
  }
  return *this;
}

Child::~Child() {
  release();
}

void Child::release() noexcept {
  close_fd(stdin_);
  if (pid_ > 0) {
    kill();
    wait();
  }
  close_fd(stdout_);
  close_fd(stderr_);
}

bool Child::write_stdin(std::string_view data) noexcept {
  // SIGPIPE is blocked in this thread for the write, and one it raised is taken back before
  // unblocking (unless one was already pending): a dead reader yields EPIPE, not death.
  sigset_t pipe_set, pending, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  bool ok = stdin_ >= 0;
  while (ok && !data.empty()) {
    const ssize_t n = ::write(stdin_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      if (errno == EPIPE && !was_pending) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
      break;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return ok;
}

void Child::close_stdin() noexcept {
  close_fd(stdin_);
}

void Child::kill() noexcept {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);  // in case it left its group
}

int Child::wait() noexcept {
  if (pid_ <= 0) return -1;
  int status = 0;
  pid_t reaped = -1;
  do {
    reaped = ::waitpid(pid_, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  pid_ = -1;
  if (reaped < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace appose::bench
