#include "support/test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace appose::test {

namespace {
std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
}  // namespace

std::optional<std::string> peer_python() {
  std::string p = env_or_empty("APPOSE_PEER_PYTHON");
  struct stat st {};
  if (p.empty() || ::stat(p.c_str(), &st) != 0) return std::nullopt;
  return p;
}

std::optional<std::vector<std::string>> peer_java_classpath() {
  std::string dir = env_or_empty("APPOSE_PEER_JAVA_LIB");
  if (dir.empty()) return std::nullopt;
  std::error_code ec;
  std::vector<std::string> jars;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".jar") jars.push_back(entry.path().string());
  }
  if (jars.empty()) return std::nullopt;
  std::sort(jars.begin(), jars.end());
  return jars;
}

appose::Environment peer_env() {
  auto py = peer_python();
  if (!py) throw std::runtime_error("appose-python peer missing; run scripts/peers.sh");
  return appose::Environment(".", {std::filesystem::path(*py).parent_path().string()});
}

bool wait_exit(std::int64_t pid, std::chrono::milliseconds timeout) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) return errno == ESRCH;  // already gone
  pollfd pfd{fd, POLLIN, 0};
  int rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  ::close(fd);
  return rc == 1;
}

void start_and_await_launch(appose::Task& task) {
  auto launched = std::make_shared<Signal>();
  task.listen([launched](const appose::TaskEvent& e) {
    if (e.response_type == appose::ResponseType::LAUNCH) launched->set();
  });
  task.start();
  ASSERT_TRUE(launched->wait()) << "no LAUNCH from the worker";
}

bool peers_required() {
  return env_or_empty("APPOSE_REQUIRE_PEERS") == "1";
}

std::string conformance_dir() {
  std::string d = env_or_empty("APPOSE_CONFORMANCE_DIR");
  if (d.empty()) throw std::runtime_error("APPOSE_CONFORMANCE_DIR is not set (run through ctest)");
  return d;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
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

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  path = std::filesystem::canonical(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  if (value) {
    ::setenv(name_.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    ::setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

std::optional<std::filesystem::path> peer_uv() {
  auto py = peer_python();
  if (!py) return std::nullopt;
  std::filesystem::path uv = std::filesystem::path(*py).parent_path() / "uv";
  if (!std::filesystem::exists(uv)) return std::nullopt;
  return uv;
}

}  // namespace appose::test
