#include "appose/shared_memory.hpp"

#include <fmt/format.h>

#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "appose/error.hpp"
#include "platform/shm.hpp"
#include "platform/shm_registry.hpp"
#include "util/random.hpp"

namespace appose {

namespace detail {

struct SharedMemoryImpl {
  SharedMemoryImpl(std::string wire_name, std::size_t requested, platform::ShmMapping mapped,
                   bool made_here)
      : name(std::move(wire_name)),
        rsize(requested),
        size(mapped.size),
        created(made_here),
        mapping(mapped),
        unlink_on_close(made_here),
        registered(made_here) {}

  SharedMemoryImpl(const SharedMemoryImpl&) = delete;
  SharedMemoryImpl& operator=(const SharedMemoryImpl&) = delete;

  // The last handle is gone, so no other thread can hold the lock.
  ~SharedMemoryImpl() { close_locked(); }

  struct CloseResult {
    std::error_code unmap;
    std::error_code unlink;
  };

  // Unmaps once, then unlinks if asked to and not done yet.
  CloseResult close_locked() noexcept {
    CloseResult result;
    if (!closed) {
      closed = true;
      result.unmap = platform::shm_unmap(mapping);
    }
    if (unlink_on_close) result.unlink = unlink_locked();
    return result;
  }

  // A name that is already gone counts as unlinked: a Python process that merely attached may
  // have removed it at exit (its resource tracker does that).
  std::error_code unlink_locked() noexcept {
    if (unlinked) return {};
    auto ec = platform::shm_unlink(name);
    if (ec && ec != std::errc::no_such_file_or_directory) return ec;
    unlinked = true;
    set_registered(false);
    return {};
  }

  // Keeps the crash registry in step with ownership: an entry exactly while this process
  // will unlink the block.
  void set_registered(bool value) noexcept {
    if (value == registered) return;
    if (value) {
      platform::shm_registry::add(name);
    } else {
      platform::shm_registry::remove(name);
    }
    registered = value;
  }

  const std::string name;
  const std::size_t rsize;
  const std::size_t size;
  const bool created;

  mutable std::mutex mutex;
  platform::ShmMapping mapping;  // guarded by mutex, as are the fields below
  bool unlink_on_close;
  bool registered;
  bool closed = false;
  bool unlinked = false;
};

}  // namespace detail

namespace {

constexpr int max_create_attempts = 100;
constexpr std::size_t random_digits = 8;

[[noreturn]] void throw_empty_handle() {
  throw Error("empty SharedMemory handle (default-constructed): it refers to no block");
}

// Accepts the wire form ("psm_1234abcd") and the OS form ("/psm_1234abcd"); returns the wire
// form.
std::string normalize_name(std::string_view name) {
  const std::string shown(name);
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  auto invalid = [&](std::string_view why) {
    return Error(fmt::format("invalid shared memory name '{}': {}", shown, why));
  };
  if (name.empty()) throw invalid("it is empty");
  if (name.find('/') != std::string_view::npos) {
    throw invalid("only a single leading '/' is allowed");
  }
#if defined(_WIN32)
  if (name.find('\\') != std::string_view::npos) throw invalid("it contains a backslash");
#endif
  if (name.find('\0') != std::string_view::npos) throw invalid("it contains a NUL character");
  if (name == "." || name == "..") throw invalid("'.' and '..' are not block names");
  if (name.size() > detail::platform::shm_name_max()) {
    throw invalid(fmt::format("it is longer than {} characters", detail::platform::shm_name_max()));
  }
  return std::string(name);
}

void check_rsize(std::size_t rsize) {
  if (rsize == 0) {
    throw Error(
        "cannot create a shared memory block of 0 bytes: the operating system does not allow "
        "empty blocks (an empty NDArray gets a block of at least one byte)");
  }
}

std::string_view step_text(detail::platform::ShmStep step) {
  using detail::platform::ShmStep;
  switch (step) {
    case ShmStep::open:
      return "opening it";
    case ShmStep::resize:
      return "setting its size";
    case ShmStep::reserve:
      return "reserving its memory";
    case ShmStep::stat:
      return "reading its size";
    case ShmStep::map:
      return "mapping it";
    case ShmStep::none:
      break;
  }
  return "creating it";
}

#if defined(__linux__)
constexpr std::string_view no_space_hint =
    "/dev/shm (a tmpfs) is full or too small; Docker limits it to 64 MiB unless run with "
    "--shm-size. Free blocks or make /dev/shm larger";
#else
constexpr std::string_view no_space_hint = "the system cannot reserve that much shared memory";
#endif

Error creation_error(const std::string& name, std::size_t rsize, detail::platform::ShmStep step,
                     std::error_code ec) {
  using detail::platform::ShmStep;
  if (step == ShmStep::reserve || ec == std::errc::no_space_on_device) {
    return Error(fmt::format("no space left for shared memory block '{}' of {} bytes: {}", name,
                             rsize, no_space_hint),
                 ec);
  }
  if (step == ShmStep::open && ec == std::errc::file_exists) {
    return Error(fmt::format("a shared memory block named '{}' already exists; creating never "
                             "reuses or resizes an existing block (attach to it instead)",
                             name),
                 ec);
  }
  return Error(fmt::format("cannot create shared memory block '{}' of {} bytes ({} failed)", name,
                           rsize, step_text(step)),
               ec);
}

Error attach_error(const std::string& name, detail::platform::ShmStep step, std::error_code ec) {
  using detail::platform::ShmStep;
  if (step == ShmStep::open && ec == std::errc::no_such_file_or_directory) {
    return Error(fmt::format("no shared memory block named '{}' (it was never created or was "
                             "already unlinked: a block lives only until its owner unlinks it)",
                             name),
                 ec);
  }
  if (step == ShmStep::map && ec == std::errc::invalid_argument) {
    return Error(
        fmt::format("shared memory block '{}' cannot be mapped (a block of 0 bytes cannot be)",
                    name),
        ec);
  }
  return Error(
      fmt::format("cannot attach to shared memory block '{}' ({} failed)", name, step_text(step)),
      ec);
}

}  // namespace

SharedMemory::SharedMemory(std::shared_ptr<detail::SharedMemoryImpl> impl)
    : impl_(std::move(impl)) {}

SharedMemory SharedMemory::create(std::size_t rsize) {
  check_rsize(rsize);
  const auto prefix = detail::platform::shm_name_prefix();
  // The name space is small (8 hex digits) and shared by every process, so a collision is
  // rare but possible: try another name, a bounded number of times.
  for (int attempt = 0; attempt < max_create_attempts; ++attempt) {
    std::string name = std::string(prefix) + detail::random_hex(random_digits);
    detail::platform::ShmMapping mapping;
    auto step = detail::platform::ShmStep::none;
    // Registered before it exists: a crash between the two leaves an entry for a missing
    // block (harmless), never a block without its entry.
    detail::platform::shm_registry::add(name);
    auto ec = detail::platform::shm_create(name, rsize, mapping, step);
    if (ec) detail::platform::shm_registry::remove(name);
    if (ec == std::errc::file_exists && step == detail::platform::ShmStep::open) continue;
    if (ec) throw creation_error(name, rsize, step, ec);
    return SharedMemory(
        std::make_shared<detail::SharedMemoryImpl>(std::move(name), rsize, mapping, true));
  }
  throw Error(
      fmt::format("cannot create a shared memory block of {} bytes: {} random {}* names "
                  "in a row were taken (too many blocks exist?)",
                  rsize, max_create_attempts, prefix));
}

SharedMemory SharedMemory::create(std::string_view name, std::size_t rsize) {
  std::string wire = normalize_name(name);
  check_rsize(rsize);
  detail::platform::ShmMapping mapping;
  auto step = detail::platform::ShmStep::none;
  detail::platform::shm_registry::add(wire);
  if (auto ec = detail::platform::shm_create(wire, rsize, mapping, step)) {
    // An existing block of that name is someone else's: its entry (if any) is not ours to drop.
    if (ec != std::errc::file_exists) detail::platform::shm_registry::remove(wire);
    throw creation_error(wire, rsize, step, ec);
  }
  return SharedMemory(
      std::make_shared<detail::SharedMemoryImpl>(std::move(wire), rsize, mapping, true));
}

SharedMemory SharedMemory::attach(std::string_view name, std::size_t rsize) {
  std::string wire = normalize_name(name);
  detail::platform::ShmMapping mapping;
  auto step = detail::platform::ShmStep::none;
  if (auto ec = detail::platform::shm_attach(wire, mapping, step)) {
    throw attach_error(wire, step, ec);
  }
  if (rsize > mapping.size) {
    const std::size_t actual = mapping.size;
    detail::platform::shm_unmap(mapping);
    throw Error(fmt::format("shared memory block '{}' holds {} bytes, fewer than the {} requested",
                            wire, actual, rsize));
  }
  const std::size_t effective = rsize == 0 ? mapping.size : rsize;
  return SharedMemory(
      std::make_shared<detail::SharedMemoryImpl>(std::move(wire), effective, mapping, false));
}

const std::string& SharedMemory::name() const {
  if (!impl_) throw_empty_handle();
  return impl_->name;
}

std::size_t SharedMemory::rsize() const {
  if (!impl_) throw_empty_handle();
  return impl_->rsize;
}

std::size_t SharedMemory::size() const {
  if (!impl_) throw_empty_handle();
  return impl_->size;
}

void* SharedMemory::data() const {
  if (!impl_) throw_empty_handle();
  const std::lock_guard lock(impl_->mutex);
  if (impl_->closed) {
    throw Error(fmt::format("shared memory block '{}' is closed", impl_->name));
  }
  return impl_->mapping.address;
}

std::span<std::byte> SharedMemory::bytes() const {
  return {static_cast<std::byte*>(data()), impl_->rsize};
}

SharedMemory SharedMemory::with_region(ShmRegion region) const {
  const std::size_t total = rsize();
  const std::size_t offset = region.offset.value_or(0);
  if (offset > total) {
    throw Error(
        fmt::format("region offset {} is past the end of shared memory block '{}' ({} "
                    "bytes)",
                    offset, impl_->name, total));
  }
  if (region.length && *region.length > total - offset) {
    throw Error(
        fmt::format("region of {} bytes at offset {} reaches past the end of shared "
                    "memory block '{}' ({} bytes): offset + length must be <= rsize",
                    *region.length, offset, impl_->name, total));
  }
  SharedMemory view(*this);
  view.region_ = region;
  return view;
}

std::size_t SharedMemory::length() const {
  return region_.length.value_or(rsize() - offset());
}

std::span<std::byte> SharedMemory::region_bytes() const {
  return bytes().subspan(offset(), length());
}

bool SharedMemory::created() const {
  if (!impl_) throw_empty_handle();
  return impl_->created;
}

bool SharedMemory::unlink_on_close() const {
  if (!impl_) throw_empty_handle();
  const std::lock_guard lock(impl_->mutex);
  return impl_->unlink_on_close;
}

SharedMemory& SharedMemory::unlink_on_close(bool value) {
  if (!impl_) throw_empty_handle();
  const std::lock_guard lock(impl_->mutex);
  impl_->unlink_on_close = value;
  impl_->set_registered(value && !impl_->unlinked);
  return *this;
}

void SharedMemory::close() {
  if (!impl_) return;
  const std::lock_guard lock(impl_->mutex);
  const auto result = impl_->close_locked();
  if (result.unmap) {
    throw Error(fmt::format("cannot unmap shared memory block '{}'", impl_->name), result.unmap);
  }
  if (result.unlink) {
    throw Error(fmt::format("cannot unlink shared memory block '{}'", impl_->name), result.unlink);
  }
}

void SharedMemory::unlink() {
  if (!impl_) throw_empty_handle();
  const std::lock_guard lock(impl_->mutex);
  if (auto ec = impl_->unlink_locked()) {
    throw Error(fmt::format("cannot unlink shared memory block '{}'", impl_->name), ec);
  }
}

bool SharedMemory::closed() const {
  if (!impl_) return true;
  const std::lock_guard lock(impl_->mutex);
  return impl_->closed;
}

std::vector<OwnedBlock> owned_blocks() {
  std::vector<OwnedBlock> out;
  for (auto& e : detail::platform::shm_registry::list()) {
    out.push_back(OwnedBlock{std::move(e.name), static_cast<long long>(e.pid), e.owner_alive});
  }
  return out;
}

std::vector<std::string> reclaim_orphaned_blocks() {
  return detail::platform::shm_registry::reclaim();
}

}  // namespace appose
