#pragma once

// conda's name for a platform: the micromamba release to download and the section of
// pixi.lock to count are both named by it. Internal.

#include <string_view>

#include "environment/host_os.hpp"

namespace appose::detail {

/// "linux-64", "linux-aarch64", "linux-ppc64le", "osx-arm64", "osx-64" or "win-64" for `os`
/// on the processor `cpu` (kHostCpu's spelling); nullptr for a platform conda has no name for
/// here (nothing conda-based can be installed there).
constexpr const char* conda_platform(HostOs os, std::string_view cpu) noexcept {
  switch (os) {
    case HostOs::gnu_linux:
      if (cpu == "x86_64") return "linux-64";
      if (cpu == "aarch64") return "linux-aarch64";
      if (cpu == "ppc64le") return "linux-ppc64le";
      return nullptr;
    case HostOs::macos:
      if (cpu == "x86_64") return "osx-64";
      if (cpu == "aarch64") return "osx-arm64";
      return nullptr;
    case HostOs::windows:
      return cpu == "x86_64" ? "win-64" : nullptr;
    case HostOs::other:
      break;
  }
  return nullptr;
}

/// conda's name for the platform this library runs on.
constexpr const char* conda_platform() noexcept {
  return conda_platform(kHostOs, kHostCpu);
}

}  // namespace appose::detail
