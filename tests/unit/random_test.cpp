// Random names and task ids (util/random.hpp): hex digits only, all sixteen of them about
// equally often, and a version-4 UUID's fixed digits in place.

#include "util/random.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <set>
#include <string>

namespace appose::detail {
namespace {

std::size_t digit_index(char c) {
  if (c >= '0' && c <= '9') return static_cast<std::size_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<std::size_t>(c - 'a' + 10);
  ADD_FAILURE() << "not a lowercase hex digit: 0x" << std::hex << static_cast<int>(c);
  return 0;
}

TEST(RandomHex, GivesTheLengthAskedInLowercaseHexDigitsEachAboutEquallyOften) {
  std::array<std::size_t, 16> counts{};
  std::size_t total = 0;
  for (std::size_t n = 0; n <= 40; ++n) {
    for (int i = 0; i < 200; ++i) {
      const std::string s = random_hex(n);
      ASSERT_EQ(s.size(), n);
      for (char c : s) {
        ++counts[digit_index(c)];
        ++total;
      }
    }
  }
  // 164,000 digits: each should come up 10,250 times; 9,500 is over seven standard deviations
  // away, so only a digit that is missing or favoured fails.
  for (std::size_t d = 0; d < 16; ++d) {
    EXPECT_GT(counts[d], 9500U) << "digit " << d << " of " << total;
    EXPECT_LT(counts[d], 11000U) << "digit " << d << " of " << total;
  }
}

TEST(Uuid4Hex, IsAVersionFourUuidWithoutDashesAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = uuid4_hex();
    ASSERT_EQ(id.size(), 32U);
    for (char c : id)
      (void)digit_index(c);
    EXPECT_EQ(id[12], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[16]), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

}  // namespace
}  // namespace appose::detail
