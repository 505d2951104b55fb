// The data exceptions carry besides their message: ProtocolError::offset(), ConfigError's file,
// line and column, and a failed build tool's name, exit code and output in BuildException.
// Each is checked for its value, from the place the library really throws it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <appose/scheme.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "core/json.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"
#include "wire/messages.hpp"

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

// Throwing and catching copy the exception: the fields must not make that throw.
static_assert(std::is_nothrow_copy_constructible_v<appose::ProtocolError>);
static_assert(std::is_nothrow_copy_constructible_v<appose::BuildException>);
static_assert(std::is_nothrow_copy_constructible_v<appose::ConfigError>);

template <typename E, typename F>
std::optional<E> caught(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  return std::nullopt;
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// --- ProtocolError::offset() ---

TEST(ProtocolErrorOffset, IsTheByteWhereDecodingFailed) {
  using appose::detail::codec::parse;
  // The reader stops at the token that is not `true`.
  auto e = caught<appose::ProtocolError>([] { (void)parse(R"({"a":1,"b":tru})"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset(), 11U) << e->what();
  EXPECT_THAT(e->what(), HasSubstr("byte 11"));

  e = caught<appose::ProtocolError>([] { (void)parse("[1] x"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset(), 4U) << e->what();  // the 'x' after the value

  e = caught<appose::ProtocolError>([] { (void)parse("{\"k\":\"ab\xff\"}"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset(), 8U) << e->what();  // the 0xff byte itself

  e = caught<appose::ProtocolError>([] { (void)parse("  [1,]"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset(), 5U) << e->what();  // the ']' where a value must be
}

TEST(ProtocolErrorOffset, IsEmptyForEncodingAndForMessagesThatAreValidJson) {
  using namespace appose::detail::codec;
  auto e = caught<appose::ProtocolError>([] {
    (void)write(appose::Value(std::numeric_limits<double>::quiet_NaN()),
                WriteOptions{NonFinite::refuse});
  });
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->offset().has_value()) << e->what();

  e = caught<appose::ProtocolError>([] { (void)write(appose::Value(std::string("a\xff"))); });
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->offset().has_value()) << e->what();

  e = caught<appose::ProtocolError>([] { (void)to_response(appose::Args{{"task", "t1"}}); });
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->offset().has_value()) << e->what();

  // The constructor every other thrower uses leaves it empty too.
  EXPECT_FALSE(appose::ProtocolError("x").offset().has_value());
}

// --- ConfigError: file(), line(), column() ---

constexpr const char* kBadPixi =
    "[workspace]\nname = \"broken\"\nchannels = [\"conda-forge\"]\n"
    "platforms = [\"linux-64\"]\n[dependencies]\npython = \n";

TEST(ConfigErrorPosition, SchemeValidateGivesLineAndColumnAndNoFile) {
  auto e = caught<appose::ConfigError>([] { appose::Scheme::pixi_toml().validate(kBadPixi); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file(), "<content>");
  EXPECT_EQ(e->line(), 6U) << e->what();
  EXPECT_EQ(e->column(), 10U) << e->what();
  EXPECT_THAT(e->what(), StartsWith("pixi.toml: line 6, column 10: "));
  EXPECT_FALSE(e->exit_code().has_value());  // a ConfigError is no tool failure

  // YAML: yaml-cpp's 0-based mark, reported 1-based.
  e = caught<appose::ConfigError>([] {
    appose::Scheme::environment_yml().validate("name: x\ndependencies:\n  - a\n   - b: [\n");
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line(), 4U) << e->what();
  EXPECT_GE(e->column(), 1U) << e->what();

  // A node of the wrong kind is reported where it is.
  e = caught<appose::ConfigError>(
      [] { appose::Scheme::environment_yml().validate("name: x\ndependencies:\n  numpy: 1\n"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line(), 3U) << e->what();
  EXPECT_EQ(e->column(), 3U) << e->what();

  // requirements.txt, checked by hand: the unbalanced '[' on the second line.
  e = caught<appose::ConfigError>(
      [] { appose::Scheme::requirements_txt().validate("numpy\n  scipy[extra\n"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line(), 2U) << e->what();
  EXPECT_EQ(e->column(), 8U) << e->what();

  // About the whole document: no position.
  e = caught<appose::ConfigError>(
      [] { appose::Scheme::pyproject_toml().validate("[tool.x]\na = 1\n"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line(), 0U) << e->what();
  EXPECT_EQ(e->column(), 0U) << e->what();
}

TEST(ConfigErrorPosition, ValidateNamesTheFileItIsGiven) {
  auto e = caught<appose::ConfigError>(
      [] { appose::Scheme::pixi_toml().validate(kBadPixi, "conf/my-env.toml"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file(), "conf/my-env.toml");
  EXPECT_EQ(e->line(), 6U);
  EXPECT_THAT(e->what(), StartsWith("conf/my-env.toml (pixi.toml): line 6, column 10: "));

  // A file named after its format needs the format said once only.
  e = caught<appose::ConfigError>(
      [] { appose::Scheme::pixi_toml().validate(kBadPixi, "/x/pixi.toml"); });
  ASSERT_TRUE(e);
  EXPECT_THAT(e->what(), StartsWith("/x/pixi.toml: line 6, column 10: "));
}

/// Builders get their own environments root, and no tool is ever found or downloaded.
class ErrorFieldsBuild : public ::testing::Test {
 protected:
  /// An executable shell script at root/bin/`name`.
  fs::path script(const std::string& name, const std::string& body) const {
    fs::path p = root_ / "bin" / name;
    write_file(p, "#!/bin/sh\n" + body);
    fs::permissions(p, fs::perms::owner_all);
    return p;
  }

  appose::test::TempDir dir_{"appose-error-fields"};
  const fs::path& root_ = dir_.path;
  appose::test::ScopedEnv envs_{"APPOSE_ENVS_DIR", root_.string()};
  appose::test::ScopedEnv pixi_url_{"APPOSE_PIXI_URL", kNoServer};
  appose::test::ScopedEnv uv_url_{"APPOSE_UV_URL", kNoServer};
  appose::test::ScopedEnv mamba_url_{"APPOSE_MICROMAMBA_URL", kNoServer};

 private:
  static constexpr const char* kNoServer = "http://127.0.0.1:9/tool.tar.gz";
};

TEST_F(ErrorFieldsBuild, BuilderFromAFileReportsThePath) {
  const fs::path file = root_ / "in" / "env.toml";
  write_file(file, kBadPixi);
  auto e = caught<appose::ConfigError>([&] { (void)appose::pixi(file).build(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file(), file.string());
  EXPECT_EQ(e->line(), 6U);
  EXPECT_EQ(e->column(), 10U);
  EXPECT_THAT(e->what(), HasSubstr(file.string() + " (pixi.toml): line 6, column 10: "));

  // The same text through content() has no file.
  e = caught<appose::ConfigError>([&] { (void)appose::pixi().content(kBadPixi).build(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file(), "<content>");
  EXPECT_EQ(e->line(), 6U);
}

TEST_F(ErrorFieldsBuild, BuilderFromAUrlReportsTheUrl) {
  appose::test::HttpServer server;
  server.serve("/env.yml", "name: x\ndependencies:\n  numpy: 1\n");
  const std::string url = server.url("/env.yml");
  auto e = caught<appose::ConfigError>([&] { (void)appose::mamba().url(url).build(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file(), url);
  EXPECT_EQ(e->line(), 3U);
  EXPECT_EQ(e->column(), 3U);
  EXPECT_THAT(e->what(), HasSubstr(url));
}

TEST_F(ErrorFieldsBuild, FailedToolGivesItsNameExitCodeAndOutput) {
  const fs::path uv = script("my-uv",
                             "echo 'resolving' \n"
                             "echo 'error: no such package' >&2\n"
                             "echo '  hint: check the name' >&2\n"
                             "exit 3\n");
  auto e = caught<appose::BuildException>(
      [&] { (void)appose::uv().include({"nothing"}).executable(uv).name("x").build(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->tool(), "my-uv");
  EXPECT_EQ(e->exit_code(), 3);
  EXPECT_EQ(e->output_tail(), "error: no such package\n  hint: check the name");
  // The message says as much as before.
  EXPECT_THAT(e->what(), HasSubstr("uv build of " + (root_ / "x").string() + " failed: `"));
  EXPECT_THAT(e->what(), HasSubstr("` exited with code 3:\nerror: no such package"));
}

TEST_F(ErrorFieldsBuild, ToolKilledBySignalAndToolWithOnlyStandardOutput) {
  const fs::path killed = script("uv", "echo 'about to die'\nkill -9 $$\n");
  auto e = caught<appose::BuildException>(
      [&] { (void)appose::uv().include({"x"}).executable(killed).name("k").build(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->tool(), "uv");
  EXPECT_EQ(e->exit_code(), -9);
  EXPECT_EQ(e->output_tail(), "about to die");  // no stderr: its stdout
  EXPECT_THAT(e->what(), HasSubstr("exited with signal 9"));
}

TEST_F(ErrorFieldsBuild, FailuresThatAreNoToolFailureHaveNoToolFields) {
  auto e = caught<appose::BuildException>([] { (void)appose::uv().include({"x"}).build(); });
  ASSERT_TRUE(e);  // no name, no base
  EXPECT_EQ(e->tool(), "");
  EXPECT_FALSE(e->exit_code().has_value());
  EXPECT_EQ(e->output_tail(), "");
}

}  // namespace
