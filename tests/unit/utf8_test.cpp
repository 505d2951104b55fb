// The one UTF-8 module (src/util/utf8.hpp): what "valid" means everywhere in the library.

#include "util/utf8.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace utf8 = appose::detail::utf8;
using namespace std::string_view_literals;

namespace {

utf8::Step decode(std::string_view s) {
  return utf8::decode(utf8::bytes_of(s), utf8::bytes_of(s) + s.size());
}

}  // namespace

TEST(Utf8, DecodesEachSequenceLength) {
  EXPECT_EQ(decode("A").code_point, U'A');
  EXPECT_EQ(decode("\xC3\xA9").code_point, U'\u00E9');
  EXPECT_EQ(decode("\xE2\x82\xAC").code_point, U'\u20AC');
  utf8::Step four = decode("\xF0\x9F\x98\x80");
  EXPECT_TRUE(four.valid);
  EXPECT_EQ(four.code_point, U'\U0001F600');
  EXPECT_EQ(four.length, 4U);
}

TEST(Utf8, RefusesWhatUnicodeCallsIllFormed) {
  for (std::string_view bad : {"\xC0\xAF"sv,          // overlong '/'
                               "\xE0\x80\xAF"sv,      // overlong, 3 bytes
                               "\xED\xA0\x80"sv,      // a surrogate
                               "\xF4\x90\x80\x80"sv,  // beyond U+10FFFF
                               "\x80"sv,              // lone continuation
                               "\xFF"sv}) {
    EXPECT_FALSE(utf8::is_valid(bad)) << testing::PrintToString(std::string(bad));
    EXPECT_FALSE(decode(bad).valid);
  }
  EXPECT_TRUE(utf8::is_valid("plain ascii, \xC3\xA9t\xC3\xA9, \xF0\x9F\x98\x80"));
  EXPECT_TRUE(utf8::is_valid(""));
}

// One U+FFFD per maximal subpart, as Python's errors="replace": "\xE2\x82" then "A" is one
// replacement (the truncated euro sign) and the A, not two replacements.
TEST(Utf8, RepairReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(utf8::to_valid("\xE2\x82"
                           "A"),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(utf8::to_valid("a\xFF\xFE"
                           "b"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(utf8::to_valid("\xF0\x9F\x98"), "\xEF\xBF\xBD");
  EXPECT_EQ(utf8::to_valid("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(decode("\xE2\x82"
                   "A")
                .length,
            2U);
}

TEST(Utf8, EncodesEveryLength) {
  std::string out;
  for (char32_t cp : {U'A', U'\u00E9', U'\u20AC', U'\U0001F600'})
    utf8::append(out, cp);
  EXPECT_EQ(out, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(Utf8, CutNeverSplitsASequence) {
  const std::string s =
      "ab\xE2\x82\xAC"
      "cd";  // a, b, euro (3 bytes), c, d
  EXPECT_EQ(utf8::cut(s, 100), s);
  EXPECT_EQ(utf8::cut(s, 2), "ab");
  EXPECT_EQ(utf8::cut(s, 3), "ab");
  EXPECT_EQ(utf8::cut(s, 4), "ab");
  EXPECT_EQ(utf8::cut(s, 5), "ab\xE2\x82\xAC");
  EXPECT_EQ(utf8::cut(s, 0), "");
}

TEST(Utf8, SequenceLengthForQuoting) {
  const std::string s = "x\xE2\x82\xAC\xFF";
  EXPECT_EQ(utf8::sequence_length(s, 0), 1U);
  EXPECT_EQ(utf8::sequence_length(s, 1), 3U);
  EXPECT_EQ(utf8::sequence_length(s, 4), 1U);
  EXPECT_EQ(utf8::sequence_length("\xE2\x82", 0), 2U);  // truncated: never past the end
}
