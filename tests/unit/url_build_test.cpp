// Builders whose configuration comes from a URL (appose::url(), url(), and pixi/mamba/uv/file
// given a URL), against a local HTTP server on 127.0.0.1 that also misbehaves on request. No
// tool runs here: the fetch happens when the builder is configured, and what it yields is
// compared with the same text given as content() or read from a file. The real build from a
// URL is in tests/interop/uv_build_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "envbuild/config_source.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using appose::test::build_error_of;
using appose::test::ScopedEnv;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

const char* kEnvYml = "name: url-named\nchannels:\n  - conda-forge\ndependencies:\n  - appose\n";
const char* kPixiToml =
    "[workspace]\nname = \"url-pixi\"\nchannels = [\"conda-forge\"]\nplatforms = "
    "[\"linux-64\"]\n\n[dependencies]\npython = \">=3.10\"\nappose = \"*\"\n";
// Starts with a comment: detection from the content alone cannot tell it is a requirements.txt.
const char* kCommentedRequirements = "# what the worker needs\nappose\nnumpy\n";

class UrlBuild : public ::testing::Test {
 protected:
  UrlBuild()
      : no_proxy_("no_proxy", "127.0.0.1,localhost"),
        no_proxy_upper_("NO_PROXY", "127.0.0.1,localhost"),
        envs_("APPOSE_ENVS_DIR", root_.path.string()) {}

  appose::test::TempDir root_{"appose-url-test"};
  ScopedEnv no_proxy_;
  ScopedEnv no_proxy_upper_;
  ScopedEnv envs_;
  appose::test::HttpServer server_;
};

}  // namespace

TEST(UrlNames, TheFileNameComesFromThePathAlone) {
  using appose::detail::url_file_name;
  EXPECT_EQ(url_file_name("https://h/x/environment.yml"), "environment.yml");
  EXPECT_EQ(url_file_name("https://h/x/requirements.txt?raw=1&f=env.yml#pixi.toml"),
            "requirements.txt");
  EXPECT_EQ(url_file_name("https://h:8080/pixi.toml#frag"), "pixi.toml");
  EXPECT_EQ(url_file_name("https://h?q=requirements.txt"), "");
  EXPECT_EQ(url_file_name("https://user@h/"), "");
  EXPECT_EQ(url_file_name("http://h.example"), "");
}

TEST(UrlNames, SchemesFromFileNames) {
  using appose::Scheme;
  const auto named = [](std::string_view name) {
    auto n = appose::detail::scheme_from_file_name(name);
    return n ? std::make_optional(std::make_pair(std::string(n->scheme.name()), n->certain))
             : std::nullopt;
  };
  using Named = std::optional<std::pair<std::string, bool>>;
  EXPECT_EQ(named("pixi.toml"), Named({"pixi.toml", true}));
  EXPECT_EQ(named("PyProject.toml"), Named({"pyproject.toml", true}));
  EXPECT_EQ(named("environment-dev.yaml"), Named({"environment.yml", true}));
  EXPECT_EQ(named("requirements-gpu.txt"), Named({"requirements.txt", true}));
  // Names that say less only settle what the content leaves open.
  EXPECT_EQ(named("env.yml"), Named({"environment.yml", false}));
  EXPECT_EQ(named("deps.txt"), Named({"requirements.txt", false}));
  EXPECT_EQ(named("other.toml"), std::nullopt);
  EXPECT_EQ(named(""), std::nullopt);
}

TEST_F(UrlBuild, ANameThatSaysLessOnlySettlesWhatTheContentLeavesOpen) {
  // Detected as environment.yml (as the peers detect it), whatever the .txt says.
  server_.serve("/a/deps.txt", "name: n\ndependencies:\n  - appose\n");
  EXPECT_EQ(appose::url(server_.url("/a/deps.txt")).env_type(), "pixi");
  EXPECT_THAT(appose::url(server_.url("/a/deps.txt")).fingerprint(),
              HasSubstr("\"scheme\":\"environment.yml\""));
  // Undetectable content: the name decides.
  server_.serve("/b/deps.txt", kCommentedRequirements);
  EXPECT_EQ(appose::url(server_.url("/b/deps.txt")).env_type(), "uv");
  // A requirements.txt that starts with a URL looks like YAML to detection; its name wins.
  server_.serve("/c/requirements.txt", "https://example.invalid/appose-0.12.0.whl\n");
  EXPECT_EQ(appose::url(server_.url("/c/requirements.txt")).env_type(), "uv");
}

TEST(UrlNames, UrlsAreToldFromPathsAsThePeersTellThem) {
  using appose::detail::is_url;
  EXPECT_TRUE(is_url("https://h/x"));
  EXPECT_TRUE(is_url("HTTP://h/x"));
  EXPECT_TRUE(is_url("ftp://h/x"));
  EXPECT_FALSE(is_url("C://x"));  // a drive letter, not a scheme
  EXPECT_FALSE(is_url("env/https://x"));
  EXPECT_FALSE(is_url("environment.yml"));
}

TEST_F(UrlBuild, AFetchedConfigurationIsTheSameAsTheFileOnDisk) {
  server_.serve("/cfg/environment.yml", kEnvYml, 200, "text/yaml");
  const fs::path local = root_.path / "environment.yml";
  std::ofstream(local, std::ios::binary) << kEnvYml;

  auto fetched = appose::url(server_.url("/cfg/environment.yml"));
  EXPECT_EQ(server_.request_count("/cfg/environment.yml"), 1U);  // fetched at configuration
  EXPECT_EQ(fetched.env_type(), "pixi");
  EXPECT_EQ(fetched.env_dir(), root_.path / "url-named");
  // appose.json records the content, as the peers record it: the same text is the same
  // environment however it arrived.
  EXPECT_EQ(fetched.fingerprint(), appose::file(local).fingerprint());
  EXPECT_EQ(fetched.fingerprint(), appose::content(kEnvYml).fingerprint());
  EXPECT_THAT(fetched.fingerprint(), HasSubstr("\"scheme\":\"environment.yml\""));
  // A copy, env_dir() and fingerprint() fetch nothing again.
  auto copy = fetched;
  (void)copy.env_dir();
  EXPECT_EQ(server_.request_count("/cfg/environment.yml"), 1U);
}

TEST_F(UrlBuild, EverySourceTakingFunctionRoutesAUrl) {
  server_.serve("/pixi.toml", kPixiToml);
  server_.serve("/environment.yml", kEnvYml);
  server_.serve("/requirements.txt", kCommentedRequirements);
  EXPECT_EQ(appose::pixi(server_.url("/pixi.toml")).fingerprint(),
            appose::pixi().content(kPixiToml).fingerprint());
  EXPECT_EQ(appose::mamba(server_.url("/environment.yml")).fingerprint(),
            appose::mamba().content(kEnvYml).fingerprint());
  EXPECT_EQ(appose::uv(server_.url("/requirements.txt")).name("r").fingerprint(),
            appose::uv()
                .content(kCommentedRequirements)
                .scheme("requirements.txt")
                .name("r")
                .fingerprint());
  // file() and `appose build URL` (which calls file()) fetch a URL instead of opening it.
  EXPECT_EQ(appose::file(server_.url("/pixi.toml")).env_dir(), root_.path / "url-pixi");
  EXPECT_EQ(server_.request_count("/pixi.toml"), 2U);
  EXPECT_EQ(server_.request_count("/environment.yml"), 1U);
  EXPECT_EQ(server_.request_count("/requirements.txt"), 1U);
}

TEST_F(UrlBuild, TheUrlsNameGivesTheSchemeWhateverTheQueryAndFragment) {
  server_.serve("/deps/requirements.txt", kCommentedRequirements);
  const std::string address = server_.url("/deps/requirements.txt?token=a/b.yml#x.toml");
  auto b = appose::url(address);
  EXPECT_EQ(b.env_type(), "uv");
  EXPECT_THAT(b.name("q").fingerprint(), HasSubstr("\"scheme\":\"requirements.txt\""));
  // The query reaches the server; the fragment stays with the client.
  EXPECT_EQ(server_.request_count("/deps/requirements.txt?token=a/b.yml"), 1U)
      << ::testing::PrintToString(server_.requests());
  // Without a name to go by, the same text cannot be told apart.
  server_.serve("/deps/latest", kCommentedRequirements);
  EXPECT_EQ(appose::url(server_.url("/deps/latest")).env_type(), "dynamic");
  // scheme() still beats the name.
  server_.serve("/odd/environment.yml", "appose\n");
  EXPECT_EQ(appose::url(server_.url("/odd/environment.yml")).scheme("requirements.txt").env_type(),
            "uv");
}

TEST_F(UrlBuild, RedirectsAreFollowed) {
  server_.serve("/real/environment.yml", kEnvYml);
  server_.redirect("/latest/environment.yml", "/real/environment.yml", 302);
  auto b = appose::url(server_.url("/latest/environment.yml"));
  EXPECT_EQ(b.fingerprint(), appose::content(kEnvYml).fingerprint());
  EXPECT_EQ(server_.request_count("/real/environment.yml"), 1U);
}

TEST_F(UrlBuild, NotFoundNamesTheUrlAndTheStatusWhenConfigured) {
  const std::string address = server_.url("/missing/environment.yml");
  const std::string err = build_error_of([&] { (void)appose::url(address); });
  EXPECT_THAT(err, HasSubstr(address));
  EXPECT_THAT(err, HasSubstr("HTTP 404"));
  // Every builder fails at the same point, before anything is created.
  EXPECT_THAT(build_error_of([&] { (void)appose::pixi(address); }), HasSubstr("HTTP 404"));
  EXPECT_THAT(build_error_of([&] { (void)appose::uv().url(address); }), HasSubstr("HTTP 404"));
  server_.serve("/boom.yml", "oops", 500);
  EXPECT_THAT(build_error_of([&] { (void)appose::file(server_.url("/boom.yml")); }),
              HasSubstr("HTTP 500"));
  EXPECT_TRUE(fs::is_empty(root_.path));
}

TEST_F(UrlBuild, AStalledServerIsAbandoned) {
  ScopedEnv stall("APPOSE_DOWNLOAD_TIMEOUT", "1");
  server_.stall("/stall/environment.yml", "name: x\n", 4096);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err =
      build_error_of([&] { (void)appose::url(server_.url("/stall/environment.yml")); });
  EXPECT_THAT(err, HasSubstr("stopped sending"));
  EXPECT_THAT(err, HasSubstr("/stall/environment.yml"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

TEST_F(UrlBuild, ATricklingServerHitsTheOverallLimit) {
  ScopedEnv total("APPOSE_URL_TIMEOUT", "2");
  // A byte every 200 ms never stalls; 400 bytes would take 80 s.
  server_.trickle("/slow/environment.yml", std::string(400, '#'), 200ms);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err =
      build_error_of([&] { (void)appose::url(server_.url("/slow/environment.yml")); });
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_THAT(err, HasSubstr("longer than 2 s"));
  EXPECT_THAT(err, HasSubstr("/slow/environment.yml"));
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 10s);
}

TEST_F(UrlBuild, ATruncatedBodyIsRefused) {
  server_.truncate("/short/environment.yml", "name: x\n", 100);
  const std::string err =
      build_error_of([&] { (void)appose::url(server_.url("/short/environment.yml")); });
  EXPECT_THAT(err, HasSubstr("ended after 8 of 100 bytes"));
}

TEST_F(UrlBuild, AnOversizeBodyIsRefused) {
  std::string big = "name: big\ndependencies:\n  - appose\n";
  big.resize(appose::detail::kMaxConfigurationBytes + 1, '#');
  server_.serve("/big/environment.yml", big);
  const std::string err =
      build_error_of([&] { (void)appose::url(server_.url("/big/environment.yml")); });
  EXPECT_THAT(err, HasSubstr("larger than"));
  // Exactly at the cap is fine.
  big.resize(appose::detail::kMaxConfigurationBytes);
  server_.serve("/cap/environment.yml", big);
  EXPECT_EQ(appose::url(server_.url("/cap/environment.yml")).env_dir(), root_.path / "big");
}

TEST_F(UrlBuild, OnlyHttpAndHttpsAreFetched) {
  for (const char* address : {"ftp://127.0.0.1/environment.yml", "file:///etc/environment.yml"}) {
    const std::string err = build_error_of([&] { (void)appose::url(address); });
    EXPECT_THAT(err, HasSubstr(address));
    EXPECT_THAT(err, HasSubstr("http and https only"));
  }
}

TEST_F(UrlBuild, BinaryIsNotAConfiguration) {
  server_.serve("/bin/environment.yml", std::string("\xff\xfe\x00\x01", 4));
  EXPECT_THAT(build_error_of([&] { (void)appose::url(server_.url("/bin/environment.yml")); }),
              HasSubstr("not UTF-8"));
}
