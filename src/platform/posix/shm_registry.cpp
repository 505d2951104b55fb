#include "platform/shm_registry.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "platform/posix/shm_registry_rules.hpp"
#include "platform/shm.hpp"

namespace fs = std::filesystem;

namespace appose::detail::platform::shm_registry {

namespace {

unsigned long long self_start_time() {
  static const unsigned long long t = process_start_time(::getpid()).value_or(0);
  return t;
}

bool alive(pid_t pid, unsigned long long start_time) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  auto now = process_start_time(pid);
  // Unreadable (another user's /proc, hidepid): assume alive, never reclaim on a guess.
  if (!now) return true;
  return *now == start_time;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  return name.find('/') == std::string::npos;
}

std::optional<Entry> read_entry(const fs::path& file) {
  std::ifstream in(file);
  Entry e;
  long long pid = -1;
  if (!(in >> pid >> e.start_time)) return std::nullopt;
  e.pid = pid;
  e.name = file.filename().string();
  return e;
}

}  // namespace

fs::path choose_directory(const Places& places) {
  if (!places.override_dir.empty()) return fs::path(places.override_dir);
  const std::string name = ".appose-" + std::to_string(places.uid);
  if (places.dev_shm) return fs::path("/dev/shm") / name;
  if (!places.user_temp_dir.empty()) return fs::path(places.user_temp_dir) / name;
  return places.temp_dir / name;
}

std::optional<unsigned long long> start_time_from_proc_stat(std::string_view stat) {
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos || close + 2 > stat.size()) return std::nullopt;
  std::istringstream rest{std::string(stat.substr(close + 2))};
  std::string field;
  // Fields 3..21 precede the start time.
  for (int i = 3; i <= 21; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  unsigned long long t = 0;
  if (!(rest >> t)) return std::nullopt;
  return t;
}

unsigned long long start_time_from_timeval(long long seconds, long long microseconds) noexcept {
  return static_cast<unsigned long long>(seconds) * 1000000ULL +
         static_cast<unsigned long long>(microseconds);
}

#if !defined(__APPLE__)
// macOS has no /proc: platform/macos/process_start.cpp.
std::optional<unsigned long long> process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return start_time_from_proc_stat(buf.str());
}
#endif

fs::path directory() {
  Places places;
  if (const char* dir = std::getenv("APPOSE_SHM_REGISTRY"); dir != nullptr) {
    places.override_dir = dir;
  }
  std::error_code ec;
  places.dev_shm = fs::is_directory("/dev/shm", ec);
#if defined(__APPLE__)
  // Each process may have its own TMPDIR; the user's temporary directory is the same for all.
  char user_temp[1024];
  const std::size_t len = ::confstr(_CS_DARWIN_USER_TEMP_DIR, user_temp, sizeof user_temp);
  if (len > 0 && len <= sizeof user_temp) places.user_temp_dir = user_temp;
#endif
  places.temp_dir = fs::temp_directory_path(ec);
  if (ec) places.temp_dir = "/tmp";
  places.uid = ::getuid();
  return choose_directory(places);
}

namespace {

/// The registry directory, made 0700 and checked to be ours (not a trap someone else laid in
/// a shared directory).
std::optional<fs::path> usable_directory() {
  const fs::path dir = directory();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return std::nullopt;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) {
    return std::nullopt;
  }
  return dir;
}

}  // namespace

void add(const std::string& name) noexcept {
  try {
    if (!valid_name(name)) return;
    auto dir = usable_directory();
    if (!dir) return;
    const std::string line =
        std::to_string(::getpid()) + " " + std::to_string(self_start_time()) + "\n";
    const int fd = ::open((*dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
  } catch (...) {
    // Best effort: the block works without its entry.
  }
}

void remove(const std::string& name) noexcept {
  try {
    if (!valid_name(name)) return;
    ::unlink((directory() / name).c_str());
  } catch (...) {
  }
}

std::vector<Entry> list() {
  std::vector<Entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(directory(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (auto e = read_entry(it->path())) {
      e->owner_alive = alive(static_cast<pid_t>(e->pid), e->start_time);
      out.push_back(std::move(*e));
    }
  }
  return out;
}

std::vector<std::string> reclaim() {
  std::vector<std::string> reclaimed;
  for (const Entry& e : list()) {
    if (e.owner_alive) continue;
    auto ec = platform::shm_unlink(e.name);
    if (!ec || ec == std::errc::no_such_file_or_directory) {
      if (!ec) reclaimed.push_back(e.name);
      remove(e.name);
    }
  }
  return reclaimed;
}

void reclaim_once() noexcept {
  static std::once_flag once;
  try {
    std::call_once(once, [] { (void)reclaim(); });
  } catch (...) {
  }
}

}  // namespace appose::detail::platform::shm_registry
