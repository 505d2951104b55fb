// Installing a tool from its release archive, against a local HTTP server on 127.0.0.1 serving
// archives these tests build with libarchive: the layouts of the real pixi, uv and micromamba
// releases, and every way a download goes wrong. Each failure must be a clear BuildException
// with no half-installed tool left behind. One test installs the real uv (the peers' venv's
// binary, packed the way uv's release packs it) and builds an environment with it.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "envbuild/download.hpp"
#include "envbuild/install.hpp"
#include "envbuild/tool.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using appose::detail::ToolKind;

namespace {

/// A regular file, mode 0755 (release archives hold executables and their documents).
struct Entry {
  std::string name;
  std::string content;
};

enum class Packing { tar_gz, tar_bz2, zip };

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// An archive as the releases ship them, built with libarchive's writer.
std::string make_archive(Packing packing, const std::vector<Entry>& entries, const fs::path& tmp) {
  archive* a = archive_write_new();
  if (packing == Packing::zip) {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    if (packing == Packing::tar_gz) {
      archive_write_add_filter_gzip(a);
    } else {
      archive_write_add_filter_bzip2(a);
    }
  }
  const fs::path file = tmp / "archive.out";
  EXPECT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0755);
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    archive_write_header(a, entry);
    archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  std::string bytes = slurp(file);
  fs::remove(file);
  return bytes;
}

const char* kScript = "#!/bin/sh\necho 'uv 0.9.5 (test)'\n";

class ToolInstall : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("appose-install-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ::setenv("APPOSE_DOWNLOAD_TIMEOUT", "3", 1);
  }
  void TearDown() override {
    for (const char* v : {"APPOSE_UV_URL", "APPOSE_PIXI_URL", "APPOSE_MICROMAMBA_URL"})
      ::unsetenv(v);
    fs::remove_all(root_);
  }

  /// Serves `archive` at /release.tar.gz with its checksum beside it, and points uv there.
  void publish_uv(const std::string& archive, const std::string& path = "/uv.tar.gz") {
    server_.serve(path, archive);
    const fs::path tmp = root_ / "sum.tmp";
    std::ofstream(tmp, std::ios::binary) << archive;
    server_.serve(path + ".sha256",
                  appose::detail::sha256_file(tmp) + "  uv-x86_64-unknown-linux-gnu.tar.gz\n");
    fs::remove(tmp);
    ::setenv("APPOSE_UV_URL", server_.url(path).c_str(), 1);
  }

  fs::path install(ToolKind kind,
                   std::vector<std::pair<std::string, std::int64_t>>* events = nullptr) {
    return appose::detail::install_tool(
        kind, root_,
        [events](std::string_view title, std::int64_t cur, std::int64_t) {
          if (events != nullptr) events->emplace_back(std::string(title), cur);
        },
        nullptr);
  }

  std::string failure(ToolKind kind) {
    try {
      install(kind);
    } catch (const appose::BuildException& e) {
      return e.what();
    }
    return "(no BuildException)";
  }

  /// Nothing installed, and no staging directory or partial file left under the root.
  void expect_clean(ToolKind kind) {
    EXPECT_FALSE(fs::exists(appose::detail::tool_cache_path(kind, root_)));
    for (const auto& e : fs::recursive_directory_iterator(root_)) {
      const std::string name = e.path().filename().string();
      EXPECT_EQ(name.find("staging"), std::string::npos) << e.path();
      EXPECT_EQ(name.find(".part"), std::string::npos) << e.path();
    }
  }

  fs::path root_;
  appose::test::HttpServer server_;
};

}  // namespace

TEST_F(ToolInstall, UvReleaseLayoutIsMovedUpAndExecutable) {
  publish_uv(make_archive(
      Packing::tar_gz,
      {{"uv-x86_64-unknown-linux-gnu/uv", kScript}, {"uv-x86_64-unknown-linux-gnu/uvx", kScript}},
      root_));
  std::vector<std::pair<std::string, std::int64_t>> events;
  const fs::path uv = install(ToolKind::uv, &events);
  EXPECT_EQ(uv, root_ / ".uv" / "bin" / "uv");
  EXPECT_EQ(::access(uv.c_str(), X_OK), 0);
  EXPECT_EQ(::access((root_ / ".uv" / "bin" / "uvx").c_str(), X_OK), 0);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().first, "Downloading uv");
  EXPECT_GT(events.back().second, 0);
  expect_clean(ToolKind::micromamba);  // and no staging left behind
  // Installed: a second call downloads nothing.
  const auto before = server_.request_count("/uv.tar.gz");
  install(ToolKind::uv);
  EXPECT_EQ(server_.request_count("/uv.tar.gz"), before);
}

TEST_F(ToolInstall, PixiAndMicromambaLayouts) {
  const std::string pixi = make_archive(Packing::tar_gz, {{"pixi", "#!/bin/sh\n"}}, root_);
  server_.serve("/pixi.tar.gz", pixi);
  std::ofstream(root_ / "p", std::ios::binary) << pixi;
  server_.serve("/pixi.tar.gz.sha256", appose::detail::sha256_file(root_ / "p") + "\n");
  fs::remove(root_ / "p");
  ::setenv("APPOSE_PIXI_URL", server_.url("/pixi.tar.gz").c_str(), 1);
  EXPECT_EQ(install(ToolKind::pixi), root_ / ".pixi" / "bin" / "pixi");

  // micromamba's API serves a tar.bz2 with bin/micromamba, and publishes no checksum.
  server_.serve(
      "/mm", make_archive(Packing::tar_bz2,
                          {{"bin/micromamba", "#!/bin/sh\n"}, {"info/about.json", "{}"}}, root_));
  ::setenv("APPOSE_MICROMAMBA_URL", server_.url("/mm").c_str(), 1);
  const fs::path mm = install(ToolKind::micromamba);
  EXPECT_EQ(mm, root_ / ".mamba" / "bin" / "micromamba");
  EXPECT_EQ(::access(mm.c_str(), X_OK), 0);
}

TEST_F(ToolInstall, ZipReleaseWithoutFolderIsInstalled) {
  publish_uv(make_archive(Packing::zip, {{"uv", kScript}, {"uvx", kScript}}, root_), "/uv.zip");
  EXPECT_EQ(::access(install(ToolKind::uv).c_str(), X_OK), 0);
}

TEST_F(ToolInstall, RedirectsAreFollowed) {
  publish_uv(make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}}, root_), "/real.tar.gz");
  server_.redirect("/latest.tar.gz", server_.url("/real.tar.gz"));
  server_.redirect("/latest.tar.gz.sha256", "/real.tar.gz.sha256");
  ::setenv("APPOSE_UV_URL", server_.url("/latest.tar.gz").c_str(), 1);
  EXPECT_NO_THROW(install(ToolKind::uv));
  EXPECT_EQ(server_.request_count("/real.tar.gz"), 1U);
}

TEST_F(ToolInstall, MissingReleaseIs404) {
  ::setenv("APPOSE_UV_URL", server_.url("/nope.tar.gz").c_str(), 1);
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("404"), std::string::npos) << err;
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, TruncatedBodyIsRefused) {
  const std::string archive = make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}}, root_);
  publish_uv(archive);
  server_.truncate("/uv.tar.gz", archive.substr(0, archive.size() / 2), archive.size());
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("cannot download"), std::string::npos) << err;
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, ChecksumMismatchIsRefused) {
  publish_uv(make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}}, root_));
  server_.serve("/uv.tar.gz.sha256", std::string(64, 'a') + "  uv.tar.gz\n");
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("SHA-256"), std::string::npos) << err;
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, CorruptArchiveIsRefused) {
  publish_uv(std::string(4096, '\x5a'));
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("cannot unpack"), std::string::npos) << err;
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, TraversalEntryIsRefused) {
  publish_uv(make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}, {"../../evil", "x"}}, root_));
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("evil"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(root_.parent_path() / "evil"));
  EXPECT_FALSE(fs::exists(root_ / "evil"));
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, ArchiveWithoutTheExecutableIsRefused) {
  publish_uv(make_archive(Packing::tar_gz, {{"README.md", "hello"}}, root_));
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("does not hold the uv executable"), std::string::npos) << err;
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, StalledServerTimesOut) {
  const std::string archive = make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}}, root_);
  publish_uv(archive);
  server_.stall("/uv.tar.gz", archive.substr(0, 10), archive.size());
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = failure(ToolKind::uv);
  EXPECT_NE(err.find("cannot download"), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  expect_clean(ToolKind::uv);
}

TEST_F(ToolInstall, ConcurrentInstallersDownloadOnce) {
  publish_uv(make_archive(Packing::tar_gz, {{"uv-x/uv", kScript}}, root_));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      try {
        install(ToolKind::uv);
        ++ok;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(server_.request_count("/uv.tar.gz"), 1U);
}

TEST_F(ToolInstall, BuilderDownloadsTheRealUvThenBuilds) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const fs::path real_uv = fs::path(*appose::test::peer_python()).parent_path() / "uv";
  ASSERT_TRUE(fs::exists(real_uv));
  publish_uv(
      make_archive(Packing::tar_gz, {{"uv-x86_64-unknown-linux-gnu/uv", slurp(real_uv)}}, root_));
  ::setenv("APPOSE_ENVS_DIR", root_.c_str(), 1);
  ::setenv("UV_PYTHON_DOWNLOADS", "never", 1);
  ::setenv("PATH", "/usr/bin:/bin", 1);  // no uv on PATH: the builder must download it
  ::unsetenv("APPOSE_UV");
  std::vector<std::string> titles;
  appose::Environment env =
      appose::uv()
          .include({"appose==0.12.0"})
          .subscribe_progress([&](std::string_view title, std::int64_t, std::int64_t) {
            if (titles.empty() || titles.back() != title) titles.emplace_back(title);
          })
          .build("downloaded");
  ASSERT_FALSE(titles.empty());
  EXPECT_EQ(titles.front(), "Downloading uv") << ::testing::PrintToString(titles);
  EXPECT_TRUE(fs::exists(root_ / ".uv" / "bin" / "uv"));
  appose::Service python = env.python();
  EXPECT_EQ(python.task("1 + 1").wait_for().result().get<int>(), 2);
  python.close();
}
