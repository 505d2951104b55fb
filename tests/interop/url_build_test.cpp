// A real uv build from a requirements.txt fetched over loopback (label `network`: uv fetches the
// packages from the package index). The configuration comes from a local HTTP server; uv is
// the peers' own (found through $APPOSE_UV, as a user would point at theirs), Python is this
// machine's 3.11, and the worker that answers in the new environment is appose-python from the
// index.

#include <gtest/gtest.h>

#include <appose/builder.hpp>
#include <appose/service.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using appose::test::ScopedEnv;

TEST(UrlBuild, ARequirementsTxtServedOverLoopbackBuildsAWorkingEnvironment) {
  APPOSE_REQUIRE_UV();
  appose::test::TempDir root("appose-url-build");
  ScopedEnv envs("APPOSE_ENVS_DIR", root.path.string());
  ScopedEnv uv("APPOSE_UV", appose::test::peer_uv()->string());
  ScopedEnv no_downloads("UV_PYTHON_DOWNLOADS", "never");
  ScopedEnv no_proxy("no_proxy", "127.0.0.1,localhost");
  ScopedEnv no_proxy_upper("NO_PROXY", "127.0.0.1,localhost");
  appose::test::HttpServer server;
  // A leading comment: only the URL's file name says what this is.
  server.serve("/cfg/requirements.txt", "# the worker's packages\nappose==0.12.0\n", 200,
               "text/plain");

  const fs::path dir = root.path / "from-url";
  appose::Environment env =
      appose::url(server.url("/cfg/requirements.txt?v=1")).build(dir.string());
  EXPECT_EQ(env.type(), "uv");
  EXPECT_EQ(env.base(), dir.string());
  EXPECT_EQ(server.request_count("/cfg/requirements.txt?v=1"), 1U);

  appose::Service python = env.python();
  appose::Task t = python.task(
      "import sys, appose\n"
      "task.outputs['exe'] = sys.executable\n"
      "task.outputs['answer'] = 6 * 7\n");
  t.wait_for();
  EXPECT_EQ(t.outputs().at("answer").get<std::int64_t>(), 42);
  const std::string exe = t.outputs().at("exe").get<std::string>();
  EXPECT_EQ(exe.rfind(dir.string() + "/", 0), 0U) << exe << " is not inside " << dir;
  python.close();

  // The same text, read from disk, is the same environment: up to date, nothing refetched.
  appose::test::TempDir elsewhere("appose-url-local");
  std::ofstream(elsewhere.path / "requirements.txt") << "# the worker's packages\nappose==0.12.0\n";
  auto local = appose::file(elsewhere.path / "requirements.txt").base(dir);
  EXPECT_TRUE(local.is_up_to_date());

  appose::url(server.url("/cfg/requirements.txt")).base(dir).remove();
  EXPECT_FALSE(fs::exists(dir));
  // Nothing of the environment is left in the root: no lock file either.
  EXPECT_TRUE(fs::is_empty(root.path)) << ::testing::PrintToString([&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(root.path))
      names.push_back(e.path().filename().string());
    return names;
  }());
}
