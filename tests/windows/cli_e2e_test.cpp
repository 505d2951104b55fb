// The command-line tool on Windows (under Wine here), run as a user runs it: `appose doctor`,
// `appose list` and `appose run` against an environment whose worker is the C++ worker
// examples/worker_ops.exe. The environment is a uv-style venv (pyvenv.cfg, Scripts\python.exe)
// whose "python" is a copy of worker_ops.exe: worker_ops ignores its arguments and answers the
// protocol, so `appose run` drives it exactly as it would drive appose-python's worker (no
// Windows CPython exists here). The tool's output is read through an appose Service (a Service
// runs any command and collects the lines of its stdout and stderr).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <appose/appose.hpp>

#include "support/test_support.hpp"

namespace appose {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct CliResult {
  int exit_code = -1;
  std::vector<std::string> out;  // stdout: not protocol, so all "invalid" lines
  std::vector<std::string> err;
};

/// `p` as UTF-8: path::string() gives the ANSI code page on Windows.
std::string utf8(const fs::path& p) {
  const std::u8string text = p.u8string();
  return {text.begin(), text.end()};
}

CliResult run_cli(std::vector<std::string> args,
                  std::map<std::string, std::optional<std::string>> env = {}) {
  // The build's path is a Linux one ("/work/..."), rooted but without a drive: absolute() gives
  // it its drive (Z: under Wine).
  std::vector<std::string> command{fs::absolute(APPOSE_CLI).string()};
  command.insert(command.end(), args.begin(), args.end());
  Service service(ServiceConfig{std::move(command), "", std::move(env), WorkerKind::other});
  service.start();
  service.close();
  CliResult r;
  std::optional<int> code = service.wait_for(120s);
  if (!code) {
    service.kill();
    ADD_FAILURE() << "appose did not exit within 120 s";
    code = service.wait_for();
  }
  r.exit_code = *code;
  r.out = service.invalid_lines();
  r.err = service.error_lines();
  return r;
}

bool has_line(const std::vector<std::string>& lines, const std::string& start,
              const std::string& part = "") {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.rfind(start, 0) == 0 && l.find(part) != std::string::npos;
  });
}

std::string joined(const CliResult& r) {
  std::string text = "stdout:\n";
  for (const auto& l : r.out)
    text += "  " + l + "\n";
  text += "stderr:\n";
  for (const auto& l : r.err)
    text += "  " + l + "\n";
  return text;
}

class WindowsCli : public ::testing::Test {
 protected:
  test::TempDir tmp{"appose-cli"};
  fs::path root = tmp.path / "envs";

  void SetUp() override {
    ASSERT_TRUE(fs::exists(APPOSE_CLI)) << APPOSE_CLI;
    ASSERT_TRUE(fs::exists(APPOSE_WORKER_OPS)) << APPOSE_WORKER_OPS;
    const fs::path env = root / "ops";
    fs::create_directories(env / "Scripts");
    std::ofstream(env / "pyvenv.cfg") << "home = C:\\Python\n";
    fs::copy_file(APPOSE_WORKER_OPS, env / "Scripts" / "python.exe");
  }
};

TEST_F(WindowsCli, DoctorChecksSharedMemory) {
  CliResult r = run_cli({"doctor", "--root", root.string()});
  // Tools and Python are missing here (warnings); the essential checks pass.
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.out, "OK", "shared memory")) << joined(r);
  EXPECT_TRUE(has_line(r.out, "All essential checks passed.")) << joined(r);
}

TEST_F(WindowsCli, ListShowsTheEnvironment) {
  CliResult r = run_cli({"list", "--root", root.string()});
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(std::any_of(r.out.begin(), r.out.end(), [](const std::string& l) {
    return l.find("ops") != std::string::npos;
  })) << joined(r);
}

TEST_F(WindowsCli, RunDrivesTheWorker) {
  CliResult r =
      run_cli({"run", "--root", root.string(), "-q", "ops", "-e", "greet", "-i", "times=2"});
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.out, "text = hello, world!hello, world!")) << joined(r);
}

TEST_F(WindowsCli, RunReportsAFailedTask) {
  CliResult r = run_cli({"run", "--root", root.string(), "-q", "ops", "-e", "fail"});
  EXPECT_NE(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.err, "appose: task failed")) << joined(r);
}

// A root whose name the ANSI code page cannot spell (Wine's is 1252 here, which has 'é' but not
// '測'): the tool takes its arguments and APPOSE_ENVS_DIR as UTF-16 and works in UTF-8, so the
// name arrives whole, on the command line and through the variable alike.
TEST_F(WindowsCli, NonAsciiRootOnTheCommandLineAndInTheVariable) {
  const fs::path other = tmp.path / fs::path(u8"Donn\u00e9es-\u6e2c\u8a66") / "envs";
  fs::create_directories(other);
  fs::copy(root / "ops", other / "ops", fs::copy_options::recursive);

  CliResult r = run_cli({"list", "--root", utf8(other)});
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.out, "Environments in", utf8(other))) << joined(r);
  EXPECT_TRUE(has_line(r.out, "ops")) << joined(r);

  r = run_cli({"run", "--root", utf8(other), "-q", "ops", "-e", "greet", "-i", "times=1"});
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.out, "text = hello, world!")) << joined(r);

  r = run_cli({"run", "-q", "ops", "-e", "greet", "-i", "times=1"},
              {{"APPOSE_ENVS_DIR", utf8(other)}});
  EXPECT_EQ(r.exit_code, 0) << joined(r);
  EXPECT_TRUE(has_line(r.out, "text = hello, world!")) << joined(r);
}

}  // namespace
}  // namespace appose
