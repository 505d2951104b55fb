// What a build refuses before any tool runs: a configuration file that installs Python but not
// the appose package its workers import (every file type), and what each build tool's failure
// to download says to do. No tool runs: a configuration that passes the check goes on to look
// for its tool, which is missing (PATH is empty) and cannot be downloaded (a closed port), so
// "is not installed" proves the check let it through.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <filesystem>
#include <string>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using appose::test::build_error_of;
using appose::test::ScopedEnv;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

class ApposeCheck : public ::testing::Test {
 protected:
  appose::test::TempDir root_{"appose-check-test"};
  ScopedEnv envs_{"APPOSE_ENVS_DIR", root_.path.string()};
  ScopedEnv path_{"PATH", "/nonexistent"};
  ScopedEnv timeout_{"APPOSE_DOWNLOAD_TIMEOUT", "5"};
  ScopedEnv pixi_{"APPOSE_PIXI", std::nullopt};
  ScopedEnv uv_{"APPOSE_UV", std::nullopt};
  ScopedEnv mamba_{"APPOSE_MICROMAMBA", std::nullopt};
  // Nothing listens on port 9: a download fails at once.
  ScopedEnv pixi_url_{"APPOSE_PIXI_URL", "http://127.0.0.1:9/pixi.tar.gz"};
  ScopedEnv uv_url_{"APPOSE_UV_URL", "http://127.0.0.1:9/uv.tar.gz"};
  ScopedEnv mamba_url_{"APPOSE_MICROMAMBA_URL", "http://127.0.0.1:9/micromamba"};
};

/// The error a build of `content` with the builder `type` stops at.
std::string build_error(const std::string& type, const std::string& content) {
  return build_error_of([&] { (void)appose::content(content).builder(type).build("env"); });
}

/// The same for a requirements.txt, named as such (detection cannot tell one that starts with
/// a comment or an option).
std::string requirements_error(const std::string& content) {
  return build_error_of(
      [&] { (void)appose::uv().content(content).scheme("requirements.txt").build("env"); });
}

constexpr const char* kRefused = "installs Python but not the appose package";
constexpr const char* kPassed = "is not installed";

}  // namespace

TEST_F(ApposeCheck, RequirementsTxtWithoutApposeIsRefusedWithTheLineToAdd) {
  const std::string err = requirements_error("numpy\nscipy>=1.10\n");
  EXPECT_THAT(err, HasSubstr(kRefused));
  EXPECT_THAT(err, HasSubstr("requirements.txt"));
  EXPECT_THAT(err, HasSubstr("the line `appose`"));
  EXPECT_FALSE(fs::exists(root_.path / "env"));
  // Named in any of the ways pip accepts.
  for (const char* ok :
       {"numpy\nappose\n", "Appose==0.12.0\n", "appose[extra] >= 0.12 ; python_version>'3'\n",
        "numpy \\\n  >=1.0\nAPPOSE\n", "appose @ https://example.invalid/appose.whl\n",
        "# pinned elsewhere\n-r base.txt\nnumpy\n", "./vendored/appose\n"}) {
    EXPECT_THAT(requirements_error(ok), HasSubstr(kPassed)) << ok;
  }
  // A comment or an option is not a package.
  EXPECT_THAT(requirements_error("numpy  # needs appose\n--index-url https://x.invalid/simple\n"),
              HasSubstr(kRefused));
  EXPECT_THAT(requirements_error("numpy\nappose-extras\n"), HasSubstr(kRefused));
}

TEST_F(ApposeCheck, PyprojectTomlWithoutApposeIsRefusedWithTheLineToAdd) {
  const std::string bare =
      "[project]\nname = \"p\"\nversion = \"0.1\"\ndependencies = [\"numpy\"]\n";
  for (const char* type : {"uv", "pixi"}) {
    const std::string err = build_error(type, bare);
    EXPECT_THAT(err, HasSubstr(kRefused)) << type;
    EXPECT_THAT(err, HasSubstr("dependencies = [\"appose\"]")) << type;
  }
  EXPECT_THAT(build_error("uv", "[project]\nname = \"p\"\ndependencies = [\"appose>=0.12\"]\n"),
              HasSubstr(kPassed));
  EXPECT_THAT(build_error("uv",
                          "[project]\nname = \"p\"\ndependencies = []\n"
                          "[project.optional-dependencies]\nworker = [\"Appose[x]\"]\n"),
              HasSubstr(kPassed));
  EXPECT_THAT(build_error("pixi",
                          "[project]\nname = \"p\"\ndependencies = [\"numpy\"]\n"
                          "[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n"
                          "platforms = [\"linux-64\"]\n"
                          "[tool.pixi.dependencies]\nappose = \"*\"\n"),
              HasSubstr(kPassed));
}

TEST_F(ApposeCheck, PixiTomlWithoutApposeIsRefusedWithTheLineToAdd) {
  const std::string head =
      "[workspace]\nname = \"w\"\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n";
  std::string err =
      build_error("pixi", head + "[dependencies]\npython = \"3.11.*\"\nnumpy = \"*\"\n");
  EXPECT_THAT(err, HasSubstr(kRefused));
  EXPECT_THAT(err, HasSubstr("`appose = \"*\"` under [dependencies]"));
  // PyPI packages bring Python with them.
  EXPECT_THAT(build_error("pixi", head + "[pypi-dependencies]\nnumpy = \"*\"\n"),
              HasSubstr(kRefused));
  EXPECT_THAT(
      build_error("pixi", head + "[dependencies]\npython = \"*\"\n"
                                 "[pypi-dependencies]\nappose = { version = \">=0.12\" }\n"),
      HasSubstr(kPassed));
  EXPECT_THAT(build_error("pixi", head + "[dependencies]\npython = \"*\"\n"
                                         "[feature.work.dependencies]\nAppose = \"*\"\n"),
              HasSubstr(kPassed));
  // A Java or native environment installs no Python: nothing to import appose.
  EXPECT_THAT(build_error("pixi", head + "[dependencies]\nopenjdk = \"17.*\"\ngroovy = \"*\"\n"),
              HasSubstr(kPassed));
}

TEST_F(ApposeCheck, EnvironmentYmlWithoutApposeIsRefusedWithTheLineToAdd) {
  for (const char* type : {"pixi", "mamba"}) {
    const std::string err =
        build_error(type, "name: e\ndependencies:\n  - python=3.11\n  - numpy\n");
    EXPECT_THAT(err, HasSubstr(kRefused)) << type;
    EXPECT_THAT(err, HasSubstr("`- appose` under `dependencies:`")) << type;
  }
  EXPECT_THAT(build_error("mamba", "name: e\ndependencies:\n  - pip\n  - pip:\n    - numpy\n"),
              HasSubstr(kRefused));
  for (const char* ok : {"name: e\ndependencies:\n  - python\n  - conda-forge::appose>=0.12\n",
                         "name: e\ndependencies:\n  - python\n  - pip:\n    - Appose==0.12.0\n",
                         "name: e\ndependencies:\n  - openjdk=17\n"}) {
    EXPECT_THAT(build_error("mamba", ok), HasSubstr(kPassed)) << ok;
  }
}

TEST_F(ApposeCheck, EachToolsDownloadFailureGivesItsOwnAdvice) {
  struct Case {
    const char* type;
    const char* content;
    const char* tool;
    const char* var;
    const char* url_var;
  };
  const Case cases[] = {
      {"pixi", "name: e\ndependencies:\n  - appose\n", "pixi", "APPOSE_PIXI", "APPOSE_PIXI_URL"},
      {"mamba", "name: e\ndependencies:\n  - appose\n", "micromamba", "APPOSE_MICROMAMBA",
       "APPOSE_MICROMAMBA_URL"},
      {"uv", "appose\n", "uv", "APPOSE_UV", "APPOSE_UV_URL"},
  };
  for (const Case& c : cases) {
    const std::string err = build_error(c.type, c.content);
    EXPECT_THAT(err, HasSubstr(std::string(c.tool) + " is not installed")) << err;
    EXPECT_THAT(err, HasSubstr(std::string("point $") + c.var + " or the builder's executable()"))
        << err;
    EXPECT_THAT(err, HasSubstr(std::string("$") + c.url_var)) << err;
    EXPECT_THAT(err, HasSubstr(std::string("install ") + c.tool)) << err;
    if (std::string(c.tool) != "uv") {
      EXPECT_THAT(err, Not(HasSubstr("pip install uv"))) << err;
      EXPECT_THAT(err, Not(HasSubstr("APPOSE_UV"))) << err;
    } else {
      EXPECT_THAT(err, HasSubstr("pip install uv")) << err;
    }
  }
}
