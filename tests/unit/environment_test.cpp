// Environment: where executables are found and how a worker's command line and environment are
// made. Nothing here starts a worker.

#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

namespace fs = std::filesystem;
using appose::test::ScopedEnv;
using appose::test::TempDir;

void make_executable(const fs::path& p) {
  test::write_executable(p, "#!/bin/sh\nexit 0\n");
}

using Command = std::vector<std::string>;

TEST(Environment, SystemUsesCurrentDirectoryAndPath) {
  TempDir dir;
  ScopedEnv path("PATH", "/appose/a:/appose/b");
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  Environment env = system();
  fs::current_path(old);
  EXPECT_EQ(env.base(), dir.path.string());
  EXPECT_EQ(env.bin_paths(), (Command{"/appose/a", "/appose/b"}));
  EXPECT_TRUE(env.launch_args().empty());
  EXPECT_TRUE(env.env_vars().empty());
}

TEST(Environment, BaseIsMadeAbsolute) {
  Environment env(".");
  EXPECT_EQ(env.base(), fs::current_path().lexically_normal().string());
  EXPECT_TRUE(fs::path(env.base()).is_absolute());
}

TEST(Environment, BinPathsComeBeforePath) {
  TempDir bin, on_path;
  make_executable(bin.path / "worker");
  make_executable(on_path.path / "worker");
  make_executable(on_path.path / "other");
  ScopedEnv path("PATH", on_path.path.string());
  Environment env(bin.path.string(), {bin.path.string()});

  Service s = env.service({"worker"}, {"--flag", "x"});
  EXPECT_EQ(s.config().command, (Command{(bin.path / "worker").string(), "--flag", "x"}));
  EXPECT_EQ(s.config().cwd, bin.path.string());
  EXPECT_EQ(s.config().kind, WorkerKind::other);
  EXPECT_EQ(s.pid(), -1);  // not started

  // Not in the bin paths: found on PATH.
  Service t = env.service({"other"}, {});
  EXPECT_EQ(t.config().command, (Command{(on_path.path / "other").string()}));
}

TEST(Environment, CandidatesAreTriedInOrder) {
  TempDir bin, on_path;
  make_executable(bin.path / "second");
  make_executable(on_path.path / "first");
  ScopedEnv path("PATH", on_path.path.string());
  Environment env(bin.path.string(), {bin.path.string()});
  // The first candidate found anywhere (bin paths or PATH) wins over a later one.
  Service s = env.service({"missing", "first", "second"}, {});
  EXPECT_EQ(s.config().command, (Command{(on_path.path / "first").string()}));
}

TEST(Environment, RelativeNameIsFoundUnderBase) {
  TempDir base, empty_path;
  make_executable(base.path / "bin" / "python");
  ScopedEnv path("PATH", empty_path.path.string());
  Environment env(base.path.string());
  Service s = env.python();
  ASSERT_FALSE(s.config().command.empty());
  EXPECT_EQ(s.config().command[0], (base.path / "bin" / "python").string());
  EXPECT_EQ(s.config().kind, WorkerKind::python);
}

TEST(Environment, RelativeBinPathGivesAbsoluteCommand) {
  // The worker starts in base(): a relative path would be taken from there.
  TempDir dir;
  make_executable(dir.path / "rel" / "bin" / "worker");
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  Environment env("/", {"rel/bin"});
  Service s = env.service({"worker"}, {});
  fs::current_path(old);
  EXPECT_EQ(s.config().command[0], (dir.path / "rel" / "bin" / "worker").string());
}

TEST(Environment, MissingExecutableErrorListsCandidates) {
  TempDir empty_path;
  ScopedEnv path("PATH", empty_path.path.string());
  Environment env("/appose-no-such-env", {"/appose-no-such-env/bin"});
  try {
    (void)env.service({"appose-nope-1", "appose-nope-2"}, {});
    FAIL() << "service() should have thrown";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("appose-nope-1"), std::string::npos) << what;
    EXPECT_NE(what.find("appose-nope-2"), std::string::npos) << what;
    EXPECT_NE(what.find("/appose-no-such-env/bin"), std::string::npos) << what;
    EXPECT_NE(what.find("PATH"), std::string::npos) << what;
  }
  EXPECT_THROW((void)env.python(), Error);
  EXPECT_THROW((void)env.service({}, {}), Error);
}

TEST(Environment, PythonRunsTheApposeWorker) {
  TempDir bin;
  make_executable(bin.path / "python");
  Environment env(bin.path.string(), {bin.path.string()});
  Service plain = env.python(Channel::plain_stdio);
  EXPECT_EQ(plain.config().command,
            (Command{(bin.path / "python").string(), "-c",
                     "import appose.python_worker; appose.python_worker.main()"}));
  // The default goes through the bootstrap: one line of code without quotes (so launchers that
  // re-parse command lines, such as `pixi run`, pass it intact), then its base64 payload.
  Service s = env.python();
  const auto& cmd = s.config().command;
  ASSERT_EQ(cmd.size(), 4U);
  EXPECT_EQ(cmd[0], (bin.path / "python").string());
  EXPECT_EQ(cmd[1], "-c");
  EXPECT_EQ(cmd[2].find_first_of("'\"\n\\"), std::string::npos) << cmd[2];
  EXPECT_EQ(
      cmd[3].find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
      std::string::npos);
  Service custom = env.python({"-m", "pip", "--version"});
  EXPECT_EQ(custom.config().command,
            (Command{(bin.path / "python").string(), "-m", "pip", "--version"}));
}

TEST(Environment, PythonUnsetsCondaActivation) {
  TempDir bin;
  make_executable(bin.path / "python");
  Environment env(bin.path.string(), {bin.path.string()});
  Service s = env.python();
  const auto& vars = s.config().env;
  for (const char* name :
       {"CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_SHLVL", "PYTHONEXECUTABLE"}) {
    auto it = vars.find(name);
    ASSERT_NE(it, vars.end()) << name << " is not unset";
    EXPECT_EQ(it->second, std::nullopt) << name;
  }
}

TEST(Environment, PythonKeepsCondaVariablesTheEnvironmentSets) {
  TempDir bin;
  make_executable(bin.path / "python");
  Environment env(bin.path.string(), {bin.path.string()}, {},
                  {{"CONDA_PREFIX", "/opt/env"}, {"OMP_NUM_THREADS", "1"}});
  Service s = env.python();
  const auto& vars = s.config().env;
  EXPECT_EQ(vars.at("CONDA_PREFIX"), std::optional<std::string>("/opt/env"));
  EXPECT_EQ(vars.at("OMP_NUM_THREADS"), std::optional<std::string>("1"));
  EXPECT_EQ(vars.at("CONDA_DEFAULT_ENV"), std::nullopt);
  EXPECT_EQ(vars.at("CONDA_SHLVL"), std::nullopt);
  EXPECT_EQ(vars.at("PYTHONEXECUTABLE"), std::nullopt);

  // Service::env() adds to them before start.
  s.env({{"EXTRA", "y"}, {"OMP_NUM_THREADS", std::nullopt}});
  EXPECT_EQ(s.config().env.at("EXTRA"), std::optional<std::string>("y"));
  EXPECT_EQ(s.config().env.at("OMP_NUM_THREADS"), std::nullopt);
}

TEST(Environment, ServiceDoesNotTouchCondaVariables) {
  TempDir bin;
  make_executable(bin.path / "worker");
  Environment env(bin.path.string(), {bin.path.string()});
  EXPECT_TRUE(env.service({"worker"}, {}).config().env.empty());
}

TEST(Environment, LaunchArgsPrefixBareExecutable) {
  TempDir empty_path;
  ScopedEnv path("PATH", empty_path.path.string());
  Environment env("/envs/demo", {"/envs/demo/.pixi/envs/default/bin"},
                  {"pixi", "run", "--manifest-path", "/envs/demo/pixi.toml"});
  EXPECT_EQ(env.launch_args(), (Command{"pixi", "run", "--manifest-path", "/envs/demo/pixi.toml"}));
  // The launcher finds the executable itself: no lookup (none would succeed here), bare name.
  Service s = env.python(Channel::plain_stdio);
  EXPECT_EQ(s.config().command,
            (Command{"pixi", "run", "--manifest-path", "/envs/demo/pixi.toml", "python", "-c",
                     "import appose.python_worker; appose.python_worker.main()"}));
  Service t = env.service({"my-worker", "other"}, {"--arg"});
  EXPECT_EQ(t.config().command, (Command{"pixi", "run", "--manifest-path", "/envs/demo/pixi.toml",
                                         "my-worker", "--arg"}));
  EXPECT_EQ(t.config().cwd, "/envs/demo");
}

TEST(Environment, UnstartableServiceThrowsAtStart) {
  // Configuration errors are caught before any process exists: an unstartable service throws
  // at start(), and stays configurable.
  TempDir bin;
  Environment env(bin.path.string(), {}, {"/appose-no-such-launcher"});
  Service s = env.service({"worker"}, {});
  EXPECT_THROW(s.start(), Error);
  EXPECT_NO_THROW(s.env({{"A", "1"}}));
  EXPECT_NO_THROW(s.init("x = 1"));
  EXPECT_THROW(s.wait_for(), Error);  // never started
  EXPECT_FALSE(s.is_alive());
}

}  // namespace
}  // namespace appose
