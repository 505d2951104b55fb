// SHA-256 (src/util/sha256.hpp) against the FIPS 180-4 examples (NIST's published vectors): a
// wrong digest would make every tool download fail its checksum, or pass a corrupt one.

#include "util/sha256.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>

using appose::detail::Sha256;
using appose::detail::sha256_hex;

namespace {

constexpr std::string_view kTwoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

/// `text` fed `chunk` bytes at a time, so that the buffering across update() calls is what
/// is tested.
std::string in_chunks(std::string_view text, std::size_t chunk) {
  Sha256 hash;
  for (std::size_t i = 0; i < text.size(); i += chunk)
    hash.update(text.substr(i, chunk));
  return hash.hex_digest();
}

}  // namespace

TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, OneBlockMessage) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessageOf448Bits) {
  ASSERT_EQ(kTwoBlocks.size() * 8, 448U);
  EXPECT_EQ(sha256_hex(kTwoBlocks),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionA) {
  const std::string million(1000000, 'a');
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  EXPECT_EQ(sha256_hex(million), expected);
  // Chunk sizes that straddle the 64-byte block in every way.
  for (std::size_t chunk : {1UL, 7UL, 63UL, 64UL, 65UL, 1000UL, 65536UL})
    EXPECT_EQ(in_chunks(million, chunk), expected) << "chunk " << chunk;
}

TEST(Sha256, PaddingAtTheBlockBoundaries) {
  // 55 bytes leave room for the length in the last block; 56 to 64 need one more block.
  for (std::size_t n = 50; n <= 70; ++n) {
    const std::string text(n, 'x');
    EXPECT_EQ(in_chunks(text, 1), sha256_hex(text)) << n << " bytes";
  }
  EXPECT_EQ(in_chunks(kTwoBlocks, 5),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
