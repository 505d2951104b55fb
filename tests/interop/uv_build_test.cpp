// Real uv builds (label `network`: packages come from the package index): uv is the one the
// peers' venv installed (`pip install uv`), Python is this machine's 3.11 (no interpreter
// downloads), and the worker that runs in the new environment is appose-python 0.12 from the
// index. These tests build, run a task with an NDArray inside the environment, find the build
// up to date, and remove it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <appose/ndarray.hpp>
#include <appose/service.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

class UvBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("appose-uv-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ::setenv("APPOSE_ENVS_DIR", root_.c_str(), 1);
    // The machine's Python only: a build must not download an interpreter.
    ::setenv("UV_PYTHON_DOWNLOADS", "never", 1);
  }
  void TearDown() override { fs::remove_all(root_); }

  appose::UvBuilder uv() const {
    return std::move(appose::uv().executable(*appose::test::peer_uv()));
  }

  fs::path root_;
};

/// Runs a task in `env` that sums an NDArray with numpy and reports the interpreter it ran.
std::pair<double, std::string> sum_in(const appose::Environment& env) {
  appose::NDArray a(appose::DType::float64, appose::Shape{4, 5});
  auto v = a.span<double>();
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<double>(i);
  appose::Service python = env.python();
  appose::Task t = python.task(
      "import sys, numpy\n"
      "task.outputs['sum'] = float(a.ndarray().sum())\n"
      "task.outputs['exe'] = sys.executable\n",
      {{"a", a}});
  t.wait_for();
  auto result =
      std::make_pair(t.outputs().at("sum").get<double>(), t.outputs().at("exe").get<std::string>());
  python.close();
  return result;
}

bool inside(const std::string& path, const fs::path& dir) {
  const std::string d = dir.string() + "/";
  return path.rfind(d, 0) == 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_F(UvBuild, ProgrammaticBuildRunsTheWorkerInsideAndRebuildIsANoOp) {
  APPOSE_REQUIRE_UV();
  // The caller's shell activation must change nothing (ENVIRONMENTS.md, build hygiene).
  ::setenv("VIRTUAL_ENV",
           fs::path(*appose::test::peer_python()).parent_path().parent_path().c_str(), 1);
  ::setenv("CONDA_PREFIX", "/nonexistent/conda", 1);
  ::setenv("CONDA_DEFAULT_ENV", "base", 1);
  ::setenv("PIXI_PROJECT_MANIFEST", "/nonexistent/pixi.toml", 1);
  ::setenv("UV_PROJECT_ENVIRONMENT", (root_ / "hijacked").c_str(), 1);

  appose::test::Lines progress;
  appose::test::Lines lines;
  auto builder =
      uv().python("3.11")
          .include({"appose==0.12.0", "numpy"})
          .subscribe_progress([sink = progress.sink()](std::string_view title, std::int64_t,
                                                       std::int64_t) { sink(title); })
          .subscribe_output(lines.sink())
          .subscribe_error(lines.sink());
  auto t0 = std::chrono::steady_clock::now();
  appose::Environment env = builder.build("e2e");
  const double cold = seconds_since(t0);
  const fs::path dir = root_ / "e2e";
  EXPECT_EQ(env.type(), "uv");
  EXPECT_EQ(env.base(), dir.string());
  EXPECT_EQ(env.bin_paths(), std::vector<std::string>{(dir / "bin").string()});
  EXPECT_TRUE(fs::exists(dir / "appose.json"));
  EXPECT_FALSE(fs::exists(dir / ".appose-building"));
  EXPECT_FALSE(fs::exists(root_ / "hijacked"));
  EXPECT_TRUE(lines.wait_for({"appose"}, 0ms)) << "uv's output did not reach the subscribers";
  EXPECT_FALSE(progress.wait_for({"Up to date"}, 0ms));

  auto [sum, exe] = sum_in(env);
  EXPECT_EQ(sum, 190.0);
  EXPECT_TRUE(inside(exe, dir)) << exe << " is not inside " << dir;

  // Unchanged configuration: nothing runs, and the progress callback says so.
  appose::test::Lines again;
  auto t1 = std::chrono::steady_clock::now();
  auto builder2 = uv().python("3.11").include({"appose==0.12.0", "numpy"});
  builder2.subscribe_progress(
      [sink = again.sink()](std::string_view title, std::int64_t, std::int64_t) { sink(title); });
  builder2.executable("/nonexistent/uv");  // proves no tool runs: it is never even looked at
  appose::Environment same = builder2.build("e2e");
  const double warm = seconds_since(t1);
  EXPECT_TRUE(again.wait_for({"Up to date"}, 0ms));
  EXPECT_EQ(same.bin_paths(), env.bin_paths());
  std::printf("[ uv build ] cold %.2f s, up-to-date %.4f s\n", cold, warm);

  // A changed configuration is not up to date.
  EXPECT_FALSE(uv().python("3.11").include({"appose==0.12.0"}).name("e2e").is_up_to_date());
  EXPECT_TRUE(builder.is_up_to_date());

  env.remove();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(UvBuild, RequirementsTxtThroughContentRoutesToUv) {
  APPOSE_REQUIRE_UV();
  ::setenv("APPOSE_UV", appose::test::peer_uv()->c_str(),
           1);  // located through the variable this time
  auto builder = appose::content("appose==0.12.0\nnumpy\n");
  ASSERT_EQ(builder.env_type(), "uv");
  appose::Environment env = builder.build("reqs");
  ::unsetenv("APPOSE_UV");
  const fs::path dir = root_ / "reqs";
  std::ifstream req(dir / "requirements.txt");
  std::string first;
  std::getline(req, first);
  EXPECT_EQ(first, "appose==0.12.0");
  auto [sum, exe] = sum_in(env);
  EXPECT_EQ(sum, 190.0);
  EXPECT_TRUE(inside(exe, dir)) << exe;
  // Wrapping what Appose built knows how it was built: it may be removed.
  appose::Environment wrapped = appose::wrap(dir);
  EXPECT_EQ(wrapped.type(), "uv");
  wrapped.remove();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(UvBuild, PyprojectBuildsWithUvSyncIntoDotVenv) {
  APPOSE_REQUIRE_UV();
  const std::string pyproject =
      "[project]\nname = \"appose-uv-sync-test\"\nversion = \"0.1.0\"\n"
      "requires-python = \">=3.10\"\ndependencies = [\"appose==0.12.0\", \"numpy\"]\n";
  // The cache location the peers use, found without PATH or variables.
  fs::create_directories(root_ / ".uv" / "bin");
  fs::create_symlink(*appose::test::peer_uv(), root_ / ".uv" / "bin" / "uv");
  appose::Environment env = appose::uv().content(pyproject).python("3.11").build();
  const fs::path dir = root_ / "appose-uv-sync-test";  // named by the project
  EXPECT_TRUE(fs::exists(dir / ".venv" / "pyvenv.cfg"));
  EXPECT_EQ(env.bin_paths(), std::vector<std::string>{(dir / ".venv" / "bin").string()});
  auto [sum, exe] = sum_in(env);
  EXPECT_EQ(sum, 190.0);
  EXPECT_TRUE(inside(exe, dir / ".venv")) << exe;
  EXPECT_TRUE(appose::uv().content(pyproject).python("3.11").is_up_to_date());
}

TEST_F(UvBuild, FailedBuildCarriesUvsErrorAndLeavesNothingBehind) {
  APPOSE_REQUIRE_UV();
  const std::string bogus = "appose-cpp-no-such-package-0d1f9a";
  std::string message;
  try {
    (void)uv().python("3.11").include({bogus}).build("broken");
  } catch (const appose::BuildException& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("uv build of"), std::string::npos) << message;
  EXPECT_NE(message.find(bogus), std::string::npos) << message;  // uv's own words
  EXPECT_FALSE(fs::exists(root_ / "broken"));                    // this build made it: gone

  // A directory that existed before a failed build is left as it was.
  fs::create_directories(root_ / "kept");
  EXPECT_THROW((void)uv().python("3.11").include({bogus}).build("kept"), appose::BuildException);
  EXPECT_TRUE(fs::exists(root_ / "kept"));
}

TEST_F(UvBuild, WrapsAVenvMadeByUvWithoutTouchingIt) {
  APPOSE_REQUIRE_UV();
  const fs::path dir = root_ / "handmade";
  auto r = appose::test::run_process(
      {appose::test::peer_uv()->string(), "venv", "--python", "3.11", dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = appose::test::run_process({appose::test::peer_uv()->string(), "pip", "install", "--python",
                                 dir.string(), "appose==0.12.0", "numpy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  appose::Environment env = appose::wrap(dir);
  EXPECT_EQ(env.type(), "uv");
  auto [sum, exe] = sum_in(env);
  EXPECT_EQ(sum, 190.0);
  EXPECT_TRUE(inside(exe, dir)) << exe;
  EXPECT_FALSE(fs::exists(dir / "appose.json"));
  EXPECT_THROW(env.remove(), appose::BuildException);
  EXPECT_TRUE(fs::exists(dir / "pyvenv.cfg"));
}
