#pragma once

/// \file
/// Named shared-memory blocks, compatible with Python's multiprocessing.shared_memory (and so
/// with appose-python and appose-java).
///
/// Who unlinks a block (decided here, once):
/// - A block this process *created* is unlinked when its last handle goes away, or at close().
/// - A block this process *attached* is only unmapped: the creator owns the name.
/// - unlink_on_close(bool) overrides either default. The Service uses it to take ownership of
///   blocks that arrive as task outputs (the worker made them but, by the Appose rule, the host
///   owns them), so a returned array disappears once the host has dropped it.
/// - unlink() destroys the name at once; a name that is already gone counts as done, since a
///   Python process that merely attached may have unlinked it at exit (its resource tracker).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "appose/export.hpp"

namespace appose {

namespace detail {
struct SharedMemoryImpl;
}

/// A window into a block, as references after 0.12 may carry it (`offset`, `length`,
/// `managed` next to `name` and `rsize`): several arrays can then share one block. Each field
/// remembers whether it was given, so that a reference that came over the wire is written back
/// byte for byte as it arrived; absent fields take upstream's defaults.
struct ShmRegion {
  std::optional<std::size_t> offset;  ///< first byte of the region; absent means 0
  std::optional<std::size_t> length;  ///< bytes in the region; absent means rsize - offset
  /// Whether the service's allocator manages the region (a worker gives it back with a RELEASE).
  /// appose-cpp carries the flag but has no allocator yet (docs/protocol.md).
  std::optional<bool> managed;
  /// Equal when the same fields are given with the same values.
  friend bool operator==(const ShmRegion&, const ShmRegion&) = default;
};

/// A handle to a mapped shared-memory block. Copies refer to the same mapping; the mapping (and,
/// for an owned block, the name) is released when the last copy is destroyed or at close().
///
/// Thread safety: handles may be copied and destroyed from any thread. close() and unlink() are
/// internally synchronised; reading or writing the bytes is the caller's business.
class APPOSE_EXPORT SharedMemory {
 public:
  /// An empty handle (no block). Most operations throw appose::Error on it.
  SharedMemory() = default;

  /// Creates a new block of at least `rsize` bytes with a fresh `psm_xxxxxxxx` name.
  /// The memory is reserved at once (posix_fallocate on Linux), so a full /dev/shm fails here
  /// with a clear error instead of raising SIGBUS on first write. `rsize` must be > 0.
  static SharedMemory create(std::size_t rsize);

  /// Creates a new block with a caller-chosen name (without leading slash). Fails if the name
  /// exists: an existing block is never reused or resized.
  static SharedMemory create(std::string_view name, std::size_t rsize);

  /// Attaches to an existing block. Never creates one: a missing name is an appose::Error.
  /// `rsize` is the size the creator requested (0: use the whole block); a block smaller than
  /// `rsize` is an error.
  static SharedMemory attach(std::string_view name, std::size_t rsize = 0);

  /// The block's name as it travels on the wire (no leading slash), e.g. `psm_4812f794`.
  [[nodiscard]] const std::string& name() const;
  /// The requested size in bytes: what travels on the wire and what bytes() exposes.
  [[nodiscard]] std::size_t rsize() const;
  /// The size the operating system allocated (>= rsize(); page-rounded on some systems).
  [[nodiscard]] std::size_t size() const;
  /// Start of the mapping; throws if the block is closed.
  [[nodiscard]] void* data() const;
  /// The first rsize() bytes of the mapping, whatever region() says; throws if the block is
  /// closed.
  [[nodiscard]] std::span<std::byte> bytes() const;

  /// The part of the block this handle refers to (all fields absent: the whole block).
  [[nodiscard]] const ShmRegion& region() const noexcept { return region_; }
  /// A handle to the same mapping (same lifetime, same ownership) that refers to `region`.
  /// Throws appose::Error unless offset <= rsize() and offset + length <= rsize(): a region
  /// never reaches past the block.
  [[nodiscard]] SharedMemory with_region(ShmRegion region) const;
  /// region().offset, or 0.
  [[nodiscard]] std::size_t offset() const noexcept { return region_.offset.value_or(0); }
  /// region().length, or what is left of rsize() after offset().
  [[nodiscard]] std::size_t length() const;
  /// The region's bytes (bytes() when no region was given); throws if the block is closed.
  [[nodiscard]] std::span<std::byte> region_bytes() const;

  /// Whether this process created the block (as opposed to attaching to it).
  [[nodiscard]] bool created() const;
  /// Whether the name will be unlinked when the block is closed.
  [[nodiscard]] bool unlink_on_close() const;
  /// Overrides the default decided at creation (see the file comment).
  SharedMemory& unlink_on_close(bool value);

  /// Unmaps the block for every copy of this handle, and unlinks it if unlink_on_close().
  /// Closing twice is harmless.
  void close();
  /// Removes the name now (other mappings stay valid until they are unmapped). A name that is
  /// already gone counts as removed. Does not unmap.
  void unlink();
  /// Whether close() has been called (or the handle is empty).
  [[nodiscard]] bool closed() const;

  /// True when the handle refers to a block.
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  /// Handles are equal when they share one mapping and refer to the same region of it.
  friend bool operator==(const SharedMemory& a, const SharedMemory& b) noexcept {
    return a.impl_ == b.impl_ && a.region_ == b.region_;
  }

 private:
  explicit SharedMemory(std::shared_ptr<detail::SharedMemoryImpl> impl);
  std::shared_ptr<detail::SharedMemoryImpl> impl_;
  ShmRegion region_;  // per handle: copies of one mapping may view different regions
};

/// A block an appose-cpp process owns (will unlink), as the per-user crash registry records it.
struct OwnedBlock {
  std::string name;         ///< the block's name, e.g. `psm_4812f794`
  long long pid = -1;       ///< the owning process
  bool owner_alive = true;  ///< false: the owner died without unlinking it (an orphan)
};

/// The blocks appose-cpp processes of this user own, from the registry (/dev/shm/.appose-<uid>/).
/// Every block a process creates (or takes ownership of with unlink_on_close(true)) is
/// recorded with its owner's pid and start time until it is unlinked; unlink_on_close(false)
/// drops the record.
APPOSE_EXPORT std::vector<OwnedBlock> owned_blocks();

/// Unlinks the blocks whose owner has died (a SIGKILL or crash skipped their cleanup) and
/// returns their names. Blocks of live owners, blocks kept with unlink_on_close(false), and
/// blocks other programs made are never touched: only registered orphans are. A service calls
/// this once per process when its first worker starts.
APPOSE_EXPORT std::vector<std::string> reclaim_orphaned_blocks();

}  // namespace appose
