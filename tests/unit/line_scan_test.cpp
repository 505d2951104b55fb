// split_line (wire/line_scan.hpp) beyond the conformance vectors: objects glued on a line,
// text around them, broken objects, invalid UTF-8, random bytes, and large or pathological
// lines (parsed correctly; a scan gone quadratic would hit ctest's timeout).

#include "wire/line_scan.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "support/same_value.hpp"
#include "unit/codec_helpers.hpp"

namespace appose::detail::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using test::RandomValues;
using test::same_value;
using test::valid_utf8;

// ---------------------------------------------------------------------------------------------
// Round trips of random messages

TEST(RoundTrip, RandomMessagesSurviveGluing) {
  RandomValues gen(77);
  for (int i = 0; i < 300; ++i) {
    std::vector<Args> sent;
    std::string line;
    auto n = 1 + gen.rng()() % 4;
    for (std::uint64_t k = 0; k < n; ++k) {
      Value v = gen.value(3);
      Args m;
      m["task"] = fmt::format("t{}", k);
      m["payload"] = v;
      line += write(Value(m));
      sent.push_back(std::move(m));
    }
    LineContents c = split_line(line);
    ASSERT_EQ(c.messages.size(), sent.size()) << line;
    ASSERT_TRUE(c.invalid.empty());
    for (std::size_t k = 0; k < sent.size(); ++k) {
      ASSERT_TRUE(same_value(Value(c.messages[k]), Value(sent[k]))) << line;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Large inputs

// Correctness at 50 MB, not speed: a timed assertion fails on a loaded machine (and under Wine,
// 1.26 s against a 1 s budget) without saying anything about the code. Speed is measured by
// bench/compare (row 5: a 10 MB input, as ratios); a parse that turned quadratic would take hours
// here and hit ctest's timeout.

TEST(Large, FiftyMegabyteString) {
  std::string payload;
  payload.reserve(50'000'000);
  for (std::size_t i = 0; payload.size() < 50'000'000; ++i) {
    payload += i % 97 == 0 ? "caf\xC3\xA9 " : "abcdefghij";
  }
  std::string line =
      R"({"outputs":{"s":")" + payload + R"("},"task":"t","responseType":"COMPLETION"})";
  LineContents c = split_line(line);
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_EQ(c.messages[0].at("outputs").at("s").get<std::string>(), payload);
  std::string again = write(Value(c.messages[0]));
  EXPECT_EQ(parse(again), Value(c.messages[0]));
}

TEST(Large, FiftyMegabyteArray) {
  std::string line = R"({"outputs":{"a":[)";
  line.reserve(50'000'100);
  std::size_t count = 0;
  while (line.size() < 50'000'000) {
    if (count > 0) line += ',';
    line += count % 2 == 0 ? "0.1234567890123" : "1234567";
    ++count;
  }
  line += R"(]},"task":"t","responseType":"COMPLETION"})";
  LineContents c = split_line(line);
  ASSERT_EQ(c.messages.size(), 1U);
  const Array& a = c.messages[0].at("outputs").at("a").as_array();
  ASSERT_EQ(a.size(), count);
  EXPECT_EQ(a[0], Value(0.1234567890123));
  EXPECT_EQ(a[1], Value(1234567));
}

// ---------------------------------------------------------------------------------------------
// split_line beyond the conformance vectors

std::vector<std::string> keys_of(const Args& a) {
  std::vector<std::string> k;
  for (const auto& [key, v] : a)
    k.push_back(key);
  return k;
}

TEST(SplitLine, BlankAndWhitespace) {
  for (const char* blank : {"", " ", "\t\t", "\r", " \r\n", "\v\f"}) {
    LineContents c = split_line(blank);
    EXPECT_TRUE(c.messages.empty());
    EXPECT_TRUE(c.invalid.empty());
    EXPECT_TRUE(c.notes.empty());
  }
  LineContents c = split_line("  {\"a\":1}\t {} \r");
  EXPECT_EQ(c.messages.size(), 2U);
  EXPECT_TRUE(c.invalid.empty());
}

TEST(SplitLine, GarbageAroundAndBetween) {
  LineContents c = split_line("x {\"a\":1} y{\"b\":2}z");
  ASSERT_EQ(c.messages.size(), 2U);
  EXPECT_THAT(keys_of(c.messages[1]), ElementsAre("b"));
  EXPECT_THAT(c.invalid, ElementsAre("x", "y", "z"));
  EXPECT_EQ(c.notes.size(), 3U);
  EXPECT_THAT(c.notes[0], HasSubstr("outside any JSON object"));

  // A line with no object is recorded whole, indentation included.
  c = split_line("    at Foo.bar(Foo.java:12)  ");
  EXPECT_THAT(c.invalid, ElementsAre("    at Foo.bar(Foo.java:12)  "));
}

TEST(SplitLine, BrokenObjectsDoNotYieldNestedOnes) {
  LineContents c = split_line(R"({"a":{"task":"t1","responseType":"LAUNCH"})");
  EXPECT_TRUE(c.messages.empty());
  ASSERT_EQ(c.invalid.size(), 1U);
  EXPECT_THAT(c.notes[0], HasSubstr("end of line"));

  c = split_line(R"({"a":1,{"task":"t1","responseType":"LAUNCH"}})");
  EXPECT_TRUE(c.messages.empty());

  // A Python dict printed by a script: not JSON, but the object after it is recovered.
  c = split_line(R"({'a': 1}{"task":"t1","responseType":"LAUNCH"})");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("{'a': 1}"));
}

TEST(SplitLine, ArraysAreNotMessagesEvenWithObjectsInside) {
  LineContents c = split_line(R"([{"task":"t1","responseType":"LAUNCH"}])");
  EXPECT_TRUE(c.messages.empty());
  EXPECT_THAT(c.invalid, ElementsAre(R"([{"task":"t1","responseType":"LAUNCH"}])"));
  EXPECT_THAT(c.notes[0], HasSubstr("array"));

  // Brackets that are not JSON do not hide an object.
  c = split_line(R"([INFO] {"task":"t1","responseType":"LAUNCH"})");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("[INFO]"));
  c = split_line(R"([{"task":"t1","responseType":"LAUNCH"})");
  EXPECT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("["));
}

TEST(SplitLine, InvalidUtf8) {
  // Outside objects: replaced in the record, objects kept.
  LineContents c = split_line("\xff\xfe{\"a\":1}");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("\xEF\xBF\xBD\xEF\xBF\xBD"));

  // Inside an object's string: the object is rejected whole, never altered, and an object
  // nested in it is not taken for a message.
  c = split_line("{\"a\":\"x\xff\",\"b\":{\"task\":\"t1\",\"responseType\":\"LAUNCH\"}}");
  EXPECT_TRUE(c.messages.empty());
  ASSERT_EQ(c.invalid.size(), 1U);
  EXPECT_EQ(c.invalid[0],
            "{\"a\":\"x\xEF\xBF\xBD\",\"b\":{\"task\":\"t1\",\"responseType\":\"LAUNCH\"}}");
  EXPECT_THAT(c.notes[0], HasSubstr("invalid UTF-8"));

  // A broken object glued to a good one loses only itself.
  c = split_line("{\"k\xC0\xAF\":1}{\"task\":\"t2\",\"responseType\":\"LAUNCH\"}");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_EQ(c.messages[0].at("task"), Value("t2"));
  EXPECT_THAT(c.invalid, ElementsAre("{\"k\xEF\xBF\xBD\xEF\xBF\xBD\":1}"));
}

TEST(SplitLine, ScalarsAreNotMessages) {
  for (const char* line : {"42", "\"text\"", "null", "true", "NaN"}) {
    LineContents c = split_line(line);
    EXPECT_TRUE(c.messages.empty());
    EXPECT_THAT(c.invalid, ElementsAre(line));
  }
}

TEST(SplitLine, NeverThrowsOnRandomBytes) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\":,\\ ntrufalsNI0123456789.-eE\xff\xC3\xA9\x01";
  for (int i = 0; i < 5000; ++i) {
    std::string line;
    auto n = rng() % 60;
    for (std::uint64_t k = 0; k < n; ++k) {
      line += rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    LineContents c;
    ASSERT_NO_THROW(c = split_line(line));
    EXPECT_EQ(c.invalid.size(), c.notes.size());
    for (const auto& s : c.invalid)
      ASSERT_TRUE(valid_utf8(s)) << fmt::format("{:?}", line);
    for (const auto& s : c.notes)
      ASSERT_TRUE(valid_utf8(s));
    for (const auto& m : c.messages)
      ASSERT_NO_THROW((void)write(Value(m)));
  }
}

TEST(SplitLine, PathologicalLinesAreRefused) {
  std::vector<std::string> lines = {
      std::string(1'000'000, '{'),
      std::string(1'000'000, '['),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "{\"a\":";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "{x";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "[1,";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "[{}";
        return s;
      }(),
      "{\"" + std::string(1'000'000, 'a'),
  };
  for (const std::string& line : lines) {
    LineContents c = split_line(line);
    EXPECT_FALSE(c.invalid.empty()) << line.substr(0, 20);
  }
}

}  // namespace
}  // namespace appose::detail::codec
