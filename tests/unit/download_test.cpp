// Downloads (src/envbuild/download.cpp) against a local HTTP server that also misbehaves on request
// (404, short bodies, stalls, redirect loops), the SHA-256 against published vectors, and
// unpacking (src/envbuild/archive.cpp) of archives built here with libarchive, hostile ones
// included.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <ostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "appose/error.hpp"
#include "envbuild/download.hpp"
#include "envbuild/tool.hpp"
#include "support/http_server.hpp"
#include "support/message_of.hpp"
#include "support/test_support.hpp"

namespace appose::detail {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using appose::test::ScopedEnv;
using appose::test::TempDir;
using std::chrono::seconds;

/// The names in `dir`, sorted.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void write_file(const fs::path& file, const std::string& data) {
  std::ofstream out(file, std::ios::binary);
  out << data;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(gen() & 0xFFU);
  return s;
}

/// The message of the BuildException `f` throws; fails the test when it throws none.
template <typename F>
std::string error_of(F&& f) {
  return test::message_of<BuildException>(std::forward<F>(f));
}

// Proxies come from the environment by design; the tests talk to 127.0.0.1 and must not be
// sent through whatever proxy the machine running them has configured.
class DownloadEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new DownloadEnvironment);

// ---------------------------------------------------------------------------------------------
// SHA-256

TEST(DownloadSha256, KnownVectors) {
  TempDir dir;
  const fs::path f = dir.path / "f";
  write_file(f, "");
  EXPECT_EQ(sha256_file(f), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  write_file(f, "abc");
  EXPECT_EQ(sha256_file(f), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  write_file(f, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(sha256_file(f), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  write_file(f, std::string(1000000, 'a'));
  EXPECT_EQ(sha256_file(f), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(DownloadSha256, AgreesWithSha256sumAroundBlockBoundaries) {
  if (::access("/usr/bin/sha256sum", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sha256sum";
  TempDir dir;
  const fs::path f = dir.path / "f";
  for (std::size_t n :
       {1U, 55U, 56U, 57U, 63U, 64U, 65U, 119U, 120U, 128U, 65535U, 65536U, 65537U, 200003U}) {
    write_file(f, random_bytes(n, static_cast<std::uint32_t>(n)));
    const auto r = test::run_process({"/usr/bin/sha256sum", f.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(sha256_file(f), r.out.substr(0, 64)) << n << " bytes";
  }
}

TEST(DownloadSha256, MissingFileThrows) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { sha256_file(dir.path / "nope"); }), HasSubstr("nope"));
}

// ---------------------------------------------------------------------------------------------
// download_file / download_text

class DownloadTest : public ::testing::Test {
 protected:
  test::HttpServer server;
  TempDir dir;
  fs::path dest = dir.path / "file.bin";
};

TEST_F(DownloadTest, WritesTheBodyAndReportsProgress) {
  const std::string body = random_bytes(3 * 1024 * 1024 + 17, 1);
  server.serve("/big", body);
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  DownloadOptions options;
  options.progress = [&](std::int64_t got, std::int64_t total) { calls.emplace_back(got, total); };
  download_file(server.url("/big"), dest, options);

  EXPECT_EQ(read_file(dest), body);
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"file.bin"});
  const auto n = static_cast<std::int64_t>(body.size());
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(n, n));
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_TRUE(calls[i].second == 0 || calls[i].second == n) << calls[i].second;
    EXPECT_LE(calls[i].first, n);
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first) << "call " << i;
    }
  }
}

TEST_F(DownloadTest, ReplacesAnExistingFile) {
  write_file(dest, "old contents");
  server.serve("/f", "new");
  download_file(server.url("/f"), dest, {});
  EXPECT_EQ(read_file(dest), "new");
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"file.bin"});
}

TEST_F(DownloadTest, EmptyBody) {
  server.serve("/empty", "");
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  DownloadOptions options;
  options.progress = [&](std::int64_t got, std::int64_t total) { calls.emplace_back(got, total); };
  download_file(server.url("/empty"), dest, options);
  EXPECT_EQ(read_file(dest), "");
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(std::int64_t{0}, std::int64_t{0}));
}

TEST_F(DownloadTest, FollowsARedirectChain) {
  server.redirect("/a", "/b");
  server.redirect("/b", server.url("/c"), 301);
  server.serve("/c", "landed");
  download_file(server.url("/a"), dest, {});
  EXPECT_EQ(read_file(dest), "landed");
  EXPECT_EQ(server.requests(), (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST_F(DownloadTest, LimitsARedirectLoop) {
  server.redirect("/loop", "/loop");
  DownloadOptions options;
  options.max_redirects = 3;
  const std::string msg = error_of([&] { download_file(server.url("/loop"), dest, options); });
  EXPECT_THAT(msg, HasSubstr(server.url("/loop")));
  EXPECT_THAT(msg, HasSubstr("more than 3 redirects"));
  EXPECT_LE(server.request_count("/loop"), 5U);
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, RefusesARedirectToAnotherScheme) {
  server.redirect("/away", "file:///etc/hostname");
  const std::string msg = error_of([&] { download_file(server.url("/away"), dest, {}); });
  EXPECT_THAT(msg, HasSubstr("cannot download " + server.url("/away")));
  EXPECT_TRUE(listing(dir.path).empty());
  EXPECT_THAT(error_of([&] { download_file("file:///etc/hostname", dest, {}); }),
              HasSubstr("cannot download file:///etc/hostname"));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, NotFoundNamesTheStatusAndLeavesNothing) {
  const std::string msg = error_of([&] { download_file(server.url("/missing"), dest, {}); });
  EXPECT_THAT(msg, HasSubstr("cannot download " + server.url("/missing")));
  EXPECT_THAT(msg, HasSubstr("HTTP 404"));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, ServerErrorNamesTheStatus) {
  server.serve("/broken", "oops", 500, "text/plain");
  EXPECT_THAT(error_of([&] { download_file(server.url("/broken"), dest, {}); }),
              HasSubstr("HTTP 500"));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, ShortBodyFailsAndLeavesNothing) {
  server.truncate("/short", std::string(1000, 'x'), 5000);
  const std::string msg = error_of([&] { download_file(server.url("/short"), dest, {}); });
  EXPECT_THAT(msg, HasSubstr("the transfer ended after 1000 of 5000 bytes"));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, ConnectionRefused) {
  std::string url;
  {
    test::HttpServer gone;
    url = gone.url("/x");
  }
  const std::string msg = error_of([&] { download_file(url, dest, {}); });
  EXPECT_THAT(msg, HasSubstr("cannot download " + url + ": "));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, StalledServerIsAbandoned) {
  server.stall("/stall", std::string(100, 'x'), 1000000);
  DownloadOptions options;
  options.stall_timeout = seconds(2);
  const auto start = Clock::now();
  const std::string msg = error_of([&] { download_file(server.url("/stall"), dest, options); });
  const auto elapsed = Clock::now() - start;
  EXPECT_THAT(msg, HasSubstr("the server stopped sending (no data for 2 s)"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(1500));
  EXPECT_LT(elapsed, seconds(30));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, CancelStopsAStalledTransferPromptly) {
  server.stall("/stall", std::string(100, 'x'), 1000000);
  CancelState cancel;
  DownloadOptions options;
  options.cancel = &cancel;
  std::atomic<bool> started{false};
  options.progress = [&](std::int64_t, std::int64_t) { started = true; };
  std::thread canceler([&] {
    // Cancel once bytes are flowing (or after a while regardless), to hit the transfer mid-way.
    for (int i = 0; i < 100 && !started; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cancel.cancel();
  });
  const auto start = Clock::now();
  const std::string msg = error_of([&] { download_file(server.url("/stall"), dest, options); });
  const auto elapsed = Clock::now() - start;
  canceler.join();
  EXPECT_THAT(msg, HasSubstr("cannot download " + server.url("/stall") + ": canceled"));
  EXPECT_LT(elapsed, seconds(5));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, CanceledBeforeItStarts) {
  server.serve("/f", "data");
  CancelState cancel;
  cancel.cancel();
  DownloadOptions options;
  options.cancel = &cancel;
  EXPECT_THAT(error_of([&] { download_file(server.url("/f"), dest, options); }),
              HasSubstr("canceled"));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, ChecksumMatches) {
  server.serve("/abc", "abc");
  DownloadOptions options;
  options.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  download_file(server.url("/abc"), dest, options);
  EXPECT_EQ(read_file(dest), "abc");
  // Published checksums come in either case.
  options.sha256 = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  download_file(server.url("/abc"), dest, options);
  EXPECT_EQ(read_file(dest), "abc");
}

TEST_F(DownloadTest, ChecksumMismatchNamesBothSumsAndLeavesNothing) {
  server.serve("/abc", "abd");
  DownloadOptions options;
  options.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const std::string msg = error_of([&] { download_file(server.url("/abc"), dest, options); });
  EXPECT_THAT(msg, HasSubstr("the release publishes " + *options.sha256));
  TempDir other;
  write_file(other.path / "abd", "abd");
  EXPECT_THAT(msg, HasSubstr("SHA-256 is " + sha256_file(other.path / "abd")));
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, ProgressCallbackExceptionPropagates) {
  server.serve("/big", random_bytes(1024 * 1024, 2));
  DownloadOptions options;
  options.progress = [](std::int64_t, std::int64_t) { throw std::logic_error("from progress"); };
  EXPECT_THROW(download_file(server.url("/big"), dest, options), std::logic_error);
  EXPECT_TRUE(listing(dir.path).empty());
}

TEST_F(DownloadTest, MissingDirectoryNamesThePartFile) {
  server.serve("/f", "data");
  const std::string msg =
      error_of([&] { download_file(server.url("/f"), dir.path / "no" / "file", {}); });
  EXPECT_THAT(msg, HasSubstr("cannot create"));
  EXPECT_THAT(msg, HasSubstr((dir.path / "no" / "file").string() + ".part-"));
}

TEST_F(DownloadTest, ConcurrentDownloadsStayApart) {
  const std::string body = random_bytes(512 * 1024, 3);
  server.serve("/f", body);
  std::vector<std::future<void>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] {
      download_file(server.url("/f"), dir.path / ("f" + std::to_string(i)), {});
    }));
  }
  for (auto& r : runs)
    r.get();
  EXPECT_EQ(listing(dir.path), (std::vector<std::string>{"f0", "f1", "f2", "f3"}));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(read_file(dir.path / ("f" + std::to_string(i))), body);
}

TEST_F(DownloadTest, TextReturnsTheBody) {
  server.serve("/sum", "0123abcd  file.tar.gz\n", 200, "text/plain");
  EXPECT_EQ(download_text(server.url("/sum"), {}), "0123abcd  file.tar.gz\n");
}

TEST_F(DownloadTest, TextOverTheCapFails) {
  server.serve("/large", std::string(1000, 'x'), 200, "text/plain");
  EXPECT_THAT(error_of([&] { download_text(server.url("/large"), {}, 100); }),
              HasSubstr("larger than 100 bytes"));
  EXPECT_EQ(download_text(server.url("/large"), {}, 1000), std::string(1000, 'x'));
}

TEST_F(DownloadTest, TextFailuresAreTheSame) {
  EXPECT_THAT(error_of([&] { download_text(server.url("/missing"), {}); }), HasSubstr("HTTP 404"));
  server.truncate("/short", "abc", 10);
  EXPECT_THAT(error_of([&] { download_text(server.url("/short"), {}); }),
              HasSubstr("ended after 3 of 10 bytes"));
}

// ---------------------------------------------------------------------------------------------
// extract_archive

enum class Format : std::uint8_t { tar_gz, tar_bz2, zip };

const char* format_name(Format f) {
  switch (f) {
    case Format::tar_gz:
      return "TarGz";
    case Format::tar_bz2:
      return "TarBz2";
    case Format::zip:
      return "Zip";
  }
  return "Unknown";
}
// Test names and failure output show the format, not its byte.
void PrintTo(Format f, std::ostream* os) {
  *os << format_name(f);
}

struct Entry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  unsigned perm = 0644;
  std::string link;  ///< symlink target, or hardlink target when `hard`
  bool hard = false;
};

Entry dir_entry(std::string name) {
  return {std::move(name), {}, AE_IFDIR, 0755, {}, false};
}
Entry file_entry(std::string name, std::string data, unsigned perm = 0644) {
  return {std::move(name), std::move(data), AE_IFREG, perm, {}, false};
}
Entry symlink_entry(std::string name, std::string target) {
  return {std::move(name), {}, AE_IFLNK, 0777, std::move(target), false};
}
Entry hardlink_entry(std::string name, std::string target) {
  return {std::move(name), {}, AE_IFREG, 0644, std::move(target), true};
}

void write_archive(const fs::path& file, Format format, const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  const auto check = [&](int r, const char* what) {
    if (r < ARCHIVE_WARN) {
      const std::string msg = std::string(what) + ": " + archive_error_string(a);
      archive_write_free(a);
      throw std::runtime_error(msg);
    }
  };
  switch (format) {
    case Format::tar_gz:
      check(archive_write_add_filter_gzip(a), "gzip");
      check(archive_write_set_format_pax_restricted(a), "pax");
      break;
    case Format::tar_bz2:
      check(archive_write_add_filter_bzip2(a), "bzip2");
      check(archive_write_set_format_pax_restricted(a), "pax");
      break;
    case Format::zip:
      check(archive_write_set_format_zip(a), "zip");
      break;
  }
  check(archive_write_open_filename(a, file.c_str()), "open");
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, static_cast<mode_t>(e.perm));
    archive_entry_set_mtime(entry, 1700000000, 0);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.link.c_str());
    if (e.hard) archive_entry_set_hardlink(entry, e.link.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    const int r = archive_write_header(a, entry);
    archive_entry_free(entry);
    check(r, "header");
    if (!e.data.empty()) {
      check(archive_write_data(a, e.data.data(), e.data.size()) < 0 ? ARCHIVE_FATAL : ARCHIVE_OK,
            "data");
    }
  }
  check(archive_write_close(a), "close");
  archive_write_free(a);
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777U;
}

class ArchiveTest : public ::testing::Test {
 protected:
  TempDir tmp;
  fs::path archive = tmp.path / "archive";
  fs::path dest = tmp.path / "dest";
  void SetUp() override { fs::create_directory(dest); }

  /// Extracts and returns the error, expecting the refusal to name `entry`; checks nothing
  /// appeared beside the archive and dest.
  void expect_refused(Format format, const std::vector<Entry>& entries, const std::string& entry) {
    write_archive(archive, format, entries);
    const std::string msg = error_of([&] { extract_archive(archive, dest); });
    EXPECT_THAT(msg, HasSubstr("refusing to unpack " + archive.string()));
    EXPECT_THAT(msg, HasSubstr("entry \"" + entry + "\""));
    EXPECT_THAT(msg, HasSubstr("outside " + dest.string()));
    EXPECT_EQ(listing(tmp.path), (std::vector<std::string>{"archive", "dest"}));
  }
};

class ArchiveFormatTest : public ArchiveTest, public ::testing::WithParamInterface<Format> {};

TEST_P(ArchiveFormatTest, UnpacksFilesDirectoriesLinksAndModes) {
  write_archive(archive, GetParam(),
                {dir_entry("tool/"), dir_entry("tool/bin/"),
                 file_entry("tool/bin/run", "#!/bin/sh\necho hi\n", 0755),
                 file_entry("tool/README", "read me\n", 0644),
                 file_entry("tool/deep/er/still/data.txt", "deep\n", 0600),
                 symlink_entry("tool/bin/alias", "run"),
                 symlink_entry("tool/deep/er/link", "../../bin/run")});
  extract_archive(archive, dest);

  EXPECT_EQ(read_file(dest / "tool/bin/run"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(mode_of(dest / "tool/bin/run"), 0755U);
  EXPECT_EQ(::access((dest / "tool/bin/run").c_str(), X_OK), 0);
  EXPECT_EQ(read_file(dest / "tool/README"), "read me\n");
  EXPECT_EQ(mode_of(dest / "tool/README"), 0644U);
  EXPECT_EQ(read_file(dest / "tool/deep/er/still/data.txt"), "deep\n");
  EXPECT_TRUE(fs::is_directory(dest / "tool/deep/er/still"));
  EXPECT_EQ(fs::read_symlink(dest / "tool/bin/alias"), "run");
  EXPECT_EQ(fs::read_symlink(dest / "tool/deep/er/link"), "../../bin/run");
  EXPECT_EQ(read_file(dest / "tool/deep/er/link"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(listing(tmp.path), (std::vector<std::string>{"archive", "dest"}));
}

TEST_P(ArchiveFormatTest, RefusesParentTraversal) {
  expect_refused(GetParam(), {file_entry("ok", "fine"), file_entry("../evil", "gotcha")},
                 "../evil");
  expect_refused(GetParam(), {file_entry("a/../../evil", "gotcha")}, "a/../../evil");
}

TEST_P(ArchiveFormatTest, RefusesAbsolutePaths) {
  const std::string target = (tmp.path / "evil").string();
  expect_refused(GetParam(), {file_entry(target, "gotcha")}, target);
  EXPECT_FALSE(fs::exists(tmp.path / "evil"));
}

TEST_P(ArchiveFormatTest, RefusesSymlinksLeadingOutside) {
  expect_refused(GetParam(), {dir_entry("a/"), symlink_entry("a/etc", "../../etc")}, "a/etc");
  expect_refused(GetParam(), {symlink_entry("abs", "/etc")}, "abs");
  // Both links look harmless on paper, but `d` is `.`, so `d/d/..` is `..`.
  expect_refused(GetParam(), {symlink_entry("d", "."), symlink_entry("e", "d/d/..")}, "e");
}

INSTANTIATE_TEST_SUITE_P(Archive, ArchiveFormatTest,
                         ::testing::Values(Format::tar_gz, Format::tar_bz2, Format::zip),
                         [](const ::testing::TestParamInfo<Format>& p) {
                           return std::string(format_name(p.param));
                         });

TEST_F(ArchiveTest, HardlinksInsideWorkAndOutsideAreRefused) {
  write_archive(archive, Format::tar_gz,
                {file_entry("bin/tool", "binary", 0755), hardlink_entry("bin/tool2", "bin/tool")});
  extract_archive(archive, dest);
  EXPECT_EQ(read_file(dest / "bin/tool2"), "binary");
  EXPECT_EQ(fs::hard_link_count(dest / "bin/tool"), 2U);

  fs::remove_all(dest);
  fs::create_directory(dest);
  expect_refused(Format::tar_gz, {hardlink_entry("passwd", "../../../etc/passwd")}, "passwd");
  expect_refused(Format::tar_gz, {hardlink_entry("passwd", "/etc/passwd")}, "passwd");
}

TEST_F(ArchiveTest, DropsSetIdBits) {
  write_archive(archive, Format::tar_gz,
                {file_entry("suid", "x", 04755), file_entry("sgid", "x", 02755)});
  extract_archive(archive, dest);
  EXPECT_EQ(mode_of(dest / "suid"), 0755U);
  EXPECT_EQ(mode_of(dest / "sgid"), 0755U);
}

TEST_F(ArchiveTest, RandomBytesAreNotAnArchive) {
  write_file(archive, random_bytes(10000, 4));
  const std::string msg = error_of([&] { extract_archive(archive, dest); });
  EXPECT_THAT(msg, HasSubstr("cannot unpack " + archive.string() + ": "));
  EXPECT_THAT(msg, Not(HasSubstr("unknown libarchive error")));
}

TEST_F(ArchiveTest, TruncatedTarGzFails) {
  // Random content does not compress, so cutting the file in half cuts into the data.
  write_archive(
      archive, Format::tar_gz,
      {file_entry("a", random_bytes(200000, 5)), file_entry("b", random_bytes(200000, 6))});
  const std::string whole = read_file(archive);
  write_file(archive, whole.substr(0, whole.size() / 2));
  const std::string msg = error_of([&] { extract_archive(archive, dest); });
  EXPECT_THAT(msg, HasSubstr("cannot unpack " + archive.string() + ": "));
  EXPECT_THAT(msg, Not(HasSubstr("unknown libarchive error")));
}

TEST_F(ArchiveTest, MissingArchiveFails) {
  EXPECT_THAT(error_of([&] { extract_archive(tmp.path / "nope.tar.gz", dest); }),
              HasSubstr("cannot unpack " + (tmp.path / "nope.tar.gz").string()));
}

TEST_F(ArchiveTest, UnpacksThroughASymlinkedDestinationPath) {
  // The staging directory may sit below a symlink (macOS's /tmp, a linked home directory).
  fs::create_directory_symlink(dest, tmp.path / "via");
  write_archive(archive, Format::tar_gz, {file_entry("sub/file", "data")});
  extract_archive(archive, tmp.path / "via");
  EXPECT_EQ(read_file(dest / "sub/file"), "data");
}

}  // namespace
}  // namespace appose::detail
