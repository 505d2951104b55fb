// The one line splitter (src/util/line_splitter.hpp): line ends, the bound on a line in both
// overflow modes, UTF-8 repair across chunk boundaries.

#include "util/line_splitter.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace appose::detail {
namespace {

using Overflow = LineSplitter::Overflow;

struct Line {
  std::string text;
  std::size_t dropped = 0;
  bool operator==(const Line&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Line& line) {
  return os << '"' << line.text << "\" (" << line.dropped << " dropped)";
}

/// Splits `data`, fed in chunks of `chunk` bytes (0: all at once), then finishes.
std::vector<Line> split(std::string_view data, LineSplitter::Options options,
                        std::size_t chunk = 0) {
  std::vector<Line> lines;
  LineSplitter::Sink sink = [&](std::string& line, std::size_t dropped) {
    lines.push_back({line, dropped});
  };
  LineSplitter splitter(options);
  if (chunk == 0) chunk = data.size() + 1;
  for (std::size_t i = 0; i < data.size(); i += chunk)
    splitter.feed(data.substr(i, chunk), sink);
  splitter.finish(sink);
  return lines;
}

std::vector<Line> whole(std::initializer_list<std::string_view> texts) {
  std::vector<Line> lines;
  for (auto t : texts)
    lines.push_back({std::string(t), 0});
  return lines;
}

LineSplitter::Options plain(std::size_t max = 1024) {
  return {max, false, Overflow::at_end};
}

LineSplitter::Options repairing(std::size_t max = 1024, Overflow overflow = Overflow::at_end) {
  return {max, true, overflow};
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(LineSplitter, LinesAreTheSameWhateverTheChunks) {
  const std::string data = "first\nsecond line\r\n\nlast";
  const auto expected = whole({"first", "second line", "", "last"});
  for (std::size_t chunk = 0; chunk <= data.size(); ++chunk) {
    EXPECT_EQ(split(data, plain(), chunk), expected) << "chunk " << chunk;
    EXPECT_EQ(split(data, repairing(), chunk), expected) << "chunk " << chunk;
  }
}

TEST(LineSplitter, OnlyACarriageReturnBeforeTheEndIsRemoved) {
  const std::string data = "a\r\nb\r\r\nc\rd\n\r\n";
  for (std::size_t chunk = 0; chunk <= 3; ++chunk) {
    EXPECT_EQ(split(data, plain(), chunk), whole({"a", "b\r", "c\rd", ""})) << chunk;
  }
  // Before the end of the stream too; a lone '\r' there is an empty last line.
  EXPECT_EQ(split("last\r", plain()), whole({"last"}));
  EXPECT_EQ(split("x\n\r", plain()), whole({"x", ""}));
}

TEST(LineSplitter, EmptyStreamGivesNoLine) {
  EXPECT_TRUE(split("", plain()).empty());
  EXPECT_EQ(split("\n", plain()), whole({""}));
}

TEST(LineSplitter, FinishStartsAFreshStream) {
  std::vector<Line> lines;
  LineSplitter::Sink sink = [&](std::string& line, std::size_t dropped) {
    lines.push_back({line, dropped});
  };
  LineSplitter splitter(plain());
  splitter.feed("one", sink);
  splitter.finish(sink);
  splitter.finish(sink);  // nothing left: no second line
  splitter.feed("two\n", sink);
  EXPECT_EQ(lines, whole({"one", "two"}));
}

TEST(LineSplitter, SinkMayTakeTheLine) {
  std::vector<std::string> taken;
  LineSplitter::Sink sink = [&](std::string& line, std::size_t) {
    taken.push_back(std::move(line));
  };
  LineSplitter splitter(plain());
  splitter.feed("abc\ndef\ng", sink);
  splitter.finish(sink);
  EXPECT_EQ(taken, (std::vector<std::string>{"abc", "def", "g"}));
}

TEST(LineSplitter, ThrowingSinkDoesNotLeakIntoTheNextLine) {
  LineSplitter splitter(plain());
  LineSplitter::Sink thrower = [](std::string&, std::size_t) { throw std::runtime_error("no"); };
  EXPECT_THROW(splitter.feed("bad\n", thrower), std::runtime_error);
  std::vector<Line> lines;
  splitter.feed("good\n", [&](std::string& line, std::size_t d) { lines.push_back({line, d}); });
  EXPECT_EQ(lines, whole({"good"}));
}

TEST(LineSplitter, AtEndALongLineIsCutAndTheLossCounted) {
  const std::string data = std::string(10, 'x') + "\nshort\n" + std::string(7, 'y');
  for (std::size_t chunk = 0; chunk <= 4; ++chunk) {
    auto lines = split(data, plain(4), chunk);
    EXPECT_EQ(lines, (std::vector<Line>{{"xxxx", 6}, {"shor", 1}, {"yyyy", 3}})) << chunk;
  }
}

TEST(LineSplitter, AtEndCarriageReturnsInsideCountButNotTheLastOne) {
  // The '\r' before '\n' is no content: a line of exactly the bound is kept whole.
  EXPECT_EQ(split("abcd\r\n", plain(4)), whole({"abcd"}));
  EXPECT_EQ(split("abcd\r\r\n", plain(4)), (std::vector<Line>{{"abcd", 1}}));
  EXPECT_EQ(split("ab\rcd\n", plain(4)), (std::vector<Line>{{"ab\rc", 1}}));
}

TEST(LineSplitter, AtOnceALongLineArrivesBeforeItEnds) {
  std::vector<Line> lines;
  LineSplitter::Sink sink = [&](std::string& line, std::size_t dropped) {
    lines.push_back({line, dropped});
  };
  LineSplitter splitter({4, false, Overflow::at_once});
  splitter.feed("abc", sink);
  EXPECT_TRUE(lines.empty());
  splitter.feed("defg", sink);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "abcd");
  EXPECT_GE(lines[0].dropped, 1u);
  splitter.feed(std::string(100, 'z') + "\r", sink);  // skipped to the end of the line
  splitter.feed("\nnext\n", sink);
  splitter.feed("never ends" + std::string(50, '.'), sink);
  splitter.finish(sink);  // the cut line was delivered already: nothing more
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], (Line{"next", 0}));
  EXPECT_EQ(lines[2].text, "neve");
}

TEST(LineSplitter, AtOnceALineOfExactlyTheBoundIsWhole) {
  EXPECT_EQ(split("abcd\r\nef\n", {4, false, Overflow::at_once}), whole({"abcd", "ef"}));
}

TEST(LineSplitter, RepairReplacesEachInvalidSubpart) {
  const std::string data =
      "a\xFF"
      "b\n"             // a byte that never occurs in UTF-8
      "\xE2\x82\n"      // a sequence cut short by the newline
      "\xC0\xAF\n"      // an overlong '/'
      "\xED\xA0\x80\n"  // a UTF-16 surrogate
      "z\x80\n"         // a lone continuation byte
      "ok \xC3\xA9\n"   // valid
      "end\xE2\x82";    // cut short by the end of the stream
  const std::string f = kFffd;
  const auto expected =
      whole({"a" + f + "b", f, f + f, f + f + f, "z" + f, "ok \xC3\xA9", "end" + f});
  for (std::size_t chunk = 0; chunk <= 4; ++chunk) {
    EXPECT_EQ(split(data, repairing(), chunk), expected) << "chunk " << chunk;
  }
}

TEST(LineSplitter, RepairKeepsASequenceSplitAcrossChunksWhole) {
  const std::string euro = "\xE2\x82\xAC", grin = "\xF0\x9F\x98\x80";
  const std::string data = "price " + euro + " 5\n" + grin + grin + "\n";
  for (std::size_t chunk = 1; chunk <= 5; ++chunk) {
    EXPECT_EQ(split(data, repairing(), chunk), whole({"price " + euro + " 5", grin + grin}))
        << "chunk " << chunk;
  }
}

TEST(LineSplitter, WithoutRepairBytesPassThrough) {
  const std::string data = "a\xFF\xE2\x82\nb\xC0\n";
  EXPECT_EQ(split(data, plain(), 1), whole({"a\xFF\xE2\x82", "b\xC0"}));
}

TEST(LineSplitter, RepairNeverCutsACharacter) {
  // Three bytes of room, then a 3-byte euro sign that does not fit.
  const std::string data = "aaa\xE2\x82\xACtail\nnext\n";
  for (std::size_t chunk = 0; chunk <= 4; ++chunk) {
    auto at_end = split(data, repairing(5), chunk);
    ASSERT_EQ(at_end.size(), 2u);
    EXPECT_EQ(at_end[0], (Line{"aaa", 7})) << chunk;
    auto at_once = split(data, repairing(5, Overflow::at_once), chunk);
    ASSERT_EQ(at_once.size(), 2u);
    EXPECT_EQ(at_once[0].text, "aaa") << chunk;
    EXPECT_EQ(at_once[1], (Line{"next", 0}));
  }
}

TEST(LineSplitter, RepairCountsReplacementsAgainstTheBound) {
  // Each invalid byte grows into three: the bound applies to what is delivered.
  auto lines = split("\xFF\xFF\xFF\n", repairing(6));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], (Line{kFffd + kFffd, 3}));
}

TEST(LineSplitter, HugeLineKeepsMemoryBounded) {
  // 64 MiB in one line, through a 1 KiB bound: only the bound is held.
  std::vector<Line> lines;
  LineSplitter::Sink sink = [&](std::string& line, std::size_t dropped) {
    lines.push_back({line, dropped});
  };
  LineSplitter splitter(plain(1024));
  const std::string chunk(std::size_t{64} << 10, 'q');
  for (int i = 0; i < 1024; ++i)
    splitter.feed(chunk, sink);
  splitter.feed("\n", sink);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text.size(), 1024u);
  EXPECT_EQ(lines[0].dropped, (std::size_t{64} << 20) - 1024);
}

}  // namespace
}  // namespace appose::detail
