#pragma once

// The test seam of the POSIX shared-memory implementation (platform/posix/shm.cpp): the system
// calls it makes, in a table tests can swap entries of to inject failures (EINTR, a failing
// mmap, ...). Not exported: a shared libappose keeps it hidden, and only tests linked to the
// internal archive (appose_internal, src/CMakeLists.txt) reach it. The library itself never
// changes the table.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>

namespace appose::detail::platform {

/// The system calls the POSIX implementation makes. Not synchronised: change them only while
/// no block is being created, attached or released.
struct PosixShmCalls {
  /// shm_open(3).
  int (*shm_open)(const char* name, int flags, mode_t mode);
  /// ftruncate(2).
  int (*ftruncate)(int fd, off_t length);
  /// posix_fallocate(3) (a no-op returning 0 on macOS). Returns an error number rather than
  /// setting errno, as posix_fallocate does.
  int (*fallocate)(int fd, off_t offset, off_t length);
  /// fstat(2).
  int (*fstat)(int fd, struct stat* st);
  /// mmap(2).
  void* (*mmap)(void* addr, std::size_t length, int prot, int flags, int fd, off_t offset);
  /// munmap(2).
  int (*munmap)(void* addr, std::size_t length);
  /// shm_unlink(3).
  int (*shm_unlink)(const char* name);
  /// close(2).
  int (*close)(int fd);
};

/// The table in use; starts out with the real system calls.
PosixShmCalls& posix_shm_calls() noexcept;
/// The real system calls, for restoring the table after a test.
const PosixShmCalls& posix_shm_real_calls() noexcept;

}  // namespace appose::detail::platform
