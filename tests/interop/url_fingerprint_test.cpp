// appose.json for a URL build, against appose-python 0.12: both fetch the same configuration
// from a local HTTP server on 127.0.0.1, and the fingerprints they would write must be the same
// bytes, so that either reuses the other's environment. (The peer records the content, not the
// address; so does appose-cpp.)

#include <gtest/gtest.h>

#include <appose/builder.hpp>
#include <string>

#include "support/http_server.hpp"
#include "support/test_support.hpp"

using appose::test::ScopedEnv;

namespace {

// What the peer's build() computes before comparing appose.json: the dynamic builder's
// delegate, its scheme detected, then the private state string.
constexpr const char* kScript = R"PY(
import sys
import appose
from appose.builder import DynamicBuilder
from appose.scheme import from_content
factory = {"url": appose.url, "pixi": appose.pixi, "mamba": appose.mamba, "uv": appose.uv}
b = factory[sys.argv[1]](sys.argv[2])
if sys.argv[3]:
    b.name(sys.argv[3])
if isinstance(b, DynamicBuilder):
    d = b._create_builder()
    b._copy_config_to_delegate(d)
    b = d
if b._scheme is None:
    b._scheme = from_content(b._content)
sys.stdout.write(b._build_state_string())
)PY";

}  // namespace

TEST(UrlFingerprintInterop, MatchesApposePythonForEachFormatAndBuilder) {
  APPOSE_REQUIRE_PYTHON_PEER();
  appose::test::TempDir root("appose-url-fp");
  ScopedEnv envs("APPOSE_ENVS_DIR", root.path.string());
  ScopedEnv no_proxy("no_proxy", "127.0.0.1,localhost");
  ScopedEnv no_proxy_upper("NO_PROXY", "127.0.0.1,localhost");
  appose::test::HttpServer server;
  server.serve("/c/environment.yml",
               "name: fp-url\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
               "  - appose\n");
  server.serve("/c/pixi.toml",
               "[workspace]\nname = \"fp-url-pixi\"\nchannels = [\"conda-forge\"]\n"
               "platforms = [\"linux-64\"]\n\n[dependencies]\npython = \"3.11.*\"\n"
               "appose = \"*\"\n");
  server.serve("/c/requirements.txt", "appose==0.12.0\r\nnumpy>=1.26\r\n");
  server.serve("/c/pyproject.toml",
               "[project]\nname = \"fp-url-proj\"\nversion = \"0.1\"\n"
               "dependencies = [\"appose\"]\n");

  struct Case {
    const char* factory;
    const char* path;
    const char* name;
  };
  const Case cases[] = {
      {"url", "/c/environment.yml", ""},   {"url", "/c/pixi.toml?raw=1", ""},
      {"url", "/c/requirements.txt", "r"}, {"url", "/c/pyproject.toml#top", ""},
      {"pixi", "/c/environment.yml", ""},  {"mamba", "/c/environment.yml", ""},
      {"uv", "/c/requirements.txt", "r"},  {"uv", "/c/pyproject.toml", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.factory) + " " + c.path);
    const std::string address = server.url(c.path);
    appose::test::ProcessResult peer =
        appose::test::run_python(kScript, {c.factory, address, c.name});
    ASSERT_EQ(peer.exit_code, 0) << peer.err;
    const std::string factory = c.factory;
    std::string cpp;
    const auto named = [&](auto builder) {
      if (*c.name != '\0') builder.name(c.name);
      return builder.fingerprint();
    };
    if (factory == "url") cpp = named(appose::url(address));
    if (factory == "pixi") cpp = named(appose::pixi(address));
    if (factory == "mamba") cpp = named(appose::mamba(address));
    if (factory == "uv") cpp = named(appose::uv(address));
    EXPECT_EQ(cpp, peer.out);
  }
}
