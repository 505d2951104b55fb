// POSIX process layer (Linux first; macOS compiles the same code without pidfd).

#include "platform/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "appose/error.hpp"

extern char** environ;

namespace appose::detail {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

/// RAII for posix_spawn's attribute objects, which must be destroyed on every path.
struct SpawnAttrs {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnAttrs() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;

  /// The child leads a new process group, with default signal dispositions and an empty mask.
  void own_group_default_signals() {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr,
        static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
  }
};

struct Pipe {
  UniqueFd read, write;
};

/// Moves `fd` above the standard descriptors. A host started with a closed stdin/stdout/stderr
/// gets pipe ends numbered 0-2, and the child's dup2 sequence would then overwrite one pipe end
/// with another.
UniqueFd above_stdio(UniqueFd fd) {
  if (fd.get() > STDERR_FILENO) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) throw Error("cannot create a pipe for the worker", last_error());
  return UniqueFd(moved);
}

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error("cannot create a pipe for the worker", last_error());
  return {above_stdio(UniqueFd(fds[0])), above_stdio(UniqueFd(fds[1]))};
}

/// argv[0] as posix_spawn needs it: a bare name (a launcher such as `pixi`) is looked up in the
/// child's PATH, as a shell (or Python's Popen) would.
std::string resolve_program(const SpawnOptions& options) {
  const std::string& program = options.argv[0];
  if (program.find('/') != std::string::npos) return program;
  std::vector<std::string> dirs;
  if (auto it = options.env.find("PATH"); it != options.env.end()) {
    if (it->second) dirs = split_path(*it->second);
  } else {
    dirs = path_dirs();
  }
  std::string found = find_executable(program, dirs);
  if (found.empty()) {
    throw Error(fmt::format("cannot start worker '{}': no such executable on PATH", program),
                std::make_error_code(std::errc::no_such_file_or_directory));
  }
  return found;
}

std::vector<std::string> child_environment(
    const std::map<std::string, std::optional<std::string>>& changes) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    std::string key(entry.substr(0, eq));
    if (changes.count(key) == 0) env.emplace_back(entry);
  }
  for (const auto& [key, value] : changes) {
    if (value) env.push_back(key + "=" + *value);
  }
  return env;
}

int decode_status(const siginfo_t& info) noexcept {
  // Exit code, or the negative signal number for a death by signal (as Python reports it).
  return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

UniqueFd open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));  // pidfds are close-on-exec already
#else
  (void)pid;
#endif
  return UniqueFd();
}

/// Writes all of `data` to the pipe `fd`. Blocks SIGPIPE in this thread for the write, and
/// swallows the one our write may raise, so a dead reader yields EPIPE instead of killing the
/// host. Dispositions stay untouched.
std::error_code write_all(int fd, std::string_view data) noexcept {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

  std::error_code result;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      result = last_error();
      break;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (result == std::errc::broken_pipe && !was_pending) {
    timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return result;
}

/// What the lifeline runs. It blocks on fd 3: a newline means the worker was reaped normally
/// (leave quietly); EOF means every copy of the write end is closed, i.e. the host is gone (or
/// dropped the Process), so it kills the worker's group. Terminal and termination signals are
/// ignored: a Ctrl-C that kills the host must not take the lifeline with it first.
constexpr const char* kLifelineScript =
    "trap '' HUP INT TERM QUIT; read -r _ <&3 || kill -s KILL -- \"-$1\"";

/// Starts a lifeline for the process group `pgid`, or returns an empty one if /bin/sh could not
/// be started (the caller carries on without).
Lifeline start_lifeline(pid_t pgid) noexcept {
  try {
    Pipe pipe = make_pipe();
    // posix_spawn's dup2 onto the same number would keep close-on-exec set.
    if (pipe.read.get() == 3) {
      int moved = ::fcntl(pipe.read.get(), F_DUPFD_CLOEXEC, 4);
      if (moved < 0) return {};
      pipe.read = UniqueFd(moved);
    }
    SpawnAttrs sa;
    posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&sa.actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&sa.actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&sa.actions, pipe.read.get(), 3);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&sa.actions, 4);
#endif
    // Its own process group: out of reach of signals sent to the host's group.
    sa.own_group_default_signals();
    std::string sh = "/bin/sh", dash_c = "-c", script = kLifelineScript, name = "appose-lifeline",
                group = std::to_string(pgid);
    std::vector<char*> argv = {sh.data(),   dash_c.data(), script.data(),
                               name.data(), group.data(),  nullptr};
    char* no_env[] = {nullptr};
    pid_t pid = -1;
    if (::posix_spawn(&pid, sh.c_str(), &sa.actions, &sa.attr, argv.data(), no_env) != 0) {
      return {};
    }
    return Lifeline(std::move(pipe.write), pid);
  } catch (...) {
    return {};
  }
}

}  // namespace

Process Process::spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    throw Error("cannot start a worker: empty command line");
  }
  const std::string program = resolve_program(options);
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();

  SpawnAttrs sa;
  posix_spawn_file_actions_adddup2(&sa.actions, in.read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, out.write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, err.write.get(), STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Belt and braces: every fd of ours is O_CLOEXEC, but a library in the host may have opened
  // one without it; the worker (and its children) must not inherit it.
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
#endif
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&sa.actions, options.cwd.c_str());
  }

  // Own process group, so that kill_group() also reaches the worker's children (launchers
  // such as `pixi run` start the real worker as a grandchild). Default signal dispositions
  // and an empty mask: the host may ignore SIGPIPE or block signals; the worker should not
  // inherit that.
  sa.own_group_default_signals();

  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const auto& a : options.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = child_environment(options.env);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &sa.actions, &sa.attr, argv.data(), envp.data());
  if (rc != 0) {
    std::string cwd_note = options.cwd.empty() ? "" : fmt::format(" in '{}'", options.cwd);
    throw Error(fmt::format("cannot start worker '{}'{} (check that it exists and is executable)",
                            options.argv[0], cwd_note),
                std::error_code(rc, std::generic_category()));
  }

  Process p;
  p.pid_ = pid;
  p.stdin_ = std::move(in.write);
  p.stdout_ = std::move(out.read);
  p.stderr_ = std::move(err.read);
  p.exit_fd_ = open_pidfd(pid);
  if (options.kill_with_host) p.lifeline_ = start_lifeline(pid);
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)),
      exit_fd_(std::move(other.exit_fd_)),
      lifeline_(std::move(other.lifeline_)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_code_) try_reap();
    pid_ = std::exchange(other.pid_, -1);
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
    exit_fd_ = std::move(other.exit_fd_);
    lifeline_ = std::move(other.lifeline_);
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) try_reap();
}

std::error_code Process::write_stdin(std::string_view data) noexcept {
  if (!stdin_.valid()) return std::make_error_code(std::errc::broken_pipe);
  return write_all(stdin_.get(), data);
}

void Process::close_stdin() noexcept {
  stdin_.reset();
}

void Process::close_output() noexcept {
  stdout_.reset();
  stderr_.reset();
}

std::optional<int> Process::try_reap() noexcept {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0 && info.si_pid == pid_) reaped_with(decode_status(info));
  return exit_code_;
}

int Process::wait() noexcept {
  if (exit_code_ || pid_ <= 0) return exit_code_.value_or(-1);
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED);
  } while (rc < 0 && errno == EINTR);
  reaped_with(rc == 0 ? decode_status(info) : -1);
  return *exit_code_;
}

void Process::reaped_with(int code) noexcept {
  exit_code_ = code;
  exit_fd_.reset();
  // The pid may be reused from now on: the lifeline must leave quietly.
  lifeline_.disarm();
}

Lifeline::Lifeline(Lifeline&& other) noexcept
    : pipe_(std::move(other.pipe_)), pid_(std::exchange(other.pid_, -1)) {}

Lifeline& Lifeline::operator=(Lifeline&& other) noexcept {
  if (this != &other) {
    release(false);
    pipe_ = std::move(other.pipe_);
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

void Lifeline::release(bool quietly) noexcept {
  if (pid_ <= 0) return;
  if (quietly) (void)write_all(pipe_.get(), "\n");
  pipe_.reset();
  // It exits as soon as it has read the newline or EOF (and, on EOF, signalled the group).
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void Process::kill_group(int signal) noexcept {
  // Until we reap the child, its pid (and so its process group id) cannot be reused, so
  // signalling by id is safe. After reaping we never signal.
  if (pid_ <= 0 || exit_code_) return;
  ::killpg(pid_, signal);
  ::kill(pid_, signal);
}

std::string find_executable(std::string_view name, const std::vector<std::string>& dirs) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty()) return {};
  if (name.front() == '/') {
    std::string p(name);
    return executable(p) ? p : std::string();
  }
  for (const auto& dir : dirs) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + std::string(name);
    if (executable(candidate)) return candidate;
  }
  return {};
}

std::vector<std::string> path_dirs() {
  const char* path = std::getenv("PATH");
  return path == nullptr ? std::vector<std::string>() : split_path(path);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> dirs;
  if (path.empty()) return dirs;
  std::string_view rest(path);
  while (true) {
    auto colon = rest.find(':');
    dirs.emplace_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return dirs;
}

}  // namespace appose::detail
