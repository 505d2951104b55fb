#include "util/random.hpp"

#include <array>
#include <cstdint>
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

}  // namespace

std::string random_hex(std::size_t n) {
  static constexpr std::array<char, 16> digits = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(n, '0');
  auto& gen = generator();
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = gen();
    out[i] = digits[bits & 0xF];
    bits >>= 4;
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
