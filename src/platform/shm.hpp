#pragma once

// The operating-system side of shared-memory blocks, behind one small interface so that
// src/shared_memory.cpp holds the rules (names, ownership, messages) once for every platform.
// Implementations: platform/posix/shm.cpp (Linux, macOS) and platform/windows/shm.cpp.
//
// Nothing here throws: every call reports failure as a std::error_code together with the step
// that failed, and the caller turns that into an appose::Error whose message fits the step
// ("no space" for a failed reservation, "no such block" for a failed open, ...).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace appose::detail::platform {

/// The step of creating or attaching a block that failed.
enum class ShmStep : std::uint8_t {
  none,     ///< nothing failed
  open,     ///< shm_open / CreateFileMappingW / OpenFileMappingW
  resize,   ///< ftruncate (POSIX only)
  reserve,  ///< posix_fallocate (Linux only): the memory could not be reserved
  stat,     ///< fstat / VirtualQuery: the size could not be read
  map,      ///< mmap / MapViewOfFile
};

/// A mapped block. Move it around by value; release it with shm_unmap().
struct ShmMapping {
  void* address = nullptr;  ///< start of the mapping; null once unmapped
  std::size_t size = 0;     ///< bytes mapped, which is the size the OS allocated
  /// Windows: the file-mapping HANDLE, kept open for as long as the mapping, because a named
  /// mapping disappears with its last handle. POSIX: unused (the fd is closed after mmap).
  std::uintptr_t handle = 0;
};

/// The prefix of generated names: "psm_" on POSIX, "wnsm_" on Windows (as Python names them).
std::string_view shm_name_prefix() noexcept;

/// The longest name (without leading slash) the platform accepts.
std::size_t shm_name_max() noexcept;

/// Creates a block named `name` (wire form, no leading slash) of at least `size` bytes and maps
/// it. Fails with std::errc::file_exists if the name is taken; never touches an existing block.
/// On any failure after the name was made, the half-made block is removed again.
std::error_code shm_create(std::string_view name, std::size_t size, ShmMapping& out,
                           ShmStep& failed) noexcept;

/// Maps the whole of an existing block; never creates one. A missing name fails with
/// std::errc::no_such_file_or_directory at ShmStep::open. A block of 0 bytes cannot be mapped:
/// it fails with std::errc::invalid_argument at ShmStep::map and out.size == 0.
std::error_code shm_attach(std::string_view name, ShmMapping& out, ShmStep& failed) noexcept;

/// Unmaps (and on Windows closes the handle). A mapping already released is left alone, so
/// calling it twice is harmless; `mapping` is reset either way.
std::error_code shm_unmap(ShmMapping& mapping) noexcept;

/// Removes the name. Reports std::errc::no_such_file_or_directory when it is already gone and
/// leaves it to the caller to decide whether that matters. On Windows names cannot be removed
/// (a mapping disappears with its last handle), so this always succeeds there.
std::error_code shm_unlink(std::string_view name) noexcept;

}  // namespace appose::detail::platform
