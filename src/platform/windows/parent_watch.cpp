// Windows host watch: a thread waiting on a handle to the host process (opened with
// SYNCHRONIZE, which is signalled when the process ends) and on a stop event. No polling.
//
// Groups on Windows: there are no process groups. An appose-cpp host (the one that names
// itself in APPOSE_PARENT_PID) starts its worker in a job object with kill-on-close, so the
// host's death closes the job and the OS ends every process in it, this one's children
// included; this watch is the second line of that defence, and ending this process is all it
// has to do. A process cannot obtain a handle to the job it is in, so it could not end the job
// itself anyway. Without a named host (a host that gives no job, such as appose-python), only
// this process goes, as on POSIX when the group is shared.

#include "platform/parent_watch.hpp"

#include <thread>
#include <utility>

#include "platform/windows/win32.hpp"

// After <windows.h>, which it needs.
#include <tlhelp32.h>

namespace appose::detail::platform {

namespace {

using win32::UniqueHandle;

/// The exit code of a worker ended because its host died: what a shell reports for SIGKILL,
/// as the POSIX watch ends it.
constexpr UINT kHostGoneExit = 137;

[[noreturn]] void die() noexcept {
  ::TerminateProcess(::GetCurrentProcess(), kHostGoneExit);
  // TerminateProcess on oneself does not return; should it ever, leave all the same.
  ::ExitProcess(kHostGoneExit);
}

/// This process's parent id as the OS recorded it at its start (Windows keeps no live
/// parent link: the parent may be long gone and the id reused; see creation_time()).
std::optional<DWORD> parent_id() noexcept {
  UniqueHandle snapshot(::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0));
  if (!snapshot.valid()) return std::nullopt;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof entry;
  const DWORD self = ::GetCurrentProcessId();
  for (BOOL more = ::Process32FirstW(snapshot.get(), &entry); more;
       more = ::Process32NextW(snapshot.get(), &entry)) {
    if (entry.th32ProcessID == self) return entry.th32ParentProcessID;
  }
  return std::nullopt;
}

/// When `process` started, in FILETIME units; nullopt if it cannot be read.
std::optional<ULONGLONG> creation_time(HANDLE process) noexcept {
  FILETIME created{}, exited{}, kernel{}, user{};
  if (!::GetProcessTimes(process, &created, &exited, &kernel, &user)) return std::nullopt;
  return (ULONGLONG{created.dwHighDateTime} << 32) | created.dwLowDateTime;
}

}  // namespace

struct ParentWatch::State {
  UniqueHandle host;
  /// Set to stop the thread.
  UniqueHandle stop;
  std::thread thread;

  /// Runs on the watch thread until the host ends (then this process ends) or stop is set.
  void watch() const noexcept {
    const HANDLE handles[2] = {stop.get(), host.get()};
    if (::WaitForMultipleObjects(2, handles, FALSE, INFINITE) == WAIT_OBJECT_0 + 1) die();
  }
};

ParentWatch::ParentWatch() noexcept = default;

ParentWatch::ParentWatch(std::optional<long> named_host) {
  std::optional<DWORD> host;
  if (named_host) {
    if (*named_host > 1) host = static_cast<DWORD>(*named_host);
  } else {
    host = parent_id();
  }
  if (!host || *host <= 1) return;
  auto state = std::make_unique<State>();
  // The creation time needs PROCESS_QUERY_LIMITED_INFORMATION; SYNCHRONIZE alone still lets
  // the thread wait, should a host running at a higher integrity level refuse the former.
  state->host.reset(::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, *host));
  if (!state->host.valid()) state->host.reset(::OpenProcess(SYNCHRONIZE, FALSE, *host));
  if (!state->host.valid()) {
    // No process has that id any more: the host is gone. Anything else (access denied) means
    // the host exists but cannot be watched; the worker then runs unwatched, as one whose host
    // named no id.
    if (::GetLastError() == ERROR_INVALID_PARAMETER) die();
    return;
  }
  // The host started this process, so it is older: a younger process with its id is a stranger
  // that reused the id after the host died.
  const auto host_started = creation_time(state->host.get());
  const auto self_started = creation_time(::GetCurrentProcess());
  if (host_started && self_started && *host_started > *self_started) die();
  // An ended process can still be opened while any handle to it is open: ask whether it ended.
  if (::WaitForSingleObject(state->host.get(), 0) == WAIT_OBJECT_0) die();
  state->stop.reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!state->stop.valid()) return;
  // The state does not move while the thread runs: only the pointer to it does.
  state->thread = std::thread([s = state.get()] { s->watch(); });
  state_ = std::move(state);
}

ParentWatch::ParentWatch(ParentWatch&& other) noexcept = default;

ParentWatch& ParentWatch::operator=(ParentWatch&& other) noexcept {
  if (this != &other) {
    ParentWatch old(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

ParentWatch::~ParentWatch() {
  if (!state_) return;
  ::SetEvent(state_->stop.get());
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace appose::detail::platform
