// The `appose` command-line tool, spawned as a user runs it: through /usr/bin/env for its
// environment variables, on pipes (run_process), or on a pseudo-terminal (forkpty) for the
// progress bar and Ctrl-C. Every test gets its own environments root.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#ifdef __APPLE__
// macOS declares forkpty() in <util.h>; zig's macOS headers lack that file (libSystem has the
// function), so it is declared here when the header is missing.
#if __has_include(<util.h>)
#include <util.h>
#else
#include <sys/ioctl.h>
#include <termios.h>
extern "C" pid_t forkpty(int* amaster, char* name, termios* termp, winsize* winp);
#endif
#else
#include <pty.h>
#endif
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <appose/builder.hpp>
#include <appose/shared_memory.hpp>
#include <appose/version.hpp>
#include <appose/worker.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using appose::test::ProcessResult;

namespace {

const std::string kCli = APPOSE_CLI;

/// The directory of the peers' virtual environment (.peers/venv), if present.
std::optional<fs::path> peer_venv() {
  auto py = appose::test::peer_python();
  if (!py) return std::nullopt;
  return fs::path(*py).parent_path().parent_path();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// (Not std::regex: GCC 12 warns inside it under -O1 with sanitizers.)

/// Whether `text` matches `pattern`, where '9' stands for any digit.
bool matches_digits(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool ok = pattern[i] == '9' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                                : text[i] == pattern[i];
    if (!ok) return false;
  }
  return true;
}

/// The whitespace-separated words of `line`.
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

/// The line of `text` whose words start with `first` and `second`, or empty.
std::string line_starting(const std::string& text, const std::string& first,
                          const std::string& second) {
  for (const auto& line : lines_of(text)) {
    auto w = words(line);
    if (w.size() >= 2 && w[0] == first && w[1] == second) return line;
  }
  return {};
}

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}

/// Whether `text` holds a redrawn bar: `\r<title> [###...] NN%`.
bool has_bar(const std::string& text, const std::string& title) {
  const std::string start = "\r" + title + " [";
  for (auto pos = text.find(start); pos != std::string::npos; pos = text.find(start, pos + 1)) {
    std::size_t i = pos + start.size();
    while (i < text.size() && text[i] == '#')
      ++i;
    while (i < text.size() && text[i] == '.')
      ++i;
    if (i >= text.size() || text[i] != ']') continue;
    ++i;
    while (i < text.size() && text[i] == ' ')
      ++i;
    std::size_t digits = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0)
      ++i;
    if (i > digits && i < text.size() && text[i] == '%') return true;
  }
  return false;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// The CLI on a pseudo-terminal: what a user at a terminal sees, and where Ctrl-C comes from.
class PtyProcess {
 public:
  PtyProcess(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    // Everything the child needs is prepared before fork: after it, only exec.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e)
      env_strings.emplace_back(*e);
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& s : env_strings)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings{kCli};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings)
      argv.push_back(s.data());
    argv.push_back(nullptr);

    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
  }

  ~PtyProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& output() const { return output_; }

  /// Reads until the output holds `needle`; false at the deadline or at the end of output.
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(output_, needle)) {
      if (!read_some(deadline)) return contains(output_, needle);
    }
    return true;
  }

  /// Reads everything until the process exits; its exit code (or -signal), or nullopt if it
  /// is still running at the deadline.
  std::optional<int> finish(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (read_some(deadline)) {
    }
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

 private:
  /// One read; false at the deadline or when the terminal is closed (EIO: the child is gone).
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    char buf[4096];
    ssize_t r = ::read(fd_, buf, sizeof buf);
    if (r <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(r));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("appose-cli-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  /// Runs `appose args...` with APPOSE_ENVS_DIR = the test's root, plus `env` (VAR=value).
  ProcessResult cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                    const std::string& input = {}) const {
    std::vector<std::string> argv{"/usr/bin/env", "APPOSE_ENVS_DIR=" + root_.string()};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(kCli);
    argv.insert(argv.end(), args.begin(), args.end());
    return appose::test::run_process(argv, input);
  }

  /// Lays out what wrap() takes for a uv environment: a venv's pyvenv.cfg and bin/.
  void make_venv(const std::string& name, bool with_fingerprint) const {
    fs::path dir = root_ / name;
    fs::create_directories(dir / "bin");
    write_file(dir / "pyvenv.cfg", "home = /usr/bin\n");
    if (with_fingerprint) {
      write_file(dir / "appose.json", appose::uv().include({"numpy"}).name(name).fingerprint());
    }
  }

  fs::path root_;
};

class CliHelp : public CliTest {};
class CliList : public CliTest {};
class CliRemove : public CliTest {};
class CliBuild : public CliTest {};
class CliUvBuild : public CliTest {};
class CliRun : public CliTest {};
class CliDoctor : public CliTest {};
class CliShm : public CliTest {};
class CliTerminal : public CliTest {};
class CliInterrupt : public CliTest {};

// --- help and version ---

TEST_F(CliHelp, EveryCommandHasHelpWithExamples) {
  for (std::string command : {"", "build", "list", "remove", "run", "doctor", "shm"}) {
    std::vector<std::string> args;
    if (!command.empty()) args.push_back(command);
    args.emplace_back("--help");
    ProcessResult r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_TRUE(contains(r.out, "Examples")) << command << ":\n" << r.out;
    EXPECT_TRUE(contains(r.out, "appose " + command)) << command << ":\n" << r.out;
  }
}

TEST_F(CliHelp, VersionPrintsTheLibraryAndProtocolVersions) {
  ProcessResult r = cli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  const std::string protocol = fmt::format(" (Appose protocol {})\n", appose::kProtocolVersion);
  ASSERT_TRUE(r.out.starts_with("appose ") && r.out.ends_with(protocol)) << r.out;
  const std::string version = r.out.substr(7, r.out.size() - 7 - protocol.size());
  EXPECT_EQ(version, appose::version()) << r.out;
  EXPECT_TRUE(is_number(version) && std::count(version.begin(), version.end(), '.') == 2) << r.out;
}

TEST_F(CliHelp, HelpListsEveryExitCode) {
  ProcessResult r = cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  const std::string tail = r.out.substr(r.out.find("Exit status:"));
  for (const char* code : {"0", "1", "2", "3", "4", "5", "6", "7", "8", "130"}) {
    const auto lines = lines_of(tail);
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                            [&](const std::string& l) {
                              auto w = words(l);
                              return w.size() >= 2 && w[0] == code;
                            }))
        << code << " missing in:\n"
        << tail;
  }
}

TEST_F(CliHelp, BadUsageExits2) {
  EXPECT_EQ(cli({}).exit_code, 2);
  EXPECT_EQ(cli({"frobnicate"}).exit_code, 2);
  ProcessResult r = cli({"list", "--no-such-option"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--no-such-option")) << r.err;
}

// --- list ---

TEST_F(CliList, MissingRootIsEmpty) {
  fs::path missing = root_ / "nothing-here";
  ProcessResult r = cli({"list", "--root", missing.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "No environments in " + missing.string())) << r.out;

  r = cli({"list", "--json", "--root", missing.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.is_array());
  EXPECT_TRUE(j.empty());
}

TEST_F(CliList, EmptyRootIsEmpty) {
  ProcessResult r = cli({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "No environments")) << r.out;
}

TEST_F(CliList, ShowsEnvironmentsWithTheirState) {
  make_venv("built", true);
  make_venv("foreign", false);
  fs::create_directories(root_ / ".uv" / "bin");  // a tool cache: not an environment

  ProcessResult r = cli({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4U) << r.out;  // title, header, two environments
  EXPECT_TRUE(contains(lines[1], "NAME") && contains(lines[1], "STATE")) << lines[1];
  std::vector<std::string> built = words(lines[2]);
  ASSERT_EQ(built.size(), 9U) << lines[2];
  EXPECT_EQ(built[0], "built");
  EXPECT_EQ(built[1], "uv");
  EXPECT_TRUE(is_number(built[2])) << lines[2];
  EXPECT_TRUE(built[3] == "B" || built[3] == "KiB") << lines[2];
  EXPECT_TRUE(matches_digits(built[4], "9999-99-99")) << lines[2];
  EXPECT_TRUE(matches_digits(built[5], "99:99")) << lines[2];
  EXPECT_TRUE(lines[2].ends_with("  up to date")) << lines[2];
  std::vector<std::string> foreign = words(lines[3]);
  ASSERT_EQ(foreign.size(), 7U) << lines[3];
  EXPECT_EQ(foreign[0], "foreign");
  EXPECT_EQ(foreign[4], "-");
  EXPECT_TRUE(lines[3].ends_with("  no fingerprint")) << lines[3];

  r = cli({"list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2U) << r.out;
  EXPECT_EQ(j[0]["name"], "built");
  EXPECT_EQ(j[0]["kind"], "uv");
  EXPECT_EQ(j[0]["state"], "up to date");
  EXPECT_EQ(j[0]["builder"], "uv");
  EXPECT_EQ(j[0]["path"], (root_ / "built").string());
  EXPECT_GT(j[0]["size_bytes"].get<std::uint64_t>(), 0U);
  EXPECT_TRUE(matches_digits(j[0]["built"].get<std::string>(), "9999-99-99T99:99:99Z"))
      << j[0]["built"];
  EXPECT_EQ(j[1]["name"], "foreign");
  EXPECT_EQ(j[1]["state"], "no fingerprint");
  EXPECT_TRUE(j[1]["built"].is_null());
  EXPECT_TRUE(j[1]["builder"].is_null());
}

// --- remove ---

TEST_F(CliRemove, RefusesADirectoryApposeDidNotBuild) {
  make_venv("foreign", false);
  ProcessResult r = cli({"remove", "foreign"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "appose: error:")) << r.err;
  EXPECT_TRUE(contains(r.err, "appose.json")) << r.err;
  EXPECT_TRUE(fs::exists(root_ / "foreign" / "pyvenv.cfg"));
}

TEST_F(CliRemove, RemovesAnEnvironmentApposeBuilt) {
  make_venv("mine", true);
  ProcessResult r = cli({"remove", "mine"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Removed")) << r.out;
  EXPECT_FALSE(fs::exists(root_ / "mine"));

  // By path too, from anywhere.
  make_venv("other", true);
  r = cli({"remove", (root_ / "other").string(), "--root", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(root_ / "other"));
}

TEST_F(CliRemove, UnknownNameSaysWhereItLooked) {
  ProcessResult r = cli({"remove", "nothere"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, root_.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "appose list")) << r.err;
}

// --- build ---

TEST_F(CliBuild, BadSchemeFileFailsWithOneLineError) {
  fs::path file = root_ / "in" / "pixi.toml";
  write_file(file,
             "[workspace]\nname = \"broken\"\nchannels = [\"conda-forge\"]\n"
             "platforms = [\"linux-64\"]\n[dependencies]\npython = \n");
  ProcessResult r = cli({"build", file.string()});
  EXPECT_EQ(r.exit_code, 4);  // the configuration is invalid
  std::vector<std::string> lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1U) << r.err;
  EXPECT_TRUE(contains(lines[0], "appose: error: " + file.string() + ": line 6")) << lines[0];
  EXPECT_FALSE(fs::exists(root_ / "broken"));
}

TEST_F(CliBuild, MissingFileIsNotFound) {
  ProcessResult r = cli({"build", (root_ / "nope.yml").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(
      contains(r.err, "appose: error: no configuration file " + (root_ / "nope.yml").string()))
      << r.err;
}

TEST_F(CliBuild, FileWithoutANameAsksForNameOrBase) {
  fs::path file = root_ / "in" / "requirements.txt";
  write_file(file, "appose==0.12.0\n");
  ProcessResult r = cli({"build", file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--name NAME")) << r.err;
  EXPECT_TRUE(contains(r.err, "--base DIR")) << r.err;
  EXPECT_FALSE(contains(r.err, "name()")) << r.err;  // the C++ API's words
  EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), 1)
      << "something was built";
}

TEST_F(CliBuild, UsageErrorsExit2) {
  ProcessResult r = cli({"build", "--uv", "--pypi", "numpy"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--name")) << r.err;
  EXPECT_EQ(cli({"build", "--uv", "--conda", "numpy", "--name", "x"}).exit_code, 2);
  EXPECT_EQ(cli({"build", "--uv", "--pixi", "--name", "x"}).exit_code, 2);
  EXPECT_EQ(cli({"build"}).exit_code, 2);
}

TEST_F(CliBuild, ToolFailureShowsTheToolsErrorTail) {
  // A uv that fails the way a tool does: a message on stderr and a non-zero exit.
  fs::path fake = root_ / "fake-uv";
  write_file(fake, "#!/bin/sh\necho \"error: no such package: $*\" >&2\nexit 3\n");
  fs::permissions(fake, fs::perms::owner_all);
  ProcessResult r =
      cli({"build", "--uv", "--pypi", "nothing", "--name", "x"}, {"APPOSE_UV=" + fake.string()});
  EXPECT_EQ(r.exit_code, 5);  // the build failed
  std::vector<std::string> lines = lines_of(r.err);
  ASSERT_GE(lines.size(), 2U) << r.err;
  EXPECT_TRUE(contains(lines[0], "appose: error: uv build of")) << r.err;
  EXPECT_TRUE(contains(r.err, "  error: no such package")) << r.err;
  EXPECT_FALSE(fs::exists(root_ / "x"));
}

TEST_F(CliBuild, MambaPackageListBecomesAnEnvironmentYml) {
  // A micromamba that records its command lines and makes the prefix, as the real one would.
  fs::path fake = root_ / "bin" / "micromamba";
  write_file(
      fake,
      "#!/bin/sh\n"
      "echo \"$*\" >> \"$(dirname \"$0\")/args.txt\"\n"
      "prev=\n"
      "for a in \"$@\"; do\n"
      "  if [ \"$prev\" = --prefix ] && [ \"$1\" = create ]; then mkdir -p \"$a/conda-meta\"; fi\n"
      "  prev=$a\n"
      "done\n");
  fs::permissions(fake, fs::perms::owner_all);
  ProcessResult r = cli({"build", "--mamba", "--conda", "numpy", "--conda", "scipy>=1", "--pypi",
                         "appose", "--python", "3.11", "--channel", "bioconda", "--name", "mm"},
                        {"APPOSE_MICROMAMBA=" + fake.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "Built mamba environment in " + (root_ / "mm").string())) << r.out;
  std::ifstream in(root_ / "mm" / "environment.yml");
  std::ostringstream yml_buf;
  yml_buf << in.rdbuf();
  const std::string yml = yml_buf.str();
  EXPECT_EQ(yml,
            "name: \"mm\"\nchannels:\n  - \"bioconda\"\ndependencies:\n  - \"python=3.11\"\n"
            "  - \"numpy\"\n  - \"scipy>=1\"\n  - pip\n  - pip:\n    - \"appose\"\n");
  EXPECT_TRUE(fs::exists(root_ / "mm" / "appose.json"));
}

TEST_F(CliUvBuild, BuildRunListRemove) {
  APPOSE_REQUIRE_UV();
  const std::vector<std::string> env{"APPOSE_UV=" + appose::test::peer_uv()->string(),
                                     "UV_PYTHON_DOWNLOADS=never"};
  ProcessResult r =
      cli({"build", "--uv", "--pypi", "appose==0.12.0", "--pypi", "numpy", "--name", "X"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "progress: ")) << r.out;  // not a terminal: plain lines
  EXPECT_FALSE(contains(r.out, "\r")) << r.out;
  EXPECT_TRUE(contains(r.out, "Built uv environment in " + (root_ / "X").string())) << r.out;

  r = cli({"build", "--uv", "--pypi", "appose==0.12.0", "--pypi", "numpy", "--name", "X"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "is up to date")) << r.out;

  r = cli({"run", "X", "-e", "task.outputs['y'] = x * 2", "--input", "x=21", "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({{"y", 42}})) << r.out;

  r = cli({"list", "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1U) << r.out;
  EXPECT_EQ(j[0]["name"], "X");
  EXPECT_EQ(j[0]["state"], "up to date");
  EXPECT_GT(j[0]["size_bytes"].get<std::uint64_t>(), 1000000U);

  r = cli({"remove", "X"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(root_ / "X"));
}

// --- run (against the peers' venv, by path) ---

TEST_F(CliRun, PeerVenvByPath) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r =
      cli({"run", peer_venv()->string(), "-e", "task.outputs['y'] = x * 2", "--input", "x=21"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "y = 42\n");
}

TEST_F(CliRun, JsonOutputsAndInputs) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r = cli({"run", peer_venv()->string(), "--json", "-e",
                         "task.outputs['s'] = name.upper()\ntask.outputs['n'] = sum(xs)", "-i",
                         "name=\"ab\"", "-i", "xs=[1, 2, 3]"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({{"s", "AB"}, {"n", 6}})) << r.out;

  // The last expression is the result.
  r = cli({"run", peer_venv()->string(), "-e", "1 + 2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "result = 3\n");
}

TEST_F(CliRun, ScriptFromAFileAndFromStdin) {
  APPOSE_REQUIRE_PYTHON_PEER();
  fs::path script = root_ / "script.py";
  write_file(script, "print('from the script')\ntask.outputs['v'] = 'file'\n");
  ProcessResult r = cli({"run", peer_venv()->string(), script.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v = file\n");
  EXPECT_TRUE(contains(r.err, "from the script\n")) << r.err;  // the worker's stderr, forwarded

  r = cli({"run", peer_venv()->string(), "-"}, {}, "task.outputs['v'] = 'stdin'\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v = stdin\n");
}

TEST_F(CliRun, EnvironmentByNameUnderTheRoot) {
  APPOSE_REQUIRE_PYTHON_PEER();
  fs::create_directory_symlink(*peer_venv(), root_ / "peer");
  ProcessResult r = cli({"run", "peer", "-e", "task.outputs['ok'] = True"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok = true\n");
}

TEST_F(CliRun, FailingScriptExits6WithTraceback) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r =
      cli({"run", peer_venv()->string(), "-e", "def f():\n    raise ValueError('boom')\nf()"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_TRUE(contains(r.err, "Traceback")) << r.err;
  EXPECT_TRUE(contains(r.err, "ValueError: boom")) << r.err;
  EXPECT_TRUE(contains(r.err, "appose: task failed")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliRun, CrashExits8) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r = cli({"run", peer_venv()->string(), "-e", "import os; os._exit(3)"});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_TRUE(contains(r.err, "exit code 3")) << r.err;
  EXPECT_TRUE(contains(r.err, "appose: worker crashed")) << r.err;
}

TEST_F(CliRun, BadInputIsAUsageError) {
  ProcessResult r = cli({"run", "anything", "-e", "1", "--input", "x=not json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "not JSON")) << r.err;
  EXPECT_EQ(cli({"run", "anything", "--input", "=1", "-e", "1"}).exit_code, 2);
  EXPECT_EQ(cli({"run", "anything"}).exit_code, 2);  // neither SCRIPT nor -e
}

TEST_F(CliRun, MissingEnvironmentOrScriptIsNotFound) {
  ProcessResult r = cli({"run", "nothere", "-e", "1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "no environment named \"nothere\"")) << r.err;
  r = cli({"run", (root_ / "gone").string(), "-e", "1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "no environment at " + (root_ / "gone").string())) << r.err;
  r = cli({"run", root_.string(), (root_ / "nope.py").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "no script " + (root_ / "nope.py").string())) << r.err;
  r = cli({"run", root_.string(), "-e", "1", "--init-file", (root_ / "init.py").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "no init file")) << r.err;
}

TEST_F(CliRun, InitRunsBeforeTheTask) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // The init script runs in the worker's global scope before the first task, as
  // Service::init() says; a module it imports (here, one it makes) is there for the task.
  ProcessResult r = cli({"run", peer_venv()->string(), "--init",
                         "import sys, types\nm = types.ModuleType('cli_init')\nm.value = 42\n"
                         "sys.modules['cli_init'] = m",
                         "-e", "import cli_init\ntask.outputs['v'] = cli_init.value"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v = 42\n");

  fs::path init = root_ / "init.py";
  write_file(init,
             "import sys, types\nm = types.ModuleType('cli_init')\nm.value = 'file'\n"
             "sys.modules['cli_init'] = m\n");
  r = cli({"run", peer_venv()->string(), "--init-file", init.string(), "-e",
           "import cli_init\ntask.outputs['v'] = cli_init.value"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v = file\n");

  // Without --init the module is not there: the output above came from the init script.
  r = cli({"run", peer_venv()->string(), "-e", "import cli_init"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "No module named 'cli_init'")) << r.err;
  EXPECT_EQ(cli({"run", "x", "-e", "1", "--init", "a", "--init-file", "b"}).exit_code, 2);
}

TEST_F(CliRun, WorkerObjectOutputIsAnErrorWithAdvice) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // numpy.ndarray is not JSON: appose-python's worker keeps it and sends a worker_object
  // reference, which is dead once `run` has closed the worker.
  ProcessResult r = cli({"run", peer_venv()->string(), "--json", "-e",
                         "import numpy\ntask.outputs['n'] = 1\n"
                         "task.outputs['arr'] = numpy.arange(3)"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(contains(r.out + r.err, "_appose_auto_")) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "appose: error: output 'arr' is an object the worker could not "
                       "encode"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "appose.NDArray(")) << r.err;
  EXPECT_TRUE(contains(r.err, "task.outputs['arr'] = nd")) << r.err;

  // Deep inside an output, and without --json: the same, with where it is.
  r = cli({"run", peer_venv()->string(), "-e",
           "import numpy\ntask.outputs['d'] = {'x': [1, numpy.arange(2)]}"});
  EXPECT_EQ(r.exit_code, 6) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "output 'd' (at d.x[1])")) << r.err;

  // The advice works: an NDArray comes back as data.
  r = cli({"run", peer_venv()->string(), "--json", "-e",
           "import appose, numpy\na = numpy.arange(3)\n"
           "nd = appose.NDArray(str(a.dtype), list(a.shape))\nnd.ndarray()[...] = a\n"
           "task.outputs['arr'] = nd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"appose_type\":\"ndarray\"")) << r.out;
}

constexpr const char* kProgressScript =
    "import time\n"
    "for i in range(5):\n"
    "    task.update(message='working', current=i, maximum=4)\n"
    "    time.sleep(0.05)\n"
    "task.outputs['done'] = True\n";

TEST_F(CliRun, ProgressLinesWhenNotATerminal) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r = cli({"run", peer_venv()->string(), "-e", kProgressScript});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 3U) << r.out;
  EXPECT_EQ(lines.front(), "progress: working 0/4");
  // Throttled, but the last update of a title is always shown.
  EXPECT_EQ(lines[lines.size() - 2], "progress: working 4/4");
  EXPECT_EQ(lines.back(), "done = true");
  EXPECT_LT(lines.size(), 7U) << r.out;
  EXPECT_FALSE(contains(r.out, "\r"));
}

TEST_F(CliRun, JsonKeepsStdoutForTheOutputs) {
  APPOSE_REQUIRE_PYTHON_PEER();
  ProcessResult r = cli({"run", peer_venv()->string(), "--json", "-e", kProgressScript});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({{"done", true}}));
  EXPECT_TRUE(contains(r.err, "progress: working 4/4")) << r.err;
}

// --- doctor, shm ---

TEST_F(CliDoctor, JsonReportsSharedMemoryOk) {
  std::vector<std::string> env;
  if (auto uv = appose::test::peer_uv()) env.push_back("APPOSE_UV=" + uv->string());
  ProcessResult r = cli({"doctor", "--json", "--timeout", "30"}, env);
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["checks"].is_array());
  auto check = [&](const std::string& name) {
    for (const auto& c : j["checks"])
      if (c["name"] == name) return c;
    ADD_FAILURE() << "no check " << name << " in " << r.out;
    return nlohmann::json();
  };
  EXPECT_EQ(check("shared memory")["status"], "ok") << r.out;
#ifdef __APPLE__
  // No /dev/shm: the space check says why there is nothing to measure.
  EXPECT_EQ(check("shared memory space")["essential"], false);
  EXPECT_EQ(check("shared memory space")["status"], "ok");
#else
  EXPECT_EQ(check("/dev/shm space")["essential"], false);
#endif
  EXPECT_EQ(j["root"], root_.string());
  for (const auto& c : j["checks"]) {
    EXPECT_TRUE(c["status"] == "ok" || !c["fix"].is_null()) << "a problem without a fix: " << c;
  }
  if (appose::test::peer_uv()) {
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(check("uv")["status"], "ok") << r.out;
    EXPECT_TRUE(contains(check("uv")["detail"].get<std::string>(), "$APPOSE_UV")) << r.out;
  }
}

TEST_F(CliDoctor, MissingToolsAreDownloadedNotInstalledByHand) {
  // No variable, no cache under the fresh root, nothing on this PATH: the library downloads
  // each tool on first use, so doctor must not ask for an installation.
  ProcessResult r = cli({"doctor", "--json", "--timeout", "30"},
                        {"APPOSE_PIXI=", "APPOSE_MICROMAMBA=", "APPOSE_UV=", "PATH=/nonexistent"});
  nlohmann::json j = nlohmann::json::parse(r.out);
  struct Tool {
    std::string name, cache, variable;
  };
  const std::vector<Tool> tools{{"pixi", ".pixi/bin/pixi", "APPOSE_PIXI"},
                                {"micromamba", ".mamba/bin/micromamba", "APPOSE_MICROMAMBA"},
                                {"uv", ".uv/bin/uv", "APPOSE_UV"}};
  for (const auto& [name, cache, variable] : tools) {
    nlohmann::json check;
    for (const auto& c : j["checks"])
      if (c["name"] == name) check = c;
    ASSERT_FALSE(check.is_null()) << name << " in " << r.out;
    const std::string detail = check["detail"].get<std::string>();
    EXPECT_EQ(check["status"], "ok") << check;
    EXPECT_TRUE(check["fix"].is_null()) << check;
    EXPECT_TRUE(contains(
        detail, "the first " + name + " build downloads it into " + (root_ / cache).string()))
        << detail;
    EXPECT_TRUE(contains(detail, "$" + variable + " or the builder's executable()")) << detail;
    EXPECT_FALSE(contains(detail, "install " + name)) << detail;  // by hand: the old advice
  }
  for (const auto& c : j["checks"]) {
    if (c["name"] == "builders") {
      EXPECT_EQ(c["status"], "ok") << c;
    }
  }
}

TEST_F(CliDoctor, TextNamesEveryCheck) {
  ProcessResult r = cli({"doctor", "--timeout", "30"}, {"APPOSE_UV=/nonexistent/uv"});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  EXPECT_FALSE(line_starting(r.out, "OK", "shared").empty()) << r.out;
  EXPECT_TRUE(contains(line_starting(r.out, "WARN", "uv"), "$APPOSE_UV=/nonexistent/uv")) << r.out;
  EXPECT_TRUE(contains(r.out, "fix: point APPOSE_UV at")) << r.out;
}

TEST_F(CliShm, ListsOwnedBlocksAndCleansOnlyOrphans) {
  const fs::path registry = root_ / "registry";
  ::setenv("APPOSE_SHM_REGISTRY", registry.c_str(), 1);
  const std::string reg = "APPOSE_SHM_REGISTRY=" + registry.string();
  ProcessResult empty = cli({"shm", "list"}, {reg});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.out, "No blocks")) << empty.out;

  // A block of this (live) process, and an orphan: a block whose registered owner is gone.
  appose::SharedMemory mine = appose::SharedMemory::create(64);
  const std::string orphan = "psm_cliorphan" + std::to_string(::getpid());
  const int fd = ::shm_open(("/" + orphan).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  write_file(registry / orphan, "2147483646 1\n");  // no such pid

  ProcessResult list = cli({"shm", "list", "--json"}, {reg});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto blocks = nlohmann::json::parse(list.out);
  ASSERT_EQ(blocks.size(), 2U) << list.out;
  for (const auto& b : blocks) {
    EXPECT_EQ(b.at("owner_alive").get<bool>(), b.at("name") == mine.name()) << b.dump();
  }
  ProcessResult table = cli({"shm", "list"}, {reg});
  EXPECT_TRUE(contains(table.out, "dead")) << table.out;

  ProcessResult clean = cli({"shm", "clean"}, {reg});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_TRUE(contains(clean.out, "unlinked " + orphan)) << clean.out;
  EXPECT_FALSE(appose::test::shm_block_exists(orphan));
  EXPECT_TRUE(appose::test::shm_block_exists(mine.name()));
  ProcessResult again = cli({"shm", "clean"}, {reg});
  EXPECT_TRUE(contains(again.out, "No orphaned blocks")) << again.out;
  EXPECT_EQ(cli({"shm", "frob"}).exit_code, 2);
  mine.close();
  ::unsetenv("APPOSE_SHM_REGISTRY");
}

// --- a terminal: the progress bar, Ctrl-C ---

TEST_F(CliTerminal, ProgressBarIsRedrawnInPlace) {
  APPOSE_REQUIRE_PYTHON_PEER();
  PtyProcess p({"run", peer_venv()->string(), "-e", kProgressScript},
               {"APPOSE_ENVS_DIR=" + root_.string()});
  std::optional<int> code = p.finish(120s);
  ASSERT_TRUE(code.has_value()) << p.output();
  EXPECT_EQ(*code, 0) << p.output();
  EXPECT_TRUE(has_bar(p.output(), "working")) << p.output();
  EXPECT_TRUE(contains(p.output(), "\rworking [##############################] 100%"))
      << p.output();
  EXPECT_TRUE(contains(p.output(), "done = true")) << p.output();
  EXPECT_FALSE(contains(p.output(), "progress: ")) << p.output();
}

TEST_F(CliInterrupt, FirstCtrlCCancelsTheTask) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // appose-python's cancel is cooperative: the script looks at task.cancel_requested.
  PtyProcess p({"run", peer_venv()->string(), "-e",
                "import time\nprint('ready', flush=True)\n"
                "while not task.cancel_requested:\n    time.sleep(0.05)\ntask.cancel()\n"},
               {"APPOSE_ENVS_DIR=" + root_.string()});
  ASSERT_TRUE(p.read_until("ready", 120s)) << p.output();
  ::kill(p.pid(), SIGINT);
  std::optional<int> code = p.finish(60s);
  ASSERT_TRUE(code.has_value()) << p.output();
  EXPECT_EQ(*code, 7) << p.output();
  EXPECT_TRUE(contains(p.output(), "appose: task canceled")) << p.output();
}

TEST_F(CliInterrupt, SecondCtrlCKillsTheWorker) {
  APPOSE_REQUIRE_PYTHON_PEER();
  // time.sleep() never looks at cancel_requested: only the second Ctrl-C ends this.
  PtyProcess p({"run", peer_venv()->string(), "-e",
                "import os, time\nprint('worker', os.getpid(), 'ready', flush=True)\n"
                "time.sleep(600)\n"},
               {"APPOSE_ENVS_DIR=" + root_.string()});
  ASSERT_TRUE(p.read_until("ready", 120s)) << p.output();
  const std::string& out = p.output();
  const auto at = out.find("worker ");
  ASSERT_NE(at, std::string::npos) << out;
  const pid_t worker = std::stoi(out.substr(at + 7));
  ASSERT_GT(worker, 0) << out;

  ::kill(p.pid(), SIGINT);
  ASSERT_TRUE(p.read_until("Ctrl-C again", 30s)) << p.output();
  auto start = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGINT);
  std::optional<int> code = p.finish(60s);
  ASSERT_TRUE(code.has_value()) << p.output();
  EXPECT_EQ(*code, 130) << p.output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(contains(p.output(), "appose: worker killed")) << p.output();
  // The worker is gone (not merely orphaned).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(worker, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(gone) << "worker " << worker << " still running";
}

}  // namespace
