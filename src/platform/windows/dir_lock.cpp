// The build lock on Windows: LockFileEx on one byte of the lock file beside the directory.
//
// Waiting: a contended lock is waited for by a synchronous LockFileEx on a helper thread while
// the caller waits on "acquired" and the cancel event together, as on POSIX, rather than by an
// overlapped LockFileEx waited for with the cancel event. The overlapped form would spare the
// thread on Windows, but Wine (8 and, by its source, still 11) never completes an overlapped
// lock that had to wait ("Async I/O lock wait not implemented, might deadlock"): a build under
// Wine would hang, and the tests, which run there, could show neither the wait nor the
// cancel. A canceled caller interrupts the helper (CancelSynchronousIo) and leaves it behind;
// should it get the lock all the same, it sees the caller is gone and lets go at once.
//
// Deleting the file before letting go (see dir_lock.hpp): Windows normally only marks an open
// file for deletion, and until its last handle closes nobody can open it (ERROR_ACCESS_DENIED),
// which would fail a newcomer instead of making it wait. So the destructor deletes with POSIX
// semantics (FILE_DISPOSITION_POSIX_SEMANTICS, NTFS on Windows 10 1709 and later): the name
// goes at once, open handles keep working, and a waiter that then gets the deleted file's lock
// sees it is no longer at the path and locks the path's current file, exactly as on POSIX.
// Where POSIX semantics are not available (FAT, older Windows, Wine) the file is left in
// place: harmless, and reused by the next lock.

#include "platform/dir_lock.hpp"

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <system_error>

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"
#include "util/fs_util.hpp"

namespace fs = std::filesystem;

namespace appose::detail::platform {

namespace {

using win32::UniqueHandle;

/// FileDispositionInfoEx, which mingw-w64's headers declare only for a _WIN32_WINNT that no
/// 16-bit value reaches (0x0A000002); 21 in Windows' FILE_INFO_BY_HANDLE_CLASS.
constexpr auto kFileDispositionInfoEx = static_cast<FILE_INFO_BY_HANDLE_CLASS>(21);

/// The locked range: one byte at offset 0 (it may lie past the end of the empty file).
constexpr DWORD kLockBytes = 1;

[[noreturn]] void throw_lock_error(const fs::path& path, DWORD error) {
  throw BuildException(fmt::format("cannot lock {}", detail::utf8_string(path)),
                       win32::error_code(error));
}

/// Locks `file` if no one else holds it; false if someone does.
bool try_lock(HANDLE file, const fs::path& path) {
  OVERLAPPED at{};
  if (::LockFileEx(file, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, kLockBytes, 0,
                   &at)) {
    return true;
  }
  const DWORD error = ::GetLastError();
  if (error == ERROR_LOCK_VIOLATION) return false;
  throw_lock_error(path, error);
}

/// What the caller and the helper thread share. The helper holds a reference until it is done,
/// so an abandoned waiter lives on until then.
struct Waiter {
  std::mutex mu;
  UniqueHandle file;
  UniqueHandle acquired;  ///< set by the helper once LockFileEx has returned
  bool abandoned = false;
  bool granted = false;
  DWORD error = ERROR_SUCCESS;
};

/// The helper thread: one blocking LockFileEx.
DWORD WINAPI lock_helper(void* param) {
  std::unique_ptr<std::shared_ptr<Waiter>> owned(static_cast<std::shared_ptr<Waiter>*>(param));
  Waiter& w = **owned;
  OVERLAPPED at{};
  const BOOL ok = ::LockFileEx(w.file.get(), LOCKFILE_EXCLUSIVE_LOCK, 0, kLockBytes, 0, &at);
  const DWORD error = ok ? ERROR_SUCCESS : ::GetLastError();
  std::lock_guard lock(w.mu);
  if (w.abandoned) {
    OVERLAPPED unlock{};
    if (ok) ::UnlockFileEx(w.file.get(), 0, kLockBytes, 0, &unlock);
    return 0;
  }
  w.granted = ok != FALSE;
  w.error = error;
  ::SetEvent(w.acquired.get());
  return 0;
}

/// Blocks until `file` (owned from here on) is locked or `cancel` is set (BuildException);
/// returns it locked.
UniqueHandle wait_for_lock(UniqueHandle file, const fs::path& dir, const fs::path& path,
                           HANDLE cancel) {
  auto waiter = std::make_shared<Waiter>();
  waiter->file = std::move(file);
  waiter->acquired.reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!waiter->acquired.valid()) throw_lock_error(path, ::GetLastError());
  auto* param = new std::shared_ptr<Waiter>(waiter);
  UniqueHandle thread(::CreateThread(nullptr, 0, lock_helper, param, 0, nullptr));
  if (!thread.valid()) {
    const DWORD error = ::GetLastError();
    delete param;
    throw_lock_error(path, error);
  }
  const HANDLE handles[2] = {waiter->acquired.get(), cancel};
  const DWORD woke = ::WaitForMultipleObjects(cancel != nullptr ? 2 : 1, handles, FALSE, INFINITE);
  std::lock_guard lock(waiter->mu);
  if (woke == WAIT_OBJECT_0) {
    if (!waiter->granted) throw_lock_error(path, waiter->error);
    return std::move(waiter->file);
  }
  // Canceled. The helper may have been granted the lock just now: then let go of it here.
  if (waiter->granted) {
    OVERLAPPED unlock{};
    ::UnlockFileEx(waiter->file.get(), 0, kLockBytes, 0, &unlock);
  } else {
    waiter->abandoned = true;
    ::CancelSynchronousIo(thread.get());
  }
  throw BuildException(fmt::format("canceled while waiting for another build of {} to finish",
                                   detail::utf8_string(dir)));
}

/// The file's identity: volume and index, which stay the same across names and handles.
bool same_file(HANDLE a, HANDLE b) noexcept {
  BY_HANDLE_FILE_INFORMATION x{}, y{};
  return ::GetFileInformationByHandle(a, &x) && ::GetFileInformationByHandle(b, &y) &&
         x.dwVolumeSerialNumber == y.dwVolumeSerialNumber && x.nFileIndexHigh == y.nFileIndexHigh &&
         x.nFileIndexLow == y.nFileIndexLow;
}

/// Whether `held` is still the file at `path` (the holder before us may have deleted it).
bool still_linked(HANDLE held, const fs::path& path) noexcept {
  UniqueHandle named(::CreateFileW(path.c_str(), FILE_READ_ATTRIBUTES,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  return named.valid() && same_file(held, named.get());
}

}  // namespace

DirLock::DirLock(const fs::path& dir, const std::function<void()>& on_wait, const WakeEvent* cancel)
    : path_(dir.parent_path() /
            utf8_path(fmt::format(".{}.appose-lock", utf8_string(dir.filename())))) {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  const HANDLE cancel_event =
      cancel != nullptr ? reinterpret_cast<HANDLE>(cancel->native_handle()) : nullptr;
  bool announced = false;
  // Runs again only when the file locked was deleted by the holder before us (see the header).
  for (;;) {
    // DELETE access and FILE_SHARE_DELETE: the holder deletes the file while others have it
    // open. Not inherited by child processes (the build tools), which must not keep it locked.
    UniqueHandle file(::CreateFileW(path_.c_str(), GENERIC_READ | GENERIC_WRITE | DELETE,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                    OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!file.valid()) {
      throw BuildException(
          fmt::format("cannot create the lock file {}", detail::utf8_string(path_)),
          win32::last_error());
    }
    if (!try_lock(file.get(), path_)) {
      if (!announced && on_wait) on_wait();
      announced = true;
      file = wait_for_lock(std::move(file), dir, path_, cancel_event);
    }
    if (still_linked(file.get(), path_)) {
      handle_ = reinterpret_cast<std::intptr_t>(file.release());
      return;
    }
  }
}

DirLock::~DirLock() {
  if (handle_ == -1) return;
  const HANDLE file = reinterpret_cast<HANDLE>(handle_);
  // Deleted while still held, so that no one can lock this file after us (see the file
  // comment); if the file system cannot, the file stays.
  FILE_DISPOSITION_INFO_EX disposition{FILE_DISPOSITION_FLAG_DELETE |
                                       FILE_DISPOSITION_FLAG_POSIX_SEMANTICS};
  ::SetFileInformationByHandle(file, kFileDispositionInfoEx, &disposition, sizeof disposition);
  OVERLAPPED unlock{};
  ::UnlockFileEx(file, 0, kLockBytes, 0, &unlock);
  ::CloseHandle(file);
}

}  // namespace appose::detail::platform
