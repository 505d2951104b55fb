#pragma once

// How long a shared-memory name may be on each POSIX system, as constants and one check that
// need no system header, so that macOS's limit is tested on Linux too. The OS name is the wire
// name with a leading slash (platform/posix/shm.cpp).

#include <cstddef>
#include <string_view>

namespace appose::detail::platform {

/// PSHMNAMLEN: the longest name macOS's shm_open takes, its leading slash included (xnu copies
/// at most 31 characters and a NUL); a longer one fails with ENAMETOOLONG.
inline constexpr std::size_t kMacosShmNameLimit = 31;
/// The longest wire name on macOS: the slash counts against PSHMNAMLEN.
inline constexpr std::size_t kMacosShmNameMax = kMacosShmNameLimit - 1;
/// The longest wire name on Linux: NAME_MAX, a file name in /dev/shm.
inline constexpr std::size_t kLinuxShmNameMax = 255;

/// The longest wire name this system takes.
inline constexpr std::size_t kShmNameMax =
#if defined(__APPLE__)
    kMacosShmNameMax;
#else
    kLinuxShmNameMax;
#endif

/// Whether wire name `name` can be handed to shm_open as "/" + name on a system whose wire
/// names are at most `max` long: not too long, and no NUL inside (it would cut the name short).
constexpr bool shm_name_fits(std::string_view name, std::size_t max) noexcept {
  return name.size() <= max && name.find('\0') == std::string_view::npos;
}

}  // namespace appose::detail::platform
