// GoogleTest and GMock link (main comes from gtest_main).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

TEST(DepsSmoke, GMockMatchers) {
  EXPECT_THAT((std::vector<int>{1, 2, 3}), testing::ElementsAre(1, 2, 3));
}
