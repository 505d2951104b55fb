#include "util/random.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>

namespace appose::detail {

namespace {

std::mt19937_64& generator() {
  // Seeded from the OS CSPRNG once per thread: names must differ across processes started at
  // the same instant, which a time seed would not guarantee.
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return gen;
}

/// Writes sixteen hex digits, one per nibble of `bits`, eight at a time (a task id is drawn
/// per task, and a table lookup per digit was a tenth of a task's instructions on the caller's
/// thread). Which nibble lands where does not matter: the bits are random.
void put_hex16(char* out, std::uint64_t bits) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t x = (bits >> (32 * half)) & 0xFFFFFFFFULL;
    // Spread the eight nibbles to the low nibbles of eight bytes.
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    // A byte of 10 to 15 reaches 16 with 6 added: those become letters.
    const std::uint64_t letters = ((x + kOnes * 6) >> 4) & kOnes;
    x += kOnes * '0' + letters * ('a' - '0' - 10);
    std::memcpy(out + 8 * half, &x, sizeof x);
  }
}

}  // namespace

std::string random_hex(std::size_t n) {
  std::string out(n, '0');
  auto& gen = generator();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    put_hex16(out.data() + i, gen());
  if (i < n) {
    std::array<char, 16> digits{};
    put_hex16(digits.data(), gen());
    std::memcpy(out.data() + i, digits.data(), n - i);
  }
  return out;
}

std::string uuid4_hex() {
  std::string id = random_hex(32);
  id[12] = '4';                                             // version 4
  id[16] = "89ab"[static_cast<unsigned char>(id[16]) % 4];  // RFC 4122 variant
  return id;
}

}  // namespace appose::detail
