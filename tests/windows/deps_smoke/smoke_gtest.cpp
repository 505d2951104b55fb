// GoogleTest and GMock, statically linked for Windows; discovered and run under Wine by ctest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

TEST(DepsSmoke, Arithmetic) {
  EXPECT_EQ(2 + 2, 4);
}

TEST(DepsSmoke, Matchers) {
  EXPECT_THAT(std::string("appose on windows"), ::testing::HasSubstr("windows"));
}

TEST(DepsSmoke, Thread) {
  int v = 0;
  std::thread t([&] { v = 1; });
  t.join();
  EXPECT_EQ(v, 1);
}
