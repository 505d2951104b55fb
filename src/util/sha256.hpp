#pragma once

// SHA-256 (FIPS 180-4), for the checksums of downloaded tools: a hundred lines here beat a
// crypto dependency for one checksum.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace appose::detail {

/// An incremental SHA-256: feed bytes with update(), read the digest once with hex_digest().
class Sha256 {
 public:
  /// Adds `n` bytes at `data` to the message.
  void update(const unsigned char* data, std::size_t n) noexcept;
  /// Adds the bytes of `bytes` to the message.
  void update(std::string_view bytes) noexcept;
  /// Finishes the hash and returns it as 64 lowercase hex digits; the object is spent
  /// afterwards (a further update() or hex_digest() gives a meaningless result).
  std::string hex_digest();

 private:
  void block(const unsigned char* p) noexcept;

  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<unsigned char, 64> buf_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace appose::detail
