// The Python worker's command line for environments laid out as this system's tools lay them
// out: a conda prefix (micromamba, pixi) keeps python.exe at its root on Windows and bin/python
// elsewhere; a uv venv keeps it in Scripts\ on Windows and bin/ elsewhere. On Windows the worker
// speaks over plain stdio (no private-channel bootstrap) and gets the environment's directories
// first on PATH, so that its DLLs are found. Runs on Linux and, under Wine, on Windows; no
// Python runs (the executables are empty files: only the command line is checked).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "environment/host_os.hpp"
#include "host/python_bootstrap.hpp"
#include "support/test_support.hpp"
#include "util/fs_util.hpp"

namespace appose::detail {
namespace {

namespace fs = std::filesystem;
using appose::test::ScopedEnv;
using appose::test::TempDir;

/// A PE file's first bytes: an executable file is all Linux needs, and nothing runs it.
void make_executable(const fs::path& p) {
  appose::test::write_executable(p, "MZ");
}

/// What a worker in `env` is started with, with no tool on PATH to launch it through.
ServiceConfig python_config(const fs::path& env) {
  return appose::wrap(env).python().config();
}

/// The arguments after the interpreter: plain stdio on Windows, the bootstrap elsewhere.
std::vector<std::string> expected_worker_args() {
  if (!private_channel_supported(kHostOs)) {
    return {"-c", "import appose.python_worker; appose.python_worker.main()"};
  }
  return python_bootstrap_args();
}

/// Checks that `config` starts the Python worker with `python`; returns the worker's PATH, if
/// the configuration sets one.
std::optional<std::string> expect_python_worker(const ServiceConfig& config,
                                                const fs::path& python) {
  EXPECT_FALSE(config.command.empty());
  if (config.command.empty()) return std::nullopt;
  EXPECT_TRUE(fs::equivalent(config.command.front(), python)) << config.command.front();
  EXPECT_EQ(std::vector<std::string>(config.command.begin() + 1, config.command.end()),
            expected_worker_args());
  const auto it = config.env.find("PATH");
  return it == config.env.end() ? std::nullopt : it->second;
}

class EnvironmentLayout : public ::testing::Test {
 protected:
  TempDir tmp{"appose-layout"};
  // No micromamba or pixi anywhere to be found: the environments are launched directly.
  ScopedEnv envs{"APPOSE_ENVS_DIR", (tmp.path / "envs").string()};
  ScopedEnv path_var{"PATH", (tmp.path / "empty").string()};
  ScopedEnv mamba{"APPOSE_MICROMAMBA", std::nullopt};
  ScopedEnv pixi{"APPOSE_PIXI", std::nullopt};
  ScopedEnv channel{"APPOSE_PRIVATE_CHANNEL", std::nullopt};

  void SetUp() override { fs::create_directories(tmp.path / "empty"); }
};

TEST_F(EnvironmentLayout, CondaPrefix) {
  const fs::path env = tmp.path / "conda";
  fs::create_directories(env / "conda-meta");
  const fs::path python = conda_bin_dirs(env, kHostOs).front() / executable_name("python", kHostOs);
  make_executable(python);

  const std::optional<std::string> path = expect_python_worker(python_config(env), python);
  if (kHostOs == HostOs::windows) {
    // The prefix's directories in conda's activation order, then the inherited PATH.
    std::string expected;
    for (const fs::path& dir : conda_bin_dirs(fs::path(appose::wrap(env).base()), kHostOs))
      expected += dir.string() + ";";
    expected += (tmp.path / "empty").string();
    EXPECT_EQ(path, expected);
  } else {
    EXPECT_EQ(path, std::nullopt) << "the worker inherits PATH as it is";
  }
}

TEST_F(EnvironmentLayout, UvVenv) {
  const fs::path env = tmp.path / "venv";
  fs::create_directories(env);
  std::ofstream(env / "pyvenv.cfg") << "home = /usr/bin\n";
  const fs::path python = env / venv_bin_dir(kHostOs) / executable_name("python", kHostOs);
  make_executable(python);

  const std::optional<std::string> path = expect_python_worker(python_config(env), python);
  if (kHostOs == HostOs::windows) {
    ASSERT_TRUE(path.has_value()) << "no PATH for the worker";
    EXPECT_EQ(path->rfind(python.parent_path().string() + ";", 0), 0U) << *path;
  } else {
    EXPECT_EQ(path, std::nullopt);
  }
}

// Java: $JAVA_HOME's bin/java(.exe), the class path joined with this system's separator.
TEST_F(EnvironmentLayout, JavaCommandLine) {
  const fs::path home = tmp.path / "jdk";
  const fs::path java = home / "bin" / executable_name("java", kHostOs);
  make_executable(java);
  ScopedEnv java_home{"JAVA_HOME", home.string()};
  const ServiceConfig config =
      appose::Environment(tmp.path.string()).java("Main", {"a.jar", "b.jar"}, {"-Xmx1g"}).config();
  ASSERT_EQ(config.command.size(), 5U);
  EXPECT_TRUE(fs::equivalent(config.command[0], java)) << config.command[0];
  const std::string class_path =
      std::string("a.jar") + path_list_separator(kHostOs) + std::string("b.jar");
  EXPECT_EQ(std::vector<std::string>(config.command.begin() + 1, config.command.end()),
            (std::vector<std::string>{"-Xmx1g", "-cp", class_path, "Main"}));
}

// An environment that sets PATH itself keeps it: the layout does not override the user.
TEST_F(EnvironmentLayout, EnvironmentsOwnPathWins) {
  const fs::path env = tmp.path / "conda";
  fs::create_directories(env / "conda-meta");
  make_executable(conda_bin_dirs(env, kHostOs).front() / executable_name("python", kHostOs));
  appose::Environment wrapped = appose::wrap(env);
  appose::Environment mine(wrapped.base(), wrapped.bin_paths(), {}, {{"PATH", "mine"}});
  const ServiceConfig config = mine.python().config();
  const auto it = config.env.find("PATH");
  ASSERT_NE(it, config.env.end());
  EXPECT_EQ(it->second, std::optional<std::string>("mine"));
}

// On Windows "Path" is PATH: an environment that sets it in another case keeps it too, and the
// worker gets one PATH, not the environment's beside the layout's.
TEST_F(EnvironmentLayout, EnvironmentsOwnPathInAnotherCase) {
  const fs::path env = tmp.path / "conda";
  fs::create_directories(env / "conda-meta");
  make_executable(conda_bin_dirs(env, kHostOs).front() / executable_name("python", kHostOs));
  appose::Environment wrapped = appose::wrap(env);
  appose::Environment mine(wrapped.base(), wrapped.bin_paths(), {}, {{"Path", "mine"}});
  const ServiceConfig config = mine.python().config();
  std::vector<std::string> paths;
  for (const auto& [name, value] : config.env) {
    if (same_env_name(name, "PATH", kHostOs)) paths.push_back(name + "=" + value.value_or("-"));
  }
  if (kHostOs == HostOs::windows) {
    EXPECT_EQ(paths, std::vector<std::string>{"Path=mine"});
  } else {
    EXPECT_EQ(paths, std::vector<std::string>{}) << "Path is not PATH here; PATH is inherited";
    EXPECT_EQ(config.env.at("Path"), std::optional<std::string>("mine"));
  }
}

// A relative candidate with a directory part (bin/python.exe on Windows, bin/python elsewhere)
// is taken from the environment's base when neither its bin paths nor PATH have it.
TEST_F(EnvironmentLayout, RelativeCandidateIsTakenFromTheBase) {
  const fs::path env = tmp.path / "plain";
  const fs::path python = env / "bin" / executable_name("python", kHostOs);
  make_executable(python);
  const ServiceConfig config = appose::Environment(utf8_string(env)).python().config();
  ASSERT_FALSE(config.command.empty());
  EXPECT_TRUE(fs::equivalent(config.command.front(), python)) << config.command.front();
}

}  // namespace
}  // namespace appose::detail
