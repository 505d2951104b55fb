// The crash registry on Windows: there is none, because there is nothing to reclaim. A named
// file mapping lives exactly as long as some process holds a handle to it (or a view of it),
// and the OS closes a dead process's handles, so a block whose owner died without unlinking
// is already gone (or still in use by a live attacher, and then not an orphan). No file is
// ever written: directory() is empty, add() and remove() do nothing, list() and reclaim()
// find nothing, which is what src/core/shared_memory.cpp's owned_blocks() and
// reclaim_orphaned_blocks() then report, truthfully: no orphan can exist.

#include "platform/shm_registry.hpp"

namespace appose::detail::platform::shm_registry {

std::filesystem::path directory() {
  return {};
}

void add(const std::string& /*name*/) noexcept {}

void remove(const std::string& /*name*/) noexcept {}

std::vector<Entry> list() {
  return {};
}

std::vector<std::string> reclaim() {
  return {};
}

void reclaim_once() noexcept {}

}  // namespace appose::detail::platform::shm_registry
