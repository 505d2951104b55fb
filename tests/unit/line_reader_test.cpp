// The worker's in-place line reader (src/util/line_reader.hpp): lines across reads of any size,
// the last line without '\n', a line far longer than one read, views that stay valid until the
// next call, and the room each read is offered.

#include "util/line_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appose::detail {
namespace {

/// A stream of `data` handed out at most `chunk` bytes per read (0: as much as there is room).
struct Feed {
  std::string data;
  std::size_t chunk = 0;
  std::size_t at = 0;
  std::size_t reads = 0;
  std::size_t least_room = static_cast<std::size_t>(-1);

  std::size_t operator()(char* into, std::size_t room) {
    ++reads;
    least_room = std::min(least_room, room);
    std::size_t n = std::min(room, data.size() - at);
    if (chunk != 0) n = std::min(n, chunk);
    std::memcpy(into, data.data() + at, n);
    at += n;
    return n;
  }
};

std::vector<std::string> all_lines(Feed& feed) {
  LineReader reader;
  std::vector<std::string> lines;
  while (std::optional<std::string_view> line = reader.next(feed))
    lines.emplace_back(*line);
  return lines;
}

TEST(LineReader, SplitsLinesWhateverTheReadSize) {
  const std::string data = "{\"a\":1}\n\n{\"b\":2}\nlast without newline";
  for (std::size_t chunk : {0U, 1U, 2U, 3U, 7U, 64U}) {
    Feed feed{data, chunk};
    EXPECT_EQ(all_lines(feed),
              (std::vector<std::string>{"{\"a\":1}", "", "{\"b\":2}", "last without newline"}))
        << "chunk " << chunk;
  }
}

TEST(LineReader, ReadySaysWhetherTheNextLineNeedsARead) {
  // The worker writes what it has held back before a read that may wait (worker_impl.cpp).
  Feed feed{"a\nb\npartial", 0};
  LineReader reader;
  EXPECT_FALSE(reader.ready());  // nothing read yet
  EXPECT_EQ(reader.next(feed), "a");
  EXPECT_EQ(feed.reads, 1U);
  EXPECT_TRUE(reader.ready());  // "b" came with the same read
  EXPECT_EQ(reader.next(feed), "b");
  EXPECT_FALSE(reader.ready());  // "partial" has no newline yet
  EXPECT_EQ(feed.reads, 1U);
  EXPECT_EQ(reader.next(feed), "partial");  // the end of the stream ends it
  EXPECT_TRUE(reader.ready());              // at the end, next() returns at once
  EXPECT_EQ(reader.next(feed), std::nullopt);
}

TEST(LineReader, NothingAndATrailingNewlineEndWithoutAnEmptyLine) {
  Feed empty{""};
  EXPECT_TRUE(all_lines(empty).empty());
  Feed one{"x\n"};
  EXPECT_EQ(all_lines(one), std::vector<std::string>{"x"});
}

TEST(LineReader, ALineOfManyReadsComesWholeAndEachReadGetsAFullChunkOfRoom) {
  std::string big(5 * LineReader::kChunk + 123, 'x');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + i % 26);
  Feed feed{"short\n" + big + "\nafter\n", 4096};
  EXPECT_EQ(all_lines(feed), (std::vector<std::string>{"short", big, "after"}));
  EXPECT_GE(feed.least_room, LineReader::kChunk);
}

TEST(LineReader, ALineStaysValidUntilTheNextCall) {
  Feed feed{"first\nsecond\n", 3};
  LineReader reader;
  std::optional<std::string_view> first = reader.next(feed);
  ASSERT_TRUE(first);
  const std::string copy(*first);
  EXPECT_EQ(copy, "first");
  std::optional<std::string_view> second = reader.next(feed);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "second");
  EXPECT_FALSE(reader.next(feed));
  EXPECT_FALSE(reader.next(feed)) << "the end stays the end";
}

TEST(LineReader, ManySmallLinesAreReadWithFewReads) {
  std::string data;
  for (int i = 0; i < 1000; ++i)
    data += "{\"task\":\"" + std::to_string(i) + "\"}\n";
  Feed feed{data};
  EXPECT_EQ(all_lines(feed).size(), 1000U);
  EXPECT_LE(feed.reads, 3U) << "lines already read must be returned without another read";
}

}  // namespace
}  // namespace appose::detail
