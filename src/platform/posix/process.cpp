// POSIX process layer, Linux and macOS alike. What differs is underneath: the exit descriptor
// (platform/posix/exit_fd.hpp: a pidfd, or a kqueue), how pipes are made close-on-exec
// (open_pipe) and how a child is kept from inheriting anything else (closefrom on glibc,
// POSIX_SPAWN_CLOEXEC_DEFAULT on macOS).

#include "platform/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

#include "appose/error.hpp"
#include "platform/posix/environ.hpp"
#include "platform/posix/exit_fd.hpp"
#include "platform/posix/process_native.hpp"

namespace appose::detail::platform {

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
  /// On macOS it also inherits no descriptor but those the file actions name
  /// (POSIX_SPAWN_CLOEXEC_DEFAULT): what closefrom does on glibc, done by the kernel, and for
  /// descriptors a library opened without close-on-exec too.
  void own_group_default_signals() {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    int flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
#if defined(__APPLE__)
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    posix_spawnattr_setflags(&attr, static_cast<short>(flags));
  }

  /// Closes every descriptor from `first` on in the child, where the file actions can (glibc
  /// 2.34). On macOS POSIX_SPAWN_CLOEXEC_DEFAULT (above) does it for every descriptor.
  void close_from([[maybe_unused]] int first) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&actions, first);
#endif
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
  Pipe pipe;
  if (auto ec = open_pipe(pipe.read, pipe.write)) {
    throw Error("cannot create a pipe for the worker (too many open files? raise ulimit -n)", ec);
  }
  return {above_stdio(std::move(pipe.read)), above_stdio(std::move(pipe.write))};
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
  for (char** e = process_environ(); e != nullptr && *e != nullptr; ++e) {
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

/// Exit code, or the negative signal number for a death by signal (as Python reports it).
int decode_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

/// Reaps `pid` and returns its status as decode_status() gives it. With WNOHANG in `options`:
/// nullopt while it runs or when it cannot be waited for; blocking: -1 when it cannot be
/// waited for. waitpid rather than waitid: macOS's waitid has reported stopped children despite
/// WEXITED alone, and waitpid without WUNTRACED never does, on either system.
std::optional<int> reap(pid_t pid, int options) noexcept {
  int status = 0;
  pid_t rc;
  do {
    rc = ::waitpid(pid, &status, options);
  } while (rc < 0 && errno == EINTR);
  if (rc == pid) return decode_status(status);
  if ((options & WNOHANG) != 0) return std::nullopt;
  return -1;
}

/// Writes all of `data` to `fd`, retrying interruptions and short writes.
std::error_code write_loop(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

#if defined(__APPLE__)
/// Marks our write end `fd` so that a write to a dead reader fails with EPIPE instead of raising
/// SIGPIPE (F_SETNOSIGPIPE: macOS has no sigtimedwait to swallow the signal as Linux does). The
/// flag belongs to our end alone: the child's ends never carry it.
std::error_code no_sigpipe(int fd) noexcept {
  if (::fcntl(fd, F_SETNOSIGPIPE, 1) != 0) return last_error();
  return {};
}

/// Writes all of `data` to the pipe `fd`, which no_sigpipe() marked: a dead reader yields EPIPE.
std::error_code write_all(int fd, std::string_view data) noexcept {
  return write_loop(fd, data);
}
#else
/// Nothing to mark on Linux: write_all() keeps SIGPIPE away itself.
std::error_code no_sigpipe(int /*fd*/) noexcept {
  return {};
}

/// Writes all of `data` to the pipe `fd`. Blocks SIGPIPE in this thread for the write, and
/// swallows the one our write may raise, so a dead reader yields EPIPE instead of killing the
/// host. Dispositions stay untouched. Three system calls in all where the thread had SIGPIPE
/// unblocked (then none can be pending: an unblocked signal is delivered or discarded at once),
/// one more where it had it blocked, to leave one already pending alone.
std::error_code write_all(int fd, std::string_view data) noexcept {
  sigset_t pipe_set, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  const bool was_blocked = sigismember(&old_mask, SIGPIPE) == 1;
  bool was_pending = false;
  if (was_blocked) {
    sigset_t pending;
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
  }

  const std::error_code result = write_loop(fd, data);
  if (result == std::errc::broken_pipe && !was_pending) {
    timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  if (!was_blocked) pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return result;
}
#endif

/// What the lifeline runs. It reads lines on fd 3: "+pgid" adds a group to `g` (a list of ids,
/// each between spaces), "-pgid" takes one off. EOF means every copy of the write end is closed,
/// i.e. the host is gone: it kills every group still on the list. Terminal and termination
/// signals are ignored: a Ctrl-C that kills the host must not take the lifeline with it first.
constexpr const char* kLifelineScript =
    "trap '' HUP INT TERM QUIT; g=' '\n"
    "while read -r l <&3; do\n"
    "  case $l in\n"
    "  +*) g=\"$g${l#+} \" ;;\n"
    "  -*) i=${l#-}; case $g in *\" $i \"*) g=\"${g%%\" $i \"*} ${g#*\" $i \"}\" ;; esac ;;\n"
    "  esac\n"
    "done\n"
    "for i in $g; do kill -s KILL -- \"-$i\"; done";

/// One line for the lifeline, "+pgid" or "-pgid", made without allocating (release() is noexcept).
class GroupLine {
 public:
  GroupLine(char sign, pid_t pgid) noexcept {
    text_[0] = sign;
    char* end = std::to_chars(text_ + 1, text_ + sizeof text_ - 1, pgid).ptr;
    *end++ = '\n';
    size_ = static_cast<std::size_t>(end - text_);
  }
  [[nodiscard]] std::string_view view() const noexcept { return {text_, size_}; }

 private:
  char text_[24]{};
  std::size_t size_ = 0;
};

/// This process's lifeline (Lifeline): the shell, our end of its pipe, and the groups it guards,
/// so that a lifeline that died (killed by hand) is replaced with the same list. Created on first
/// use and never destroyed: its pipe must stay open until the process ends, whatever static
/// objects (a Service among them) are destroyed after it.
class LifelineKeeper {
 public:
  static LifelineKeeper& instance() {
    static auto* keeper = new LifelineKeeper;
    return *keeper;
  }

  bool guard(pid_t pgid) noexcept {
    std::lock_guard lock(mu_);
    try {
      groups_.push_back(pgid);
    } catch (...) {
      return false;
    }
    if (tell(GroupLine('+', pgid)) || restart()) return true;
    groups_.pop_back();
    return false;
  }

  void release(pid_t pgid) noexcept {
    std::lock_guard lock(mu_);
    auto it = std::find(groups_.begin(), groups_.end(), pgid);
    if (it == groups_.end()) return;
    groups_.erase(it);
    if (!tell(GroupLine('-', pgid)) && !groups_.empty()) (void)restart();
  }

  pid_t pid() noexcept {
    std::lock_guard lock(mu_);
    return pid_;
  }

 private:
  LifelineKeeper() = default;

  /// Writes `line` to the lifeline; false if none runs (it died: EPIPE), which restart() then
  /// replaces. Any other failure leaves it be: closing its pipe would make it kill every group.
  bool tell(const GroupLine& line) noexcept {
    if (pid_ <= 0) return false;
    const std::error_code ec = write_all(pipe_.get(), line.view());
    if (ec == std::errc::broken_pipe) {
      pipe_.reset();
      (void)reap(pid_, 0);  // it is gone: nothing reads its pipe
      pid_ = -1;
      return false;
    }
    return true;
  }

  /// Starts a lifeline (none runs) and hands it every group guarded.
  bool restart() noexcept {
    try {
      Pipe pipe = make_pipe();
      if (no_sigpipe(pipe.write.get())) return false;
      // posix_spawn's dup2 onto the same number would keep close-on-exec set.
      if (pipe.read.get() == 3) {
        int moved = ::fcntl(pipe.read.get(), F_DUPFD_CLOEXEC, 4);
        if (moved < 0) return false;
        pipe.read = UniqueFd(moved);
      }
      SpawnAttrs sa;
      posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&sa.actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&sa.actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_adddup2(&sa.actions, pipe.read.get(), 3);
      sa.close_from(4);
      // Its own process group: out of reach of signals sent to the host's group.
      sa.own_group_default_signals();
      std::string sh = "/bin/sh", dash_c = "-c", script = kLifelineScript, name = "appose-lifeline",
                  host = std::to_string(::getpid());
      std::vector<char*> argv = {sh.data(),   dash_c.data(), script.data(),
                                 name.data(), host.data(),   nullptr};
      char* no_env[] = {nullptr};
      pid_t pid = -1;
      if (::posix_spawn(&pid, sh.c_str(), &sa.actions, &sa.attr, argv.data(), no_env) != 0) {
        return false;
      }
      pipe_ = std::move(pipe.write);
      pid_ = pid;
      std::string lines;
      for (pid_t g : groups_)
        lines += GroupLine('+', g).view();
      // A lifeline dead already is replaced at the next line written to it.
      (void)write_all(pipe_.get(), lines);
      return true;
    } catch (...) {
      return false;
    }
  }

  std::mutex mu_;
  UniqueFd pipe_;
  pid_t pid_ = -1;
  std::vector<pid_t> groups_;
};

void reaped_with(Process::Native& n, int code) noexcept {
  n.exit_code = code;
  n.exit_fd.reset();
  // The pid may be reused from now on: the lifeline must leave quietly.
  n.lifeline.disarm();
}

void signal_group(const Process::Native* n, int signal) noexcept {
  // Until we reap the child, its pid (and so its process group id) cannot be reused, so
  // signalling by id is safe. After reaping we never signal.
  if (n == nullptr || n->pid <= 0 || n->exit_code) return;
  ::killpg(n->pid, signal);
  ::kill(n->pid, signal);
}

}  // namespace

Process Process::spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    throw Error("cannot start a worker: empty command line");
  }
  const std::string program = resolve_program(options);
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();
  if (auto ec = no_sigpipe(in.write.get())) {
    throw Error(fmt::format("cannot start worker '{}': cannot set up its stdin", options.argv[0]),
                ec);
  }

  SpawnAttrs sa;
  posix_spawn_file_actions_adddup2(&sa.actions, in.read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, out.write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, err.write.get(), STDERR_FILENO);
  // Belt and braces: every fd of ours is close-on-exec, but a library in the host may have
  // opened one without it; the worker (and its children) must not inherit it.
  sa.close_from(3);
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
  p.native_ = std::make_unique<Native>();
  Native& n = *p.native_;
  n.pid = pid;
  n.stdin_pipe = std::move(in.write);
  n.stdout_pipe = std::move(out.read);
  n.stderr_pipe = std::move(err.read);
  n.exit_fd = open_exit_fd(pid);
  if (options.kill_with_host) n.lifeline = Lifeline::guard(pid);
  return p;
}

Process::Process() noexcept = default;

Process::Process(Process&& other) noexcept = default;

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (native_ && !native_->exit_code) try_reap();
    // Destroying our Native disarms nothing: a lifeline still armed kills its group, as the
    // destructor's would.
    native_ = std::move(other.native_);
  }
  return *this;
}

Process::~Process() {
  if (native_ && !native_->exit_code) try_reap();
}

std::int64_t Process::pid() const noexcept {
  return native_ ? native_->pid : -1;
}

std::optional<int> Process::exit_code() const noexcept {
  return native_ ? native_->exit_code : std::nullopt;
}

bool Process::has_lifeline() const noexcept {
  return native_ && native_->lifeline.valid();
}

std::error_code Process::write_stdin(std::string_view data) noexcept {
  if (!native_ || !native_->stdin_pipe.valid()) {
    return std::make_error_code(std::errc::broken_pipe);
  }
  return write_all(native_->stdin_pipe.get(), data);
}

void Process::close_stdin() noexcept {
  if (native_) native_->stdin_pipe.reset();
}

void Process::close_output() noexcept {
  if (!native_) return;
  native_->stdout_pipe.reset();
  native_->stderr_pipe.reset();
}

std::optional<int> Process::try_reap() noexcept {
  if (!native_ || native_->exit_code) return exit_code();
  if (auto code = reap(native_->pid, WNOHANG)) reaped_with(*native_, *code);
  return native_->exit_code;
}

int Process::wait() noexcept {
  if (!native_) return -1;
  if (native_->exit_code) return *native_->exit_code;
  reaped_with(*native_, reap(native_->pid, 0).value_or(-1));
  return *native_->exit_code;
}

bool Process::exited_unreaped() const noexcept {
  if (!native_ || native_->exit_code) return false;
  if (native_->exit_fd.valid()) {
    // The exit descriptor answers without touching the child's status.
    pollfd pfd{native_->exit_fd.get(), POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&pfd, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  }
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(native_->pid), &info, WEXITED | WNOHANG | WNOWAIT) ==
             0 &&
         info.si_pid == native_->pid;
}

void Process::terminate_group() noexcept {
  signal_group(native_.get(), SIGTERM);
}

void Process::kill_group() noexcept {
  signal_group(native_.get(), SIGKILL);
}

Lifeline Lifeline::guard(pid_t pgid) noexcept {
  return LifelineKeeper::instance().guard(pgid) ? Lifeline(pgid) : Lifeline();
}

Lifeline& Lifeline::operator=(Lifeline&& other) noexcept {
  if (this != &other) {
    release(false);
    pgid_ = std::exchange(other.pgid_, -1);
  }
  return *this;
}

void Lifeline::release(bool quietly) noexcept {
  if (pgid_ <= 0) return;
  // Armed means the child is not reaped, so its group id cannot have been reused: we kill it
  // ourselves, as the lifeline would at our death.
  if (!quietly) ::killpg(pgid_, SIGKILL);
  LifelineKeeper::instance().release(pgid_);
  pgid_ = -1;
}

pid_t lifeline_pid() noexcept {
  return LifelineKeeper::instance().pid();
}

std::int64_t current_process_id() noexcept {
  return ::getpid();
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

std::string executable_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? "does not exist"
                           : fmt::format("cannot be read ({})", last_error().message());
  }
  if (S_ISDIR(st.st_mode)) return "is a directory, not the executable";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (::access(path.c_str(), X_OK) != 0) return "is not executable (chmod +x it)";
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

}  // namespace appose::detail::platform
