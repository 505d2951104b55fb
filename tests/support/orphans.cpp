// See orphans.hpp.

#include "support/orphans.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __APPLE__
#include <libproc.h>
#include <sys/proc.h>
#include <sys/proc_info.h>
#else
#include <dirent.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "support/test_support.hpp"

extern char** environ;

namespace appose::test {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Host {
  pid_t pid = -1;
  int out = -1;
};

Host spawn_host(const std::string& exe, const std::vector<std::string>& args,
                const std::vector<std::string>& extra_env) {
  int out[2];
  open_cloexec_pipe(out);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    bool overridden = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
      return var.substr(0, var.find('=')) == std::string_view(x).substr(0, x.find('='));
    });
    if (!overridden) env_strings.emplace_back(var);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {exe};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error("posix_spawn " + exe + ": " + std::strerror(rc));
  }
  return Host{pid, out[0]};
}

std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return std::nullopt;
    pollfd pfd{fd, POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return std::nullopt;
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

}  // namespace

#ifdef __APPLE__
// macOS: libproc lists the group; a member whose BSD info says SZOMB (or that is gone by then)
// is left out.
std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> members;
  // The group may grow between the two calls: room for a few more, and a full buffer is
  // asked again.
  for (int room = 64;; room *= 2) {
    std::vector<pid_t> pids(static_cast<std::size_t>(room));
    const int n = ::proc_listpgrppids(pgid, pids.data(), room * static_cast<int>(sizeof(pid_t)));
    if (n < 0) return members;
    if (n >= room) continue;
    for (int i = 0; i < n; ++i) {
      proc_bsdinfo info{};
      const auto size = static_cast<int>(sizeof info);
      if (::proc_pidinfo(pids[static_cast<std::size_t>(i)], PROC_PIDTBSDINFO, 0, &info, size) !=
          size) {
        continue;
      }
      if (info.pbi_status != SZOMB) members.push_back(pids[static_cast<std::size_t>(i)]);
    }
    return members;
  }
}
#else
// Linux: from /proc.
std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return members;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    // POSIX reads: istreambuf_iterator trips GCC's -Wnull-dereference under -O1.
    std::string path = std::string("/proc/") + entry->d_name + "/stat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    std::string_view text(buf, static_cast<std::size_t>(n));
    auto paren = text.rfind(')');
    if (paren == std::string_view::npos || paren + 2 >= text.size()) continue;
    // After ") ": state ppid pgrp ...
    std::string_view rest = text.substr(paren + 2);
    char state = rest[0];
    if (state == 'Z' || state == 'X') continue;
    unsigned field = 0;
    long pgrp = -1;
    for (std::size_t i = 0, start = 0; i <= rest.size(); ++i) {
      if (i == rest.size() || rest[i] == ' ') {
        if (field == 2)
          pgrp = std::strtol(std::string(rest.substr(start, i - start)).c_str(), nullptr, 10);
        ++field;
        start = i + 1;
        if (field > 2) break;
      }
    }
    if (pgrp == pgid) members.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return members;
}
#endif

namespace {

/// Starts the host, reads its line of pids, SIGKILLs and reaps it; the line (nullopt if none).
std::optional<std::string> orphan_line(const std::string& host_exe,
                                       const std::vector<std::string>& args,
                                       const std::vector<std::string>& extra_env,
                                       Clock::time_point* killed_at) {
  Host host = spawn_host(host_exe, args, extra_env);
  auto line = read_line(host.out, 60s);
  if (killed_at != nullptr) *killed_at = Clock::now();
  ::kill(host.pid, SIGKILL);
  int status = 0;
  ::waitpid(host.pid, &status, 0);
  ::close(host.out);
  return line;
}

}  // namespace

pid_t orphan_a_worker(const std::string& host_exe, const std::vector<std::string>& args,
                      const std::vector<std::string>& extra_env, Clock::time_point* killed_at) {
  auto line = orphan_line(host_exe, args, extra_env, killed_at);
  if (!line || line->empty()) return -1;
  return static_cast<pid_t>(std::stol(*line));
}

std::vector<pid_t> orphan_workers(const std::string& host_exe, const std::vector<std::string>& args,
                                  Clock::time_point* killed_at) {
  auto line = orphan_line(host_exe, args, {}, killed_at);
  std::vector<pid_t> pids;
  if (!line) return pids;
  std::istringstream in(*line);
  for (long pid = 0; in >> pid;)
    pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

bool group_gone(pid_t pgid) {
  return group_members(pgid).empty();
}

std::optional<std::chrono::milliseconds> time_until_group_gone(pid_t pgid,
                                                               std::chrono::milliseconds timeout,
                                                               Clock::time_point t0) {
  while (Clock::now() - t0 < timeout) {
    if (group_gone(pgid)) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }
    std::this_thread::sleep_for(1ms);
  }
  return std::nullopt;
}

void kill_group(pid_t pgid) {
  if (pgid <= 0) return;
  ::kill(-pgid, SIGKILL);
  for (pid_t pid : group_members(pgid))
    ::kill(pid, SIGKILL);
  time_until_group_gone(pgid, 2s);
}

}  // namespace appose::test
