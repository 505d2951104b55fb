// What differs between systems in environments and tools (environment/host_os.hpp,
// envbuild/install.hpp, envbuild/tool.hpp): each system's answers are checked on every system,
// so the Windows layout is tested on Linux as well as under Wine.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "envbuild/conda_platform.hpp"
#include "envbuild/install.hpp"
#include "envbuild/tool.hpp"
#include "environment/activation_env.hpp"
#include "environment/host_os.hpp"
#include "support/test_support.hpp"

namespace appose::detail {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;
using Changes = std::map<std::string, std::optional<std::string>>;

TEST(HostOs, PathListSeparator) {
  EXPECT_EQ(path_list_separator(HostOs::windows), ';');
  EXPECT_EQ(path_list_separator(HostOs::gnu_linux), ':');
  EXPECT_EQ(path_list_separator(HostOs::macos), ':');
}

TEST(HostOs, ExecutableName) {
  EXPECT_EQ(executable_name("pixi", HostOs::windows), "pixi.exe");
  EXPECT_EQ(executable_name("python.exe", HostOs::windows), "python.exe");
  EXPECT_EQ(executable_name("PYTHON.EXE", HostOs::windows), "PYTHON.EXE");
  EXPECT_EQ(executable_name("uv", HostOs::gnu_linux), "uv");
  EXPECT_EQ(executable_name("uv", HostOs::macos), "uv");
}

TEST(HostOs, PythonCandidates) {
  EXPECT_EQ(python_candidates(HostOs::windows),
            (Strings{"python.exe", "python3.exe", "bin/python.exe"}));
  EXPECT_EQ(python_candidates(HostOs::gnu_linux), (Strings{"python", "python3", "bin/python"}));
}

TEST(HostOs, JavaCandidates) {
  EXPECT_EQ(java_candidates(HostOs::windows),
            (Strings{"java.exe", "bin/java.exe", "jre/bin/java.exe"}));
  EXPECT_EQ(java_candidates(HostOs::macos), (Strings{"java", "bin/java", "jre/bin/java"}));
}

TEST(HostOs, CondaBinDirsInActivationOrder) {
  const fs::path p("env");
  EXPECT_EQ(conda_bin_dirs(p, HostOs::gnu_linux), std::vector<fs::path>{p / "bin"});
  EXPECT_EQ(
      conda_bin_dirs(p, HostOs::windows),
      (std::vector<fs::path>{p, p / "Library" / "mingw-w64" / "bin", p / "Library" / "usr" / "bin",
                             p / "Library" / "bin", p / "Scripts", p / "bin"}));
}

TEST(HostOs, VenvBinDir) {
  EXPECT_STREQ(venv_bin_dir(HostOs::windows), "Scripts");
  EXPECT_STREQ(venv_bin_dir(HostOs::gnu_linux), "bin");
}

TEST(HostOs, WorkerPathOnWindowsOnly) {
  EXPECT_EQ(worker_path({"C:/e", "C:/e/Library/bin"}, {"C:/Windows", "C:/tools"}, HostOs::windows),
            "C:/e;C:/e/Library/bin;C:/Windows;C:/tools");
  EXPECT_EQ(worker_path({"C:/e"}, {}, HostOs::windows), "C:/e");
  // Nothing to put first: the inherited PATH stays as it is.
  EXPECT_EQ(worker_path({}, {"C:/Windows"}, HostOs::windows), std::nullopt);
  EXPECT_EQ(worker_path({"/e/bin"}, {"/usr/bin"}, HostOs::gnu_linux), std::nullopt);
}

TEST(HostOs, PrivateChannelNotOnWindows) {
  EXPECT_FALSE(private_channel_supported(HostOs::windows));
  EXPECT_TRUE(private_channel_supported(HostOs::gnu_linux));
  EXPECT_TRUE(private_channel_supported(HostOs::macos));
}

// Windows' variable names ignore case ("Path" is PATH); other systems' do not.
TEST(HostOs, EnvironmentVariableNames) {
  EXPECT_TRUE(same_env_name("Path", "PATH", HostOs::windows));
  EXPECT_TRUE(same_env_name("conda_prefix", "CONDA_PREFIX", HostOs::windows));
  EXPECT_FALSE(same_env_name("PATH", "PATHEXT", HostOs::windows));
  EXPECT_FALSE(same_env_name("PATH_", "PATH", HostOs::windows));
  EXPECT_TRUE(same_env_name("PATH", "PATH", HostOs::gnu_linux));
  EXPECT_FALSE(same_env_name("Path", "PATH", HostOs::gnu_linux));
  EXPECT_FALSE(same_env_name("Path", "PATH", HostOs::macos));

  EXPECT_TRUE(env_name_starts_with("Conda_Prefix", "CONDA_", HostOs::windows));
  EXPECT_TRUE(env_name_starts_with("CONDA_", "CONDA_", HostOs::windows));
  EXPECT_FALSE(env_name_starts_with("CONDA", "CONDA_", HostOs::windows));
  EXPECT_FALSE(env_name_starts_with("Conda_Prefix", "CONDA_", HostOs::gnu_linux));
  EXPECT_TRUE(env_name_starts_with("CONDA_PREFIX", "CONDA_", HostOs::gnu_linux));
}

TEST(ActivationEnv, VariablesByEachSystemsRule) {
  for (const char* name : {"CONDA_PREFIX", "PIXI_PROJECT_ROOT", "MAMBA_ROOT_PREFIX", "CONDARC",
                           "VIRTUAL_ENV", "PYTHONPATH"}) {
    EXPECT_TRUE(activation_variable(name, HostOs::windows)) << name;
    EXPECT_TRUE(activation_variable(name, HostOs::gnu_linux)) << name;
  }
  for (const char* name : {"Conda_Prefix", "pixi_project_root", "Virtual_Env", "PythonPath"}) {
    EXPECT_TRUE(activation_variable(name, HostOs::windows)) << name;
    EXPECT_FALSE(activation_variable(name, HostOs::gnu_linux)) << name;
  }
  for (const char* name : {"PATH", "CONDA", "PYTHONPATHX", "MY_CONDA_PREFIX"}) {
    EXPECT_FALSE(activation_variable(name, HostOs::windows)) << name;
  }
}

// The builder's own variables replace an inherited one of the same name, in whatever case it
// was inherited: on Windows one variable, one change.
TEST(ActivationEnv, ToolEnvironmentByEachSystemsRule) {
  const Strings inherited = {"Conda_Prefix", "PATH", "VIRTUAL_ENV", "Pixi_Home"};
  const std::map<std::string, std::string> builder = {{"pixi_home", "C:\\p"}, {"Path", "C:\\b"}};
  EXPECT_EQ(tool_environment(inherited, builder, HostOs::windows),
            (Changes{{"Conda_Prefix", std::nullopt},
                     {"VIRTUAL_ENV", std::nullopt},
                     {"pixi_home", "C:\\p"},
                     {"Path", "C:\\b"}}));
  EXPECT_EQ(tool_environment(inherited, builder, HostOs::gnu_linux),
            (Changes{{"VIRTUAL_ENV", std::nullopt}, {"pixi_home", "C:\\p"}, {"Path", "C:\\b"}}));

  Changes changes{{"PATH", "a"}, {"Other", "b"}};
  set_env_change(changes, "path", std::nullopt, HostOs::windows);
  EXPECT_EQ(changes, (Changes{{"Other", "b"}, {"path", std::nullopt}}));
  set_env_change(changes, "PATH", "c", HostOs::gnu_linux);
  EXPECT_EQ(changes, (Changes{{"Other", "b"}, {"PATH", "c"}, {"path", std::nullopt}}));
}

// This process's own environment, read through the platform layer: a variable inherited in
// another case is an activation variable on Windows (under Wine here) and not elsewhere.
TEST(ActivationEnv, ThisProcessesVariablesByThisSystemsRule) {
  test::ScopedEnv var{"Conda_Appose_Test_Var", std::string("x")};
  const Changes env = tool_environment({});
  const auto it = env.find("Conda_Appose_Test_Var");
  if (kHostOs == HostOs::windows) {
    ASSERT_NE(it, env.end()) << "not unset";
    EXPECT_EQ(it->second, std::nullopt);
  } else {
    EXPECT_EQ(it, env.end());
  }
}

// Absolute paths: a drive and a separator, or a UNC path, on Windows; a leading '/' elsewhere.
TEST(HostOs, AbsolutePaths) {
  for (const char* path : {"C:\\Users\\me\\env", "C:/Users/me/env", "c:\\", "Z:/",
                           "\\\\server\\share\\env", "//server/share/env", "\\\\?\\C:\\long"}) {
    EXPECT_TRUE(is_absolute_path(path, HostOs::windows)) << path;
  }
  for (const char* path : {"", "env", "bin/python.exe", "Scripts\\python.exe", "C:", "C:env",
                           "\\rooted", "/rooted", ":/x", "1:/x"}) {
    EXPECT_FALSE(is_absolute_path(path, HostOs::windows)) << path;
  }
  EXPECT_TRUE(is_absolute_path("/usr/bin/python3", HostOs::gnu_linux));
  EXPECT_TRUE(is_absolute_path("/", HostOs::macos));
  for (const char* path : {"", "bin/python", "C:/x", "C:\\x", "\\\\server\\share"}) {
    EXPECT_FALSE(is_absolute_path(path, HostOs::gnu_linux)) << path;
  }

  EXPECT_TRUE(has_directory_part("bin/python.exe", HostOs::windows));
  EXPECT_TRUE(has_directory_part("Scripts\\python.exe", HostOs::windows));
  EXPECT_FALSE(has_directory_part("python.exe", HostOs::windows));
  EXPECT_TRUE(has_directory_part("bin/python", HostOs::gnu_linux));
  EXPECT_FALSE(has_directory_part("odd\\name", HostOs::gnu_linux));
}

TEST(HostOs, ThisBuild) {
#ifdef _WIN32
  EXPECT_EQ(kHostOs, HostOs::windows);
  EXPECT_STREQ(conda_platform(), "win-64");
#elif defined(__linux__)
  EXPECT_EQ(kHostOs, HostOs::gnu_linux);
#endif
#if defined(__x86_64__)
  EXPECT_EQ(kHostCpu, "x86_64");
#endif
}

TEST(CondaPlatform, Names) {
  EXPECT_STREQ(conda_platform(HostOs::windows, "x86_64"), "win-64");
  EXPECT_EQ(conda_platform(HostOs::windows, "aarch64"), nullptr);
  EXPECT_STREQ(conda_platform(HostOs::gnu_linux, "x86_64"), "linux-64");
  EXPECT_STREQ(conda_platform(HostOs::gnu_linux, "aarch64"), "linux-aarch64");
  EXPECT_STREQ(conda_platform(HostOs::gnu_linux, "ppc64le"), "linux-ppc64le");
  EXPECT_STREQ(conda_platform(HostOs::macos, "aarch64"), "osx-arm64");
  EXPECT_STREQ(conda_platform(HostOs::macos, "x86_64"), "osx-64");
  EXPECT_EQ(conda_platform(HostOs::other, "x86_64"), nullptr);
}

// The names the tools publish their releases under (the peers' tables).
TEST(ToolRelease, AssetNames) {
  EXPECT_EQ(release_asset(ToolKind::pixi, HostOs::windows, "x86_64"),
            "pixi-x86_64-pc-windows-msvc.zip");
  EXPECT_EQ(release_asset(ToolKind::uv, HostOs::windows, "x86_64"),
            "uv-x86_64-pc-windows-msvc.zip");
  EXPECT_EQ(release_asset(ToolKind::micromamba, HostOs::windows, "x86_64"), "win-64");
  EXPECT_EQ(release_asset(ToolKind::pixi, HostOs::gnu_linux, "x86_64"),
            "pixi-x86_64-unknown-linux-musl.tar.gz");
  EXPECT_EQ(release_asset(ToolKind::uv, HostOs::gnu_linux, "aarch64"),
            "uv-aarch64-unknown-linux-gnu.tar.gz");
  EXPECT_EQ(release_asset(ToolKind::uv, HostOs::macos, "aarch64"),
            "uv-aarch64-apple-darwin.tar.gz");
  EXPECT_EQ(release_asset(ToolKind::micromamba, HostOs::macos, "x86_64"), "osx-64");
  EXPECT_EQ(release_asset(ToolKind::pixi, HostOs::gnu_linux, "ppc64le"), "");
  EXPECT_EQ(release_asset(ToolKind::uv, HostOs::other, "x86_64"), "");
}

TEST(ToolRelease, ExecutablesInTheArchive) {
  EXPECT_EQ(release_executables(ToolKind::pixi, HostOs::windows),
            std::vector<fs::path>{"pixi.exe"});
  EXPECT_EQ(release_executables(ToolKind::uv, HostOs::windows), std::vector<fs::path>{"uv.exe"});
  EXPECT_EQ(release_executables(ToolKind::micromamba, HostOs::windows),
            std::vector<fs::path>{fs::path("Library") / "bin" / "micromamba.exe"});
  EXPECT_EQ(release_executables(ToolKind::micromamba, HostOs::gnu_linux),
            std::vector<fs::path>{fs::path("bin") / "micromamba"});
  EXPECT_EQ(release_executables(ToolKind::pixi, HostOs::macos), std::vector<fs::path>{"pixi"});
}

// Where the peers install each tool under the environments root, so that the three
// implementations share one download.
TEST(ToolCache, PathsPerSystem) {
  const fs::path r("root");
  EXPECT_EQ(tool_cache_path(ToolKind::pixi, r, HostOs::windows), r / ".pixi" / "bin" / "pixi.exe");
  EXPECT_EQ(tool_cache_path(ToolKind::uv, r, HostOs::windows), r / ".uv" / "bin" / "uv.exe");
  EXPECT_EQ(tool_cache_path(ToolKind::micromamba, r, HostOs::windows),
            r / ".mamba" / "Library" / "bin" / "micromamba.exe");
  EXPECT_EQ(tool_cache_path(ToolKind::micromamba, r, HostOs::gnu_linux),
            r / ".mamba" / "bin" / "micromamba");
}

}  // namespace
}  // namespace appose::detail
