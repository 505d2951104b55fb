// The pixi and micromamba builders against stand-in executables (tests/support/standins/):
// the real tools cannot be downloaded where these tests run. The stand-ins record every command
// line in $APPOSE_STANDIN_LOG (arguments joined by TAB), so the tests compare exact argv, and
// lay out what the real tools would (a manifest, `.pixi/envs/<e>/bin/python`, `conda-meta/`),
// with a python that is the peers' own, so that a worker really starts through `pixi run` /
// `micromamba run`. Every suite name starts with `StandIn` to say that no real tool ran.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <appose/service.hpp>
#include <appose/task.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string standin(const char* tool) {
  return std::string(APPOSE_STANDIN_DIR) + "/" + tool;
}

std::string join_tab(const std::vector<std::string>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += '\t';
    out += args[i];
  }
  return out;
}

std::vector<std::string> split_tab(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t'))
    out.push_back(field);
  return out;
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

// Through rdbuf(), not istreambuf_iterator: GCC 12 at -O1 (the sanitizer builds) warns of a
// null dereference inside the iterator, and warnings are errors.
std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  return text.str();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// Whether `pid` is gone. The stand-in's sleep child is reparented when the stand-in dies, and
/// the container's init may leave it a zombie for a while: a zombie runs nothing, so it counts.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class StandInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() / ("appose-standin-" + std::to_string(::getpid()) + "-" +
                                         info->test_suite_name() + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    ::setenv("APPOSE_ENVS_DIR", root_.c_str(), 1);
    // Beside the environments, not among them: a log is not an environment.
    log_ = root_.string() + ".log";
    fs::remove(log_);
    fs::remove(log_ + ".env");
    fs::remove(log_ + ".child");
    ::setenv("APPOSE_STANDIN_LOG", log_.c_str(), 1);
    if (auto py = appose::test::peer_python()) ::setenv("APPOSE_STANDIN_PYTHON", py->c_str(), 1);
  }

  void TearDown() override {
    for (const char* var : {"APPOSE_ENVS_DIR", "APPOSE_STANDIN_LOG", "APPOSE_STANDIN_PYTHON",
                            "APPOSE_STANDIN_SLEEP", "APPOSE_STANDIN_FAIL", "CONDA_PREFIX",
                            "PIXI_PROJECT_MANIFEST", "MAMBA_ROOT_PREFIX", "VIRTUAL_ENV", "CONDARC"})
      ::unsetenv(var);
    std::error_code ec;
    fs::remove_all(root_, ec);
    for (const char* suffix : {"", ".env", ".child"})
      fs::remove(log_ + suffix, ec);
  }

  /// The command lines the stand-ins ran, one string per invocation (arguments TAB-joined).
  std::vector<std::string> log() const { return read_lines(log_); }

  /// The invocations whose subcommand (first argument not starting with '-') is `sub`.
  std::vector<std::vector<std::string>> invocations(const std::string& sub) const {
    std::vector<std::vector<std::string>> out;
    for (const auto& line : log()) {
      auto args = split_tab(line);
      for (const auto& a : args) {
        if (a.empty() || a[0] == '-') continue;
        if (a == sub) out.push_back(args);
        break;
      }
    }
    return out;
  }

  static appose::PixiBuilder pixi() {
    return std::move(appose::pixi().executable(standin("pixi")));
  }
  static appose::MambaBuilder mamba() {
    return std::move(appose::mamba().executable(standin("micromamba")));
  }

  fs::path root_;
  std::string log_;
};

class StandInPixi : public StandInTest {};
class StandInMamba : public StandInTest {};
class StandInBuildFailure : public StandInTest {};
class StandInBuildLock : public StandInTest {};
class StandInHygiene : public StandInTest {};

struct Probe {
  std::string ran;  // APPOSE_STANDIN_RAN: set by the stand-in's `run`
  std::string via;  // APPOSE_STANDIN_VIA: the environment's python wrapper that started it
};

/// Runs a task in `env` reporting which launcher and which python started the worker.
Probe probe(const appose::Environment& env) {
  appose::Service python = env.python();
  appose::Task t = python.task(
      "import os\n"
      "task.outputs['ran'] = os.environ.get('APPOSE_STANDIN_RAN', '')\n"
      "task.outputs['via'] = os.environ.get('APPOSE_STANDIN_VIA', '')\n");
  Probe p;
  if (!t.wait_for(120s)) {
    ADD_FAILURE() << "the worker's task did not finish";
  } else {
    p.ran = t.outputs().at("ran").get<std::string>();
    p.via = t.outputs().at("via").get<std::string>();
  }
  python.close();
  return p;
}

using Titles = std::vector<std::string>;

appose::ProgressCallback record_titles(appose::test::Lines& lines) {
  return [sink = lines.sink()](std::string_view title, std::int64_t, std::int64_t) { sink(title); };
}

bool any_contains(const std::vector<std::string>& lines, std::string_view part) {
  for (const auto& l : lines)
    if (contains(l, part)) return true;
  return false;
}

}  // namespace

TEST_F(StandInPixi, ProgrammaticBuildRunsTheDocumentedCommandsAndLaunchesThroughPixiRun) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // No progress subscriber: that would make install verbose (tested below).
  auto builder =
      pixi().conda({"python>=3.10", "appose"}).pypi({"cowsay"}).channels({"conda-forge"});
  appose::Environment env = builder.build("p");
  const fs::path dir = root_ / "p";
  const std::string manifest = (dir / "pixi.toml").string();
  const std::vector<std::string> expected = {
      join_tab({"init", dir.string()}),
      join_tab({"project", "channel", "add", "--manifest-path", manifest, "conda-forge"}),
      join_tab({"add", "--manifest-path", manifest, "python>=3.10", "appose"}),
      join_tab({"add", "--pypi", "--manifest-path", manifest, "cowsay"}),
      join_tab({"install", "--manifest-path", manifest}),
  };
  EXPECT_EQ(log(), expected);

  EXPECT_EQ(env.type(), "pixi");
  EXPECT_EQ(env.base(), dir.string());
  EXPECT_EQ(env.launch_args(),
            (std::vector<std::string>{standin("pixi"), "run", "--manifest-path", manifest}));
  EXPECT_EQ(env.bin_paths(),
            std::vector<std::string>{(dir / ".pixi" / "envs" / "default" / "bin").string()});
  EXPECT_TRUE(fs::exists(dir / "appose.json"));
  EXPECT_FALSE(fs::exists(dir / ".appose-building"));

  Probe p = probe(env);
  EXPECT_EQ(p.ran, "1") << "the worker was not launched through the stand-in's `pixi run`";
  EXPECT_EQ(p.via, (dir / ".pixi" / "envs" / "default" / "bin" / "python").string());

  // Unchanged: no tool runs, and progress says so.
  const auto before = log();
  appose::test::Lines again;
  appose::Environment same = pixi()
                                 .conda({"python>=3.10", "appose"})
                                 .pypi({"cowsay"})
                                 .channels({"conda-forge"})
                                 .subscribe_progress(record_titles(again))
                                 .build("p");
  EXPECT_EQ(log(), before);
  EXPECT_TRUE(again.wait_for({"Up to date"}, 0ms));
  EXPECT_EQ(same.launch_args(), env.launch_args());
  EXPECT_TRUE(builder.is_up_to_date());
}

TEST_F(StandInPixi, EnvironmentYmlIsImportedThenInstalled) {
  const std::string yml =
      "name: from-yml\nchannels:\n  - conda-forge\ndependencies:\n  - python>=3.10\n"
      "  - appose\n";
  appose::Environment env = pixi().content(yml).build();
  const fs::path dir = root_ / "from-yml";  // named by the file
  const std::string manifest = (dir / "pixi.toml").string();
  EXPECT_EQ(log(),
            (std::vector<std::string>{
                join_tab({"init", "--import", (dir / "environment.yml").string(), dir.string()}),
                join_tab({"install", "--manifest-path", manifest})}));
  const std::string text = read_text(dir / "environment.yml");
  EXPECT_EQ(text, yml);
  EXPECT_EQ(env.launch_args(),
            (std::vector<std::string>{standin("pixi"), "run", "--manifest-path", manifest}));
  EXPECT_TRUE(fs::exists(dir / "appose.json"));
}

TEST_F(StandInPixi, PixiTomlIsWrittenAndOnlyInstalled) {
  const std::string toml =
      "[workspace]\nname = \"from-toml\"\nchannels = [\"conda-forge\"]\n"
      "platforms = [\"linux-64\"]\n\n[dependencies]\npython = \">=3.10\"\nappose = \"*\"\n";
  appose::Environment env = pixi().content(toml).build();
  const fs::path dir = root_ / "from-toml";
  const std::string manifest = (dir / "pixi.toml").string();
  EXPECT_EQ(log(), std::vector<std::string>{join_tab({"install", "--manifest-path", manifest})});
  const std::string text = read_text(dir / "pixi.toml");
  EXPECT_EQ(text, toml);
  EXPECT_EQ(env.launch_args(),
            (std::vector<std::string>{standin("pixi"), "run", "--manifest-path", manifest}));
}

TEST_F(StandInPixi, PyprojectTomlIsTheManifestForInstallAndLaunch) {
  const std::string pyproject =
      "[project]\nname = \"from-pyproject\"\nversion = \"0.1.0\"\n"
      "dependencies = [\"appose\"]\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n"
      "platforms = [\"linux-64\"]\n";
  appose::Environment env = pixi().content(pyproject).build();
  const fs::path dir = root_ / "from-pyproject";
  const std::string manifest = (dir / "pyproject.toml").string();
  EXPECT_EQ(log(), std::vector<std::string>{join_tab({"install", "--manifest-path", manifest})});
  EXPECT_FALSE(fs::exists(dir / "pixi.toml"));
  EXPECT_EQ(env.launch_args(),
            (std::vector<std::string>{standin("pixi"), "run", "--manifest-path", manifest}));
}

TEST_F(StandInPixi, NamedEnvironmentIsInstalledAndLaunchedAndActivateInstallsAnother) {
  APPOSE_REQUIRE_PYTHON_PEER();
  appose::Environment env = pixi().conda({"appose"}).environment("gpu").build("named");
  const fs::path dir = root_ / "named";
  const std::string manifest = (dir / "pixi.toml").string();
  auto installs = invocations("install");
  ASSERT_EQ(installs.size(), 1U);
  EXPECT_EQ(join_tab(installs[0]),
            join_tab({"install", "--manifest-path", manifest, "--environment", "gpu"}));
  EXPECT_EQ(env.launch_args(), (std::vector<std::string>{standin("pixi"), "run", "--manifest-path",
                                                         manifest, "--environment", "gpu"}));
  EXPECT_EQ(env.bin_paths(),
            std::vector<std::string>{(dir / ".pixi" / "envs" / "gpu" / "bin").string()});

  appose::Environment cuda = env.activate("cuda");
  installs = invocations("install");
  ASSERT_EQ(installs.size(), 2U);
  EXPECT_EQ(join_tab(installs[1]),
            join_tab({"install", "--manifest-path", manifest, "--environment", "cuda"}));
  EXPECT_EQ(cuda.type(), "pixi");
  EXPECT_EQ(cuda.launch_args(), (std::vector<std::string>{standin("pixi"), "run", "--manifest-path",
                                                          manifest, "--environment", "cuda"}));
  EXPECT_EQ(cuda.bin_paths(),
            std::vector<std::string>{(dir / ".pixi" / "envs" / "cuda" / "bin").string()});
  // The activated environment really runs a worker from its own directory.
  Probe p = probe(cuda);
  EXPECT_EQ(p.ran, "1");
  EXPECT_EQ(p.via, (dir / ".pixi" / "envs" / "cuda" / "bin" / "python").string());
}

TEST_F(StandInPixi, GlobalFlagsPrecedeEverySubcommandAndInstallFlagsFollowInstall) {
  // The stand-in rejects a non-global flag before the subcommand, as pixi does with --frozen.
  (void)pixi().conda({"appose"}).channels({"conda-forge"}).flags({"-v", "--frozen"}).build("f");
  const auto lines = log();
  ASSERT_EQ(lines.size(), 4U) << ::testing::PrintToString(lines);
  for (const auto& line : lines) {
    auto args = split_tab(line);
    ASSERT_GE(args.size(), 2U) << line;
    EXPECT_EQ(args[0], "-v") << line;
    const bool is_install = args[1] == "install";
    int frozen_at = -1;
    for (std::size_t i = 0; i < args.size(); ++i)
      if (args[i] == "--frozen") frozen_at = static_cast<int>(i);
    if (is_install) {
      EXPECT_GT(frozen_at, 1) << "--frozen must follow `install`: " << line;
    } else {
      EXPECT_EQ(frozen_at, -1) << "--frozen belongs to install only: " << line;
    }
    EXPECT_FALSE(contains(line, "-vv")) << "an explicit -v replaces the builder's -vv: " << line;
  }
  EXPECT_EQ(split_tab(lines[0])[1], "init");
  EXPECT_EQ(split_tab(lines[1])[1], "project");
  EXPECT_EQ(split_tab(lines[2])[1], "add");
  EXPECT_EQ(split_tab(lines[3])[1], "install");
}

TEST_F(StandInPixi, SubscribedProgressParsesPhasesWithoutFloodingTheErrorSubscriber) {
  appose::test::Lines progress;
  appose::test::Lines errors;
  (void)pixi()
      .conda({"appose"})
      .subscribe_progress(record_titles(progress))
      .subscribe_error(errors.sink())
      .build("phases");
  const fs::path dir = root_ / "phases";
  auto installs = invocations("install");
  ASSERT_EQ(installs.size(), 1U);
  EXPECT_EQ(join_tab(installs[0]),
            join_tab({"-vv", "install", "--manifest-path", (dir / "pixi.toml").string()}));
  // Only install is verbose: the other commands' output has no phases to parse.
  for (const auto& sub : {"init", "add"}) {
    for (const auto& args : invocations(sub))
      EXPECT_NE(args[0], "-vv") << join_tab(args);
  }
  const Titles titles = progress.all();
  EXPECT_TRUE(any_contains(titles, "Solving")) << ::testing::PrintToString(titles);
  // A phase from pixi's log, not the builder's own "Installing (pixi install)" step.
  bool install_phase = false;
  for (const auto& t : titles)
    if (contains(t, "Installing") && !contains(t, "pixi install")) install_phase = true;
  EXPECT_TRUE(install_phase) << ::testing::PrintToString(titles);
  const auto error_lines = errors.all();
  EXPECT_FALSE(any_contains(error_lines, "DEBUG")) << ::testing::PrintToString(error_lines);
  EXPECT_FALSE(any_contains(error_lines, "INFO")) << ::testing::PrintToString(error_lines);
}

TEST_F(StandInPixi, ExplicitVerbosityIsForwardedToTheErrorSubscriber) {
  appose::test::Lines progress;
  appose::test::Lines errors;
  (void)pixi()
      .conda({"appose"})
      .flags({"-v"})
      .subscribe_progress(record_titles(progress))
      .subscribe_error(errors.sink())
      .build("verbose");
  auto installs = invocations("install");
  ASSERT_EQ(installs.size(), 1U);
  EXPECT_EQ(join_tab(installs[0]),
            join_tab({"-v", "install", "--manifest-path", (root_ / "verbose/pixi.toml").string()}));
  // The caller asked for pixi's log: it gets it.
  EXPECT_TRUE(errors.wait_for({"INFO", "resolved conda environment"}, 0ms))
      << ::testing::PrintToString(errors.all());
}

TEST_F(StandInMamba, EnvironmentYmlCreatesThenUpdatesAndLaunchesThroughMicromambaRun) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const std::string yml = "name: m-env\nchannels:\n  - conda-forge\ndependencies:\n  - appose\n";
  appose::Environment env = mamba().content(yml).build();
  const fs::path dir = root_ / "m-env";
  EXPECT_EQ(log(), (std::vector<std::string>{
                       join_tab({"create", "--prefix", dir.string(), "-y", "--no-rc"}),
                       join_tab({"env", "update", "-y", "--no-rc", "--prefix", dir.string(), "-f",
                                 (dir / "environment.yml").string()})}));
  EXPECT_EQ(env.type(), "mamba");
  EXPECT_EQ(env.launch_args(),
            (std::vector<std::string>{standin("micromamba"), "run", "-p", dir.string()}));
  EXPECT_TRUE(fs::exists(dir / "appose.json"));
  Probe p = probe(env);
  EXPECT_EQ(p.ran, "1") << "the worker was not launched through the stand-in's `micromamba run`";
  EXPECT_EQ(p.via, (dir / "bin" / "python").string());

  const auto before = log();
  appose::test::Lines again;
  (void)mamba().content(yml).subscribe_progress(record_titles(again)).build();
  EXPECT_EQ(log(), before);
  EXPECT_TRUE(again.wait_for({"Up to date"}, 0ms));
}

TEST_F(StandInMamba, ChannelsAreRefusedBeforeAnyCommandRuns) {
  const std::string yml = "name: m-chan\ndependencies:\n  - appose\n";
  EXPECT_THROW((void)mamba().content(yml).channels({"conda-forge"}).build(),
               appose::BuildException);
  EXPECT_TRUE(log().empty()) << ::testing::PrintToString(log());
  EXPECT_FALSE(fs::exists(root_ / "m-chan"));
}

TEST_F(StandInBuildFailure, PixiFailureCarriesTheToolsErrorAndRemovesWhatItCreated) {
  ::setenv("APPOSE_STANDIN_FAIL", "1", 1);
  std::string message;
  try {
    (void)pixi().conda({"appose"}).build("broken");
    message = "no exception";
  } catch (const appose::BuildException& e) {
    message = e.what();
  }
  EXPECT_TRUE(contains(message, "solve failed for appose")) << message;
  EXPECT_EQ(invocations("install").size(), 1U);
  EXPECT_FALSE(fs::exists(root_ / "broken"));
}

TEST_F(StandInBuildFailure, PixiFailureWithProgressSubscribedStillCarriesTheError) {
  // With progress subscribed install runs with -vv and its log is filtered: the error is not.
  ::setenv("APPOSE_STANDIN_FAIL", "1", 1);
  appose::test::Lines errors;
  appose::test::Lines progress;
  std::string message;
  try {
    (void)pixi()
        .conda({"appose"})
        .subscribe_progress(record_titles(progress))
        .subscribe_error(errors.sink())
        .build("broken");
    message = "no exception";
  } catch (const appose::BuildException& e) {
    message = e.what();
  }
  EXPECT_TRUE(contains(message, "solve failed for appose")) << message;
  EXPECT_TRUE(errors.wait_for({"solve failed for appose"}, 0ms))
      << ::testing::PrintToString(errors.all());
  EXPECT_FALSE(fs::exists(root_ / "broken"));
}

TEST_F(StandInBuildFailure, PixiFailureLeavesAPreExistingDirectory) {
  ::setenv("APPOSE_STANDIN_FAIL", "1", 1);
  const fs::path kept = root_ / "kept";
  fs::create_directories(kept);
  EXPECT_THROW((void)pixi().conda({"appose"}).base(kept).build(), appose::BuildException);
  EXPECT_EQ(invocations("install").size(), 1U);
  EXPECT_TRUE(fs::is_directory(kept)) << "a directory this build did not create was deleted";
}

TEST_F(StandInBuildFailure, PixiContentFailureLeavesAPreExistingDirectory) {
  ::setenv("APPOSE_STANDIN_FAIL", "1", 1);
  const fs::path kept = root_ / "kept";
  fs::create_directories(kept);
  const std::string toml = "[workspace]\nname = \"k\"\n\n[dependencies]\nappose = \"*\"\n";
  EXPECT_THROW((void)pixi().content(toml).base(kept).build(), appose::BuildException);
  EXPECT_TRUE(fs::is_directory(kept));
}

TEST_F(StandInBuildFailure, MambaFailureRemovesWhatItCreatedAndLeavesAPreExistingDirectory) {
  ::setenv("APPOSE_STANDIN_FAIL", "1", 1);
  const std::string yml = "name: m-broken\ndependencies:\n  - appose\n";
  std::string message;
  try {
    (void)mamba().content(yml).build();
    message = "no exception";
  } catch (const appose::BuildException& e) {
    message = e.what();
  }
  EXPECT_TRUE(contains(message, "solve failed for appose")) << message;
  EXPECT_FALSE(fs::exists(root_ / "m-broken"));

  const fs::path kept = root_ / "m-kept";
  fs::create_directories(kept);
  EXPECT_THROW((void)mamba().content(yml).base(kept).build(), appose::BuildException);
  EXPECT_TRUE(fs::is_directory(kept)) << "a directory this build did not create was deleted";
}

TEST_F(StandInBuildFailure, CancelKillsTheToolsWholeProcessGroupAndRemovesTheDirectory) {
  ::setenv("APPOSE_STANDIN_SLEEP", "30", 1);
  auto builder = pixi().conda({"appose"}).name("canceled");
  std::string message;
  std::chrono::steady_clock::time_point thrown{};
  std::thread building([&] {
    try {
      (void)builder.build();
      message = "no exception";
    } catch (const appose::BuildException& e) {
      message = e.what();
    }
    thrown = std::chrono::steady_clock::now();
  });
  // The sleep child's pid is written once install is under way: cancel then, not before.
  const std::string child_file = log_ + ".child";
  pid_t child = 0;
  const bool started = wait_until(
      [&] {
        std::ifstream in(child_file);
        return static_cast<bool>(in >> child) && child > 0;
      },
      60s);
  const auto asked = std::chrono::steady_clock::now();
  builder.cancel();
  building.join();
  ASSERT_TRUE(started) << "install never started; log: " << ::testing::PrintToString(log());
  EXPECT_TRUE(contains(message, "canceled")) << message;
  EXPECT_LT(thrown - asked, 10s);
  EXPECT_TRUE(wait_until([&] { return process_gone(child); }, 5s))
      << "the install's background child " << child << " outlived the cancel";
  EXPECT_FALSE(fs::exists(root_ / "canceled"));
}

TEST_F(StandInBuildLock, TwoProcessesBuildingTheSameEnvironmentRunTheToolsOnce) {
  // Long enough that the second process asks while the first is still installing, even with
  // both started under a sanitizer on a loaded machine.
  ::setenv("APPOSE_STANDIN_SLEEP", "3", 1);
  appose::test::ProcessResult results[2];
  std::thread hosts[2];
  for (int i = 0; i < 2; ++i) {
    hosts[i] = std::thread([&results, i] {
      results[i] = appose::test::run_process({APPOSE_BUILD_HOST, standin("pixi"), "shared"});
    });
  }
  for (auto& h : hosts)
    h.join();
  for (const auto& r : results)
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(invocations("install").size(), 1U) << ::testing::PrintToString(log());
  EXPECT_EQ(invocations("init").size(), 1U) << ::testing::PrintToString(log());
  int waited = -1;
  for (int i = 0; i < 2; ++i) {
    const auto w = results[i].out.find("Waiting for another build");
    if (w == std::string::npos) continue;
    waited = i;
    EXPECT_NE(results[i].out.find("Up to date", w), std::string::npos) << results[i].out;
  }
  ASSERT_NE(waited, -1) << "neither process waited:\n"
                        << results[0].out << "\n---\n"
                        << results[1].out;
  EXPECT_FALSE(contains(results[1 - waited].out, "Waiting for another build"));
  EXPECT_FALSE(contains(results[1 - waited].out, "Up to date"));
  EXPECT_TRUE(fs::exists(root_ / "shared" / "appose.json"));
}

TEST_F(StandInHygiene, TheCallersActivationDoesNotReachTheTools) {
  ::setenv("CONDA_PREFIX", "/nonexistent/conda", 1);
  ::setenv("PIXI_PROJECT_MANIFEST", "/nonexistent/pixi.toml", 1);
  ::setenv("MAMBA_ROOT_PREFIX", "/nonexistent/mamba", 1);
  ::setenv("VIRTUAL_ENV", "/nonexistent/venv", 1);
  ::setenv("CONDARC", "/nonexistent/condarc", 1);
  (void)pixi().conda({"appose"}).build("clean-pixi");
  (void)mamba().content("name: clean-mamba\ndependencies:\n  - appose\n").build();
  const auto seen = read_lines(log_ + ".env");
  ASSERT_EQ(seen.size(), 5U) << ::testing::PrintToString(seen);  // init, add, install, 2 mamba
  for (const auto& line : seen) {
    for (const char* var :
         {"CONDA_PREFIX", "PIXI_PROJECT_MANIFEST", "MAMBA_ROOT_PREFIX", "VIRTUAL_ENV", "CONDARC"})
      EXPECT_TRUE(contains(line, std::string(var) + " unset")) << var << " leaked: " << line;
  }

  // What the builder is told to set wins over the scrubbing.
  fs::remove(log_ + ".env");
  (void)mamba()
      .content("name: rc-mamba\ndependencies:\n  - appose\n")
      .env({{"CONDARC", "/explicit/condarc"}})
      .build();
  for (const auto& line : read_lines(log_ + ".env")) {
    EXPECT_TRUE(contains(line, "CONDARC=/explicit/condarc")) << line;
    EXPECT_TRUE(contains(line, "CONDA_PREFIX unset")) << line;
  }
}
