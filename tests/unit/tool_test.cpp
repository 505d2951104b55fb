// Running the build tools (src/envbuild/tool.cpp): line splitting, UTF-8 repair, output caps,
// cancellation of the whole process group, leftover descendants, environment cleaning and
// tool lookup. Real child processes throughout: the point is how run_tool copes with them.

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "appose/error.hpp"
#include "envbuild/tool.hpp"

#include "support/test_support.hpp"

namespace appose::detail {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using appose::test::ExitWatch;
using appose::test::ScopedEnv;
using appose::test::TempDir;

constexpr std::size_t kMaxLine = std::size_t{1} << 20;
constexpr std::string_view kMarker = " \xE2\x80\xA6 [line truncated]";
constexpr std::string_view kFffd = "\xEF\xBF\xBD";

/// Whether `s` is well-formed UTF-8 (Unicode table 3-7), checked independently of tool.cpp.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [](unsigned char b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  while (i < s.size()) {
    unsigned char b = byte(i);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      len = 1;
    } else if (in(b, 0xC2, 0xDF)) {
      len = 2;
    } else if (b == 0xE0) {
      len = 3, lo = 0xA0;
    } else if (in(b, 0xE1, 0xEC) || in(b, 0xEE, 0xEF)) {
      len = 3;
    } else if (b == 0xED) {
      len = 3, hi = 0x9F;
    } else if (b == 0xF0) {
      len = 4, lo = 0x90;
    } else if (in(b, 0xF1, 0xF3)) {
      len = 4;
    } else if (b == 0xF4) {
      len = 4, hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    if (len > 1 && !in(byte(i + 1), lo, hi)) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (!in(byte(i + k), 0x80, 0xBF)) return false;
    }
    i += len;
  }
  return true;
}

struct Outcome {
  ToolResult result;
  std::vector<std::string> out, err;
  bool all_valid = true;    ///< every line handed over was valid UTF-8
  bool same_thread = true;  ///< every callback ran on the calling thread
};

ToolCommand sh(const std::string& script, fs::path cwd = fs::temp_directory_path()) {
  ToolCommand c;
  c.argv = {"/bin/sh", "-c", script};
  c.cwd = std::move(cwd);
  return c;
}

Outcome run(const ToolCommand& command, const CancelState* cancel = nullptr,
            milliseconds grace = milliseconds(2000)) {
  Outcome r;
  const auto caller = std::this_thread::get_id();
  auto sink = [&](std::vector<std::string>& lines) {
    return [&r, &lines, caller](std::string_view line) {
      if (!valid_utf8(line)) r.all_valid = false;
      if (std::this_thread::get_id() != caller) r.same_thread = false;
      lines.emplace_back(line);
    };
  };
  r.result = run_tool(command, sink(r.out), sink(r.err), cancel, grace);
  return r;
}

Outcome run_sh(const std::string& script) {
  return run(sh(script));
}

void write_file(const fs::path& p, const std::string& text, bool executable) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  fs::permissions(
      p, executable ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write);
}

// ---------------------------------------------------------------------------------------------
// Lines

TEST(ToolRun, LinesFromBothStreamsInOrder) {
  Outcome r = run_sh(
      "i=0; while [ $i -lt 300 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done");
  EXPECT_EQ(r.result.exit_code, 0);
  EXPECT_FALSE(r.result.canceled);
  ASSERT_EQ(r.out.size(), 300u);
  ASSERT_EQ(r.err.size(), 300u);
  for (std::size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(r.out[i], "out " + std::to_string(i));
    EXPECT_EQ(r.err[i], "err " + std::to_string(i));
  }
  EXPECT_TRUE(r.same_thread);
}

TEST(ToolRun, LinesArriveWhileTheToolRuns) {
  // The first line must reach the callback before the tool ends, not be buffered to the end:
  // the tool only ends once it sees a file the callback creates.
  TempDir dir;
  fs::path flag = dir.path / "seen";
  ToolCommand c =
      sh("echo first; i=0; while [ ! -e seen ] && [ $i -lt 300 ]; do sleep 0.1; "
         "i=$((i+1)); done; echo second",
         dir.path);
  std::vector<std::string> lines;
  ToolResult result = run_tool(
      c,
      [&](std::string_view line) {
        lines.emplace_back(line);
        if (line == "first") std::ofstream(flag) << "x";
      },
      nullptr);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second"}));
}

TEST(ToolRun, CrLfEndingsLoseOneCarriageReturn) {
  Outcome r = run_sh("printf 'a\\r\\nb\\r\\r\\nc\\rd\\n\\r\\n'");
  EXPECT_EQ(r.out, (std::vector<std::string>{"a", "b\r", "c\rd", ""}));
}

TEST(ToolRun, FinalLineWithoutNewlineIsDelivered) {
  Outcome r = run_sh("printf 'x\\ny'; printf 'last\\r' >&2");
  EXPECT_EQ(r.out, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r.err, (std::vector<std::string>{"last"}));
  EXPECT_EQ(r.result.output_text, "x\ny");
  EXPECT_EQ(r.result.error_text, "last");
}

TEST(ToolRun, EmptyOutputGivesNoLines) {
  Outcome r = run_sh("true");
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.err.empty());
  EXPECT_EQ(r.result.output_text, "");
}

TEST(ToolRun, Utf8SplitAcrossWritesArrivesWhole) {
  // "€" is E2 82 AC; the pause makes the two halves arrive in separate reads.
  Outcome r = run_sh(
      "printf 'price \\342\\202'; sleep 0.3; printf '\\254 5\\n'; "
      "printf '\\360\\237' >&2; sleep 0.3; printf '\\230\\200\\n' >&2");
  EXPECT_EQ(r.out, (std::vector<std::string>{"price \xE2\x82\xAC 5"}));
  EXPECT_EQ(r.err, (std::vector<std::string>{"\xF0\x9F\x98\x80"}));
  EXPECT_TRUE(r.all_valid);
}

TEST(ToolRun, InvalidUtf8BecomesReplacementCharacter) {
  Outcome r = run_sh(
      "printf 'a\\377b\\n'"            // a byte that never occurs in UTF-8
      "; printf '\\342\\202\\n'"       // a sequence cut short by the newline
      "; printf '\\300\\257\\n'"       // an overlong '/'
      "; printf '\\355\\240\\200\\n'"  // a UTF-16 surrogate
      "; printf 'z\\200\\n'"           // a lone continuation byte
      "; printf 'ok \\303\\251\\n'"    // valid: é
      "; printf 'end\\342\\202'");     // cut short by the end of the stream
  std::string f(kFffd);
  EXPECT_EQ(r.out, (std::vector<std::string>{"a" + f + "b", f, f + f, f + f + f, "z" + f,
                                             "ok \xC3\xA9", "end" + f}));
  EXPECT_TRUE(r.all_valid);
}

TEST(ToolRun, ExitCodeAndSignal) {
  EXPECT_EQ(run_sh("exit 7").result.exit_code, 7);
  EXPECT_EQ(run_sh("kill -KILL $$").result.exit_code, -SIGKILL);
  EXPECT_EQ(run_sh("kill -TERM $$").result.exit_code, -SIGTERM);
}

TEST(ToolRun, WorkingDirectoryIsHonoured) {
  TempDir dir;
  Outcome r = run(sh("pwd -P", dir.path));
  EXPECT_EQ(r.out, (std::vector<std::string>{fs::canonical(dir.path).string()}));
}

TEST(ToolRun, StdinIsClosed) {
  // A tool that asks a question must read EOF instead of waiting for our stdin.
  Outcome r = run_sh("if read -r x; then echo \"read: $x\"; else echo eof; fi");
  EXPECT_EQ(r.out, (std::vector<std::string>{"eof"}));
}

TEST(ToolRun, UnstartableCommandThrowsBuildException) {
  ToolCommand c;
  c.argv = {"/nonexistent/appose-no-such-tool", "install"};
  c.cwd = fs::temp_directory_path();
  try {
    run_tool(c, nullptr, nullptr);
    FAIL() << "run_tool should have thrown";
  } catch (const BuildException& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/appose-no-such-tool"), std::string::npos)
        << e.what();
  }
  ToolCommand missing_dir = sh("true", "/nonexistent/appose-no-such-dir");
  EXPECT_THROW(run_tool(missing_dir, nullptr, nullptr), BuildException);
  ToolCommand no_dir = sh("true", fs::path());
  EXPECT_THROW(run_tool(no_dir, nullptr, nullptr), BuildException);
  ToolCommand empty;
  empty.cwd = fs::temp_directory_path();
  EXPECT_THROW(run_tool(empty, nullptr, nullptr), BuildException);
}

// ---------------------------------------------------------------------------------------------
// Caps

TEST(ToolCaps, LongLineIsTruncatedAtOneMebibyte) {
  Outcome r = run_sh("head -c 3145728 /dev/zero | tr '\\000' a; echo; echo after");
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[0].size(), kMaxLine + kMarker.size());
  EXPECT_EQ(r.out[0].find_first_not_of('a'), kMaxLine);
  EXPECT_EQ(std::string_view(r.out[0]).substr(kMaxLine), kMarker);
  EXPECT_EQ(r.out[1], "after");
  EXPECT_LE(r.result.output_text.size(), std::size_t{64} << 10);
  // The tail keeps the end of the long line rather than only "after".
  EXPECT_GT(r.result.output_text.size(), std::size_t{32} << 10);
  EXPECT_TRUE(r.result.output_text.ends_with("aaa" + std::string(kMarker) + "\nafter"));
  EXPECT_TRUE(r.all_valid);
}

TEST(ToolCaps, TruncationNeverSplitsACharacter) {
  // One byte short of the cap, then a 3-byte "€": it does not fit and must not be cut.
  Outcome r =
      run_sh("head -c 1048575 /dev/zero | tr '\\000' a; printf '\\342\\202\\254tail\\nnext\\n'");
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[0], std::string(kMaxLine - 1, 'a') + std::string(kMarker));
  EXPECT_EQ(r.out[1], "next");
  EXPECT_TRUE(r.all_valid);
}

TEST(ToolCaps, LineOfExactlyTheCapIsKept) {
  Outcome r = run_sh("head -c 1048576 /dev/zero | tr '\\000' b; printf '\\r\\n'");
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0], std::string(kMaxLine, 'b'));
}

/// Peak resident memory of this process, from /proc/self/status (macOS: getrusage, whose
/// ru_maxrss is in bytes there).
long peak_rss_kib() {
#ifdef __APPLE__
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return static_cast<long>(usage.ru_maxrss / 1024);
#else
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(4096, '\n');
  }
  return -1;
#endif
}

TEST(ToolCaps, MemoryStaysBoundedForAHugeLine) {
  // 128 MiB in one line: holding it would raise the peak by at least that much.
  long before = peak_rss_kib();
  ASSERT_GT(before, 0);
  std::size_t lines = 0, longest = 0;
  ToolResult result = run_tool(
      sh("head -c 134217728 /dev/zero | tr '\\000' z; echo; echo done"),
      [&](std::string_view line) {
        ++lines;
        longest = std::max(longest, line.size());
      },
      nullptr);
  long after = peak_rss_kib();
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(lines, 2u);
  EXPECT_EQ(longest, kMaxLine + kMarker.size());
  EXPECT_LT(after - before, 48L * 1024)
      << "peak RSS grew from " << before << " to " << after << " KiB";
}

TEST(ToolCaps, ErrorTextHoldsTheTail) {
  // About 200 KiB of stderr: only the last 64 KiB stay, cut at a line start.
  Outcome r = run_sh(
      "i=0; while [ $i -lt 12000 ]; do echo \"line $i of the error\" >&2; "
      "i=$((i+1)); done; echo 'final words' >&2; echo out");
  const std::string& text = r.result.error_text;
  EXPECT_LE(text.size(), std::size_t{64} << 10);
  EXPECT_GT(text.size(), std::size_t{60} << 10);
  EXPECT_TRUE(text.ends_with("line 11999 of the error\nfinal words")) << text.substr(0, 100);
  EXPECT_TRUE(text.starts_with("line ")) << text.substr(0, 100);
  // Consecutive whole lines from wherever it starts.
  int first = std::stoi(text.substr(5));
  std::string expected;
  for (int i = first; i < 12000; ++i)
    expected += "line " + std::to_string(i) + " of the error\n";
  expected += "final words";
  EXPECT_EQ(text, expected);
  EXPECT_EQ(r.result.output_text, "out");
  EXPECT_EQ(r.err.size(), 12001u);
}

TEST(ToolCaps, ErrorTextCutInsideALineKeepsCharactersWhole) {
  // 100 KiB of 3-byte characters on one line: the 64 KiB cut falls inside the line and must
  // land on a character boundary whatever the offset.
  for (const char* prefix : {"", "x", "xy"}) {
    Outcome r = run_sh(std::string("printf '") + prefix +
                       "'>&2; i=0; while [ $i -lt 1000 ]; do printf '%s' "
                       "'\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254\342\202\254"
                       "\342\202\254\342\202\254\342\202\254\342\202\254' >&2; "
                       "i=$((i+1)); done; echo >&2");
    ASSERT_EQ(r.err.size(), 1u);
    EXPECT_EQ(r.err[0].size(), std::strlen(prefix) + 1000u * 34u * 3u);
    const std::string& text = r.result.error_text;
    EXPECT_LE(text.size(), std::size_t{64} << 10);
    EXPECT_GT(text.size(), std::size_t{63} << 10);
    EXPECT_TRUE(valid_utf8(text)) << "prefix '" << prefix << "'";
    EXPECT_TRUE(r.all_valid);
  }
}

// ---------------------------------------------------------------------------------------------
// Stopping

TEST(ToolStop, CancelFromAnotherThreadKillsTheGroup) {
  CancelState cancel;
  std::promise<pid_t> grandchild_promise;
  std::future<pid_t> grandchild = grandchild_promise.get_future();
  Clock::time_point canceled_at;
  std::thread canceller([&] {
    if (grandchild.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return;
    canceled_at = Clock::now();
    cancel.cancel();
    cancel.cancel();  // idempotent
  });

  ToolCommand c = sh("sleep 30 & echo $!; sleep 30");
  std::optional<ExitWatch> grandchild_watch;
  bool promised = false;
  ToolResult result = run_tool(
      c,
      [&](std::string_view line) {
        if (promised) return;
        pid_t pid = static_cast<pid_t>(std::stol(std::string(line)));
        grandchild_watch.emplace(pid);  // before cancel: the pid cannot be reused yet
        promised = true;
        grandchild_promise.set_value(pid);
      },
      nullptr, &cancel, milliseconds(10000));
  const auto returned_at = Clock::now();
  canceller.join();

  ASSERT_TRUE(promised);
  EXPECT_TRUE(result.canceled);
  EXPECT_TRUE(cancel.canceled());
  EXPECT_EQ(result.exit_code, -SIGTERM);
  EXPECT_LT(returned_at - canceled_at, milliseconds(10000)) << "waited for the SIGKILL grace";
  ASSERT_TRUE(grandchild_watch && grandchild_watch->opened()) << "watching the grandchild failed";
  EXPECT_TRUE(grandchild_watch->exited_within(milliseconds(5000))) << "the grandchild survived";
}

TEST(ToolStop, CancelAlsoKillsADescendantIgnoringSigterm) {
  // The grandchild ignores SIGTERM and does not hold the pipes: the run ends when its parent
  // dies, and the grandchild must not be left working in the environment.
  CancelState cancel;
  std::optional<ExitWatch> grandchild;
  ToolResult result = run_tool(
      sh("(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $!; sleep 30"),
      [&](std::string_view line) {
        grandchild.emplace(std::stol(std::string(line)));
        cancel.cancel();  // from the calling thread: also allowed
      },
      nullptr, &cancel, milliseconds(10000));
  EXPECT_TRUE(result.canceled);
  EXPECT_EQ(result.exit_code, -SIGTERM);
  ASSERT_TRUE(grandchild && grandchild->opened()) << "watching the grandchild failed";
  EXPECT_TRUE(grandchild->exited_within(milliseconds(5000))) << "the grandchild survived";
}

TEST(ToolStop, CancelBeforeStartStopsAtOnce) {
  CancelState cancel;
  cancel.cancel();
  auto start = Clock::now();
  Outcome r = run(sh("sleep 30"), &cancel, milliseconds(10000));
  EXPECT_TRUE(r.result.canceled);
  EXPECT_LT(Clock::now() - start, milliseconds(10000));
}

TEST(ToolStop, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  CancelState cancel;
  std::thread canceller;
  const milliseconds grace(300);
  Clock::time_point canceled_at;
  Outcome r;
  ToolResult result = run_tool(
      sh("trap '' TERM; echo ready; sleep 30; echo survived"),
      [&](std::string_view line) {
        r.out.emplace_back(line);
        if (line == "ready") {
          canceller = std::thread([&] {
            canceled_at = Clock::now();
            cancel.cancel();
          });
        }
      },
      nullptr, &cancel, grace);
  const auto returned_at = Clock::now();
  ASSERT_TRUE(canceller.joinable());
  canceller.join();
  EXPECT_TRUE(result.canceled);
  EXPECT_EQ(result.exit_code, -SIGKILL);
  EXPECT_EQ(r.out, (std::vector<std::string>{"ready"}));
  EXPECT_GE(returned_at - canceled_at, grace) << "SIGKILL came before the grace ended";
  EXPECT_LT(returned_at - canceled_at, milliseconds(20000));
}

TEST(ToolStop, GrandchildHoldingThePipesDoesNotHang) {
  // The child exits at once; the background sleep inherited stdout and stderr.
  auto start = Clock::now();
  std::vector<std::string> out;
  std::optional<ExitWatch> grandchild;
  ToolResult result = run_tool(
      sh("sleep 30 & echo $!; echo done; exit 3"),
      [&](std::string_view line) {
        if (out.empty()) grandchild.emplace(std::stol(std::string(line)));
        out.emplace_back(line);
      },
      nullptr);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_FALSE(result.canceled);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], "done");
  EXPECT_LT(elapsed, milliseconds(15000)) << "run_tool waited for the grandchild";
  ASSERT_TRUE(grandchild && grandchild->opened()) << "watching the grandchild failed";
  EXPECT_TRUE(grandchild->exited_within(milliseconds(5000))) << "the leftover was not killed";
}

TEST(ToolStop, DescendantOutsideTheGroupDoesNotHang) {
  // setsid takes the holder out of the group: killpg cannot reach it, run_tool ends anyway.
  if (!fs::exists("/usr/bin/setsid") && !fs::exists("/bin/setsid")) GTEST_SKIP() << "no setsid";
  auto start = Clock::now();
  std::vector<std::string> out;
  ToolResult result = run_tool(
      sh("setsid sleep 30 & echo $!; exit 0"),
      [&](std::string_view line) { out.emplace_back(line); }, nullptr);
  auto elapsed = Clock::now() - start;
  ASSERT_EQ(out.size(), 1u);
  ::kill(static_cast<pid_t>(std::stol(out[0])), SIGKILL);  // our own leftover
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_LT(elapsed, milliseconds(15000));
}

TEST(ToolStop, ChildClosingItsPipesIsStillWaitedFor) {
  // EOF on both pipes is not the end: the exit code comes when the child exits.
  Outcome r = run_sh("echo hi; exec >/dev/null 2>&1; sleep 0.5; exit 4");
  EXPECT_EQ(r.out, (std::vector<std::string>{"hi"}));
  EXPECT_EQ(r.result.exit_code, 4);
}

TEST(ToolStop, ThrowingCallbackKillsTheChildAndRethrows) {
  pid_t child = -1;
  std::optional<ExitWatch> grandchild;
  auto start = Clock::now();
  try {
    run_tool(
        sh("sleep 30 & echo $!; echo $$; sleep 30"),
        [&](std::string_view line) {
          if (!grandchild) {
            grandchild.emplace(std::stol(std::string(line)));
            return;
          }
          child = static_cast<pid_t>(std::stol(std::string(line)));
          throw std::runtime_error("callback failed");
        },
        nullptr);
    FAIL() << "the callback's exception was swallowed";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "callback failed");
  }
  EXPECT_LT(Clock::now() - start, milliseconds(15000));
  ASSERT_GT(child, 0);
  // Reaped by run_tool: the pid is gone, not even a zombie.
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  ASSERT_TRUE(grandchild && grandchild->opened()) << "watching the grandchild failed";
  EXPECT_TRUE(grandchild->exited_within(milliseconds(5000))) << "the grandchild survived";
}

TEST(ToolStop, CancelStateWakesPoll) {
  CancelState cancel;
  EXPECT_FALSE(cancel.canceled());
  pollfd pfd{static_cast<int>(cancel.event().native_handle()), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0);
  cancel.cancel();
  cancel.cancel();
  EXPECT_TRUE(cancel.canceled());
  EXPECT_EQ(::poll(&pfd, 1, 0), 1);
}

// ---------------------------------------------------------------------------------------------
// Environment

TEST(ToolEnvironment, UnsetsActivationVariables) {
  ScopedEnv conda("CONDA_PREFIX", "/opt/conda/envs/x");
  ScopedEnv venv("VIRTUAL_ENV", "/home/u/.venv");
  ScopedEnv pixi("PIXI_PROJECT_MANIFEST", "/p/pixi.toml");
  ScopedEnv mamba("MAMBA_ROOT_PREFIX", "/m");
  ScopedEnv condarc("CONDARC", "/c/.condarc");
  ScopedEnv pypath("PYTHONPATH", "/py");
  ScopedEnv unrelated("APPOSE_TOOL_TEST_CONDA_LIKE", "kept");

  auto env = tool_environment({});
  for (const char* name : {"CONDA_PREFIX", "VIRTUAL_ENV", "PIXI_PROJECT_MANIFEST",
                           "MAMBA_ROOT_PREFIX", "CONDARC", "PYTHONPATH"}) {
    ASSERT_EQ(env.count(name), 1u) << name;
    EXPECT_FALSE(env.at(name).has_value()) << name;
  }
  EXPECT_EQ(env.count("PATH"), 0u);
  EXPECT_EQ(env.count("APPOSE_TOOL_TEST_CONDA_LIKE"), 0u);

  auto with_builder = tool_environment({{"CONDA_PREFIX", "/mine"}, {"FOO", "bar"}});
  EXPECT_EQ(with_builder.at("CONDA_PREFIX"), std::optional<std::string>("/mine"));
  EXPECT_EQ(with_builder.at("FOO"), std::optional<std::string>("bar"));
  EXPECT_FALSE(with_builder.at("VIRTUAL_ENV").has_value());
}

TEST(ToolEnvironment, ToolsSeeTheCleanedEnvironment) {
  ScopedEnv conda("CONDA_PREFIX", "/opt/conda/envs/x");
  ScopedEnv venv("VIRTUAL_ENV", "/home/u/.venv");
  ScopedEnv pixi("PIXI_PROJECT_MANIFEST", "/p/pixi.toml");
  ToolCommand c =
      sh("echo \"${CONDA_PREFIX-unset} ${VIRTUAL_ENV-unset} ${PIXI_PROJECT_MANIFEST-unset} "
         "${UV_CACHE_DIR-unset}\"; [ -n \"$PATH\" ] && echo path");
  c.env["UV_CACHE_DIR"] = "/cache";
  c.env["VIRTUAL_ENV"] = "/builder/venv";
  Outcome r = run(c);
  EXPECT_EQ(r.out, (std::vector<std::string>{"unset /builder/venv unset /cache", "path"}));
}

// ---------------------------------------------------------------------------------------------
// Lookup

TEST(ToolLookup, NamesVariablesAndCachePaths) {
  EXPECT_STREQ(tool_name(ToolKind::pixi), "pixi");
  EXPECT_STREQ(tool_name(ToolKind::uv), "uv");
  EXPECT_STREQ(tool_name(ToolKind::micromamba), "micromamba");
  EXPECT_STREQ(tool_env_var(ToolKind::pixi), "APPOSE_PIXI");
  EXPECT_STREQ(tool_env_var(ToolKind::uv), "APPOSE_UV");
  EXPECT_STREQ(tool_env_var(ToolKind::micromamba), "APPOSE_MICROMAMBA");
  EXPECT_EQ(tool_cache_path(ToolKind::pixi, "/r"), fs::path("/r/.pixi/bin/pixi"));
  EXPECT_EQ(tool_cache_path(ToolKind::uv, "/r"), fs::path("/r/.uv/bin/uv"));
  EXPECT_EQ(tool_cache_path(ToolKind::micromamba, "/r"), fs::path("/r/.mamba/bin/micromamba"));
}

TEST(ToolLookup, ExplicitThenVariableThenCacheThenPath) {
  TempDir dir;
  const fs::path root = dir.path / "root";
  const fs::path explicit_exe = dir.path / "explicit" / "uv";
  const fs::path env_exe = dir.path / "env" / "uv";
  const fs::path cache_exe = tool_cache_path(ToolKind::uv, root);
  const fs::path path_dir = dir.path / "pathdir";
  const fs::path path_exe = path_dir / "uv";
  for (const auto& p : {explicit_exe, env_exe, cache_exe, path_exe})
    write_file(p, "#!/bin/sh\nexit 0\n", true);
  fs::create_directories(dir.path / "empty");

  const std::string path_value = (dir.path / "empty").string() + ":" + path_dir.string();
  ScopedEnv path("PATH", path_value.c_str());
  {
    ScopedEnv var("APPOSE_UV", env_exe.c_str());
    EXPECT_EQ(locate_tool(ToolKind::uv, explicit_exe, root), explicit_exe);
    EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), env_exe);
  }
  {
    ScopedEnv var("APPOSE_UV", "");  // empty: as if unset
    EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), cache_exe);
  }
  ScopedEnv var("APPOSE_UV", std::nullopt);
  EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), cache_exe);

  // A cache entry that is not executable is skipped, not an error.
  fs::permissions(cache_exe, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), path_exe);
  fs::remove(cache_exe);
  EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), path_exe);

  // Same on PATH: a non-executable entry earlier on PATH is passed over.
  write_file(dir.path / "empty" / "uv", "not a program", false);
  EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), path_exe);

  fs::remove(path_exe);
  EXPECT_EQ(locate_tool(ToolKind::uv, std::nullopt, root), std::nullopt);
  // Another kind does not pick up uv's files.
  write_file(path_exe, "#!/bin/sh\n", true);
  ScopedEnv pixi_var("APPOSE_PIXI", std::nullopt);
  EXPECT_EQ(locate_tool(ToolKind::pixi, std::nullopt, root), std::nullopt);
}

TEST(ToolLookup, RelativeExplicitPathBecomesAbsolute) {
  TempDir dir;
  write_file(dir.path / "tool" / "pixi", "#!/bin/sh\n", true);
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  auto found = locate_tool(ToolKind::pixi, fs::path("tool/pixi"), dir.path / "root");
  fs::current_path(old);
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->is_absolute()) << *found;
  EXPECT_EQ(*found, dir.path / "tool" / "pixi");
}

/// The message of the BuildException `f` throws, or "" if it throws none.
template <typename F>
std::string build_error(F f) {
  try {
    f();
  } catch (const BuildException& e) {
    return e.what();
  }
  return "";
}

TEST(ToolLookup, BadExplicitOrVariablePathThrows) {
  TempDir dir;
  const fs::path root = dir.path / "root";
  // A working cache copy must not hide a broken setting.
  write_file(tool_cache_path(ToolKind::micromamba, root), "#!/bin/sh\n", true);
  const fs::path missing = dir.path / "no-such-micromamba";
  const fs::path not_exec = dir.path / "plain" / "micromamba";
  write_file(not_exec, "data", false);
  ScopedEnv var("APPOSE_MICROMAMBA", std::nullopt);

  std::string msg = build_error([&] { locate_tool(ToolKind::micromamba, missing, root); });
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("micromamba"), std::string::npos) << msg;

  msg = build_error([&] { locate_tool(ToolKind::micromamba, not_exec, root); });
  EXPECT_NE(msg.find("not executable"), std::string::npos) << msg;

  msg = build_error([&] { locate_tool(ToolKind::micromamba, dir.path, root); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;

  msg = build_error([&] { locate_tool(ToolKind::micromamba, fs::path(), root); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;

  ScopedEnv bad("APPOSE_MICROMAMBA", missing.c_str());
  msg = build_error([&] { locate_tool(ToolKind::micromamba, std::nullopt, root); });
  EXPECT_NE(msg.find("APPOSE_MICROMAMBA"), std::string::npos) << msg;
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;
  // An explicit path wins over the broken variable.
  EXPECT_EQ(locate_tool(ToolKind::micromamba, tool_cache_path(ToolKind::micromamba, root), root),
            tool_cache_path(ToolKind::micromamba, root));
}

}  // namespace
}  // namespace appose::detail
