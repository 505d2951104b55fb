// `appose doctor`: what this machine has for Appose, and what to do about what it lacks.

#include <fmt/format.h>

#include <algorithm>
#include <appose/builder.hpp>
#include <appose/catalog.hpp>
#include <appose/environment.hpp>
#include <appose/error.hpp>
#include <appose/service.hpp>
#include <appose/shared_memory.hpp>
#include <appose/value.hpp>
#include <appose/version.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "console.hpp"
#include "system.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace appose::cli {

namespace {

constexpr std::string_view kAppose = "import appose; print(appose.__version__)";
/// Less free space than this in /dev/shm makes large arrays fail.
constexpr std::uintmax_t kLowShm = 64ULL << 20U;

struct Check {
  std::string name;
  std::string status;  // "ok", "warn" or "fail"
  bool essential = false;
  std::string detail;
  std::string fix;
};

/// What a short-lived process printed. The processes run as appose Services (a Service runs
/// any command, in its own process group, and collects its stdout and stderr lines), so that a
/// hung tool is killed with everything it started.
struct Captured {
  bool timed_out = false;
  int exit_code = -1;
  std::vector<std::string> out;
  std::vector<std::string> err;
  std::string failure;  // it could not be started

  [[nodiscard]] bool ok() const { return failure.empty() && !timed_out && exit_code == 0; }
  /// The first non-empty line of stdout, else of stderr.
  [[nodiscard]] std::string first_line() const {
    for (const auto* lines : {&out, &err}) {
      for (const auto& l : *lines)
        if (!l.empty()) return l;
    }
    return {};
  }
  [[nodiscard]] std::string why() const {
    if (!failure.empty()) return failure;
    if (timed_out) return "no answer in time (killed)";
    std::string last = err.empty() ? (out.empty() ? "" : out.back()) : err.back();
    return fmt::format("exit code {}{}{}", exit_code, last.empty() ? "" : ": ", last);
  }
};

void start(appose::Service& service, Captured& result) {
  try {
    service.start();
    service.close();  // nothing to read: a tool waiting for stdin gets EOF at once
  } catch (const std::exception& e) {
    result.failure = e.what();
  }
}

void collect(appose::Service& service, Captured& result,
             std::chrono::steady_clock::time_point deadline) {
  if (!result.failure.empty()) return;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  std::optional<int> code = service.wait_for(std::max(left, std::chrono::milliseconds(0)));
  if (!code) {
    result.timed_out = true;
    service.kill();
    code = service.wait_for();
  }
  result.exit_code = *code;
  result.out = service.invalid_lines();
  result.err = service.error_lines();
}

Captured capture(std::vector<std::string> command, std::chrono::milliseconds timeout) {
  Captured result;
  try {
    appose::Service service(
        appose::ServiceConfig{std::move(command), "", {}, appose::WorkerKind::other});
    start(service, result);
    collect(service, result, std::chrono::steady_clock::now() + timeout);
  } catch (const std::exception& e) {
    result.failure = e.what();
  }
  return result;
}

struct ToolSpec {
  const char* name;
  const char* variable;
  const char* cache;  // under the environments root, where the peers install it
};

/// Where a builder's tool comes from, in the library's order (src/envbuild/tool.cpp, locate_tool):
/// $APPOSE_<TOOL>, the root's cache, PATH; and when none has it, the library downloads it into
/// the cache on the first build that needs it. So a missing tool is not a problem to fix by
/// hand; a broken one that would be used is.
Check check_tool(const ToolSpec& tool, const fs::path& root, std::chrono::milliseconds timeout) {
  Check c{tool.name, "warn", false, "", ""};
  std::optional<fs::path> path;
  std::string source;
  const std::optional<std::string> value = env_var(tool.variable);
  const fs::path cached = root / tool.cache;
  if (value && !value->empty()) {
    if (!runnable(utf8_path(*value))) {
      c.detail = fmt::format("${}={} is not an executable file: builds with {} fail", tool.variable,
                             *value, tool.name);
      c.fix = fmt::format(
          "point {} at the {} executable, or unset it (the first build then downloads {} into "
          "{})",
          tool.variable, tool.name, tool.name, cached.string());
      return c;
    }
    path = utf8_path(*value);
    source = fmt::format("${}", tool.variable);
  } else if (runnable(cached)) {
    path = cached;
    source = "the environments root";
  } else if (auto found = which(tool.name)) {
    path = *found;
    source = "PATH";
  }
  if (!path) {
    c.status = "ok";
    c.detail = fmt::format(
        "not installed: the first {0} build downloads it into {1} (to use another {0}, set ${2} "
        "or the builder's executable())",
        tool.name, cached.string(), tool.variable);
    return c;
  }
  Captured r = capture({path->string(), "--version"}, timeout);
  if (!r.ok()) {
    c.detail = fmt::format("{} (from {}) does not run: {}; builds with {} fail", path->string(),
                           source, r.why(), tool.name);
    c.fix =
        source == "the environments root"
            ? fmt::format(
                  "delete {} (the next build downloads it again), or set {} to a "
                  "working {}",
                  path->string(), tool.variable, tool.name)
            : fmt::format("set {} to a working {}, or fix the one found", tool.variable, tool.name);
    return c;
  }
  c.status = "ok";
  c.detail = fmt::format("{} ({}, from {})", r.first_line(), path->string(), source);
  return c;
}

Check check_root(const fs::path& root, std::size_t count) {
  Check c{"environments root", "ok", false, "", ""};
  std::error_code ec;
  fs::path existing = root;
  while (!existing.empty() && !fs::exists(existing, ec))
    existing = existing.parent_path();
  const bool writable = !existing.empty() && writable_dir(existing);
  if (fs::exists(root, ec)) {
    c.detail = fmt::format("{} ({} environment{})", root.string(), count, count == 1 ? "" : "s");
  } else {
    c.detail = fmt::format("{} (not there yet: the first build makes it)", root.string());
  }
  if (!writable) {
    c.status = "warn";
    c.detail += ", not writable";
    c.fix = "set APPOSE_ENVS_DIR to a writable directory (or use --root)";
  }
  return c;
}

Check check_shared_memory() {
  Check c{"shared memory", "ok", true, "", ""};
  try {
    constexpr std::size_t kSize = 4096;
    appose::SharedMemory mine = appose::SharedMemory::create(kSize);
    auto bytes = mine.bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::byte>(i * 7U);
    appose::SharedMemory theirs = appose::SharedMemory::attach(mine.name(), kSize);
    auto seen = theirs.bytes();
    if (!std::equal(bytes.begin(), bytes.end(), seen.begin(), seen.end())) {
      throw appose::Error("an attached block does not show what its creator wrote");
    }
    const std::string name = mine.name();
    theirs.close();
    mine.unlink();
    mine.close();
    bool gone = false;
    try {
      (void)appose::SharedMemory::attach(name);
    } catch (const appose::Error&) {
      gone = true;
    }
    if (!gone) throw appose::Error("block " + name + " is still there after unlink");
    c.detail = "create, attach and unlink of a 4 KiB block work";
  } catch (const std::exception& e) {
    c.status = "fail";
    c.detail = e.what();
    c.fix = "mount a writable tmpfs on /dev/shm (mount -t tmpfs -o size=2g tmpfs /dev/shm)";
  }
  return c;
}

Check check_shm_space() {
  std::string why;
  const std::optional<SharedMemorySpace> space = shared_memory_space(why);
  if (!space) {
    Check c{"/dev/shm space", "warn", false, why, ""};
    c.fix = "mount a tmpfs on /dev/shm";
    return c;
  }
  Check c{space->what, "ok", false, "", ""};
  if (!space->unchecked.empty()) {
    c.detail = "not measured: " + space->unchecked;
    return c;
  }
  c.detail = fmt::format("{} free of {}", human_size(space->free), human_size(space->total));
  if (space->free < kLowShm) {
    c.status = "warn";
    c.fix = space->grow_advice;
  }
  return c;
}

Check check_system_python(std::chrono::milliseconds timeout) {
  Check c{fmt::format("{} on PATH", kSystemPython), "warn", false, "", ""};
  auto python = which(kSystemPython);
  if (!python) {
    c.detail = fmt::format("no {} on PATH", kSystemPython);
    c.fix = "not needed for environments Appose builds; install Python 3 to use appose.system()";
    return c;
  }
  Captured r = capture({python->string(), "-c", std::string(kAppose)}, timeout);
  if (!r.ok()) {
    c.detail = fmt::format("{} has no appose package ({})", python->string(), r.why());
    c.fix = "pip install appose (only needed to run workers with the system Python)";
    return c;
  }
  c.status = "ok";
  c.detail = fmt::format("appose {} ({})", r.first_line(), python->string());
  return c;
}

std::vector<Check> check_environments(const std::vector<appose::EnvironmentInfo>& envs,
                                      std::chrono::milliseconds timeout) {
  // All at once: a pixi environment's launcher can take seconds to start.
  struct Probe {
    const appose::EnvironmentInfo* info;
    std::optional<appose::Service> service;
    Captured result;
  };
  std::vector<Probe> probes;
  for (const auto& env : envs) {
    Probe p{&env, std::nullopt, {}};
    try {
      p.service = appose::wrap(env.path).python({"-c", std::string(kAppose)});
      start(*p.service, p.result);
    } catch (const std::exception& e) {
      p.result.failure = e.what();
    }
    probes.push_back(std::move(p));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Check> checks;
  for (auto& p : probes) {
    if (p.service) collect(*p.service, p.result, deadline);
    Check c{fmt::format("python in {}", p.info->name), "ok", false, "", ""};
    if (p.result.ok()) {
      c.detail = fmt::format("appose {}", p.result.first_line());
    } else {
      c.status = "warn";
      c.detail = fmt::format("no working appose: {}", p.result.why());
      c.fix = p.info->state == appose::EnvironmentState::no_fingerprint
                  ? "install appose into it (Appose did not build it)"
                  : fmt::format("rebuild it: appose build <its file> --name {} --rebuild",
                                p.info->name);
    }
    checks.push_back(std::move(c));
  }
  return checks;
}

Check check_java(std::chrono::milliseconds timeout) {
  Check c{"java", "warn", false, "", ""};
  std::optional<fs::path> java;
  if (const std::optional<std::string> home = env_var("JAVA_HOME"); home && !home->empty()) {
    for (const char* name : {"java", "java.exe"}) {  // java.exe: Windows
      const fs::path exe = utf8_path(*home) / "bin" / name;
      if (!java && runnable(exe)) java = exe;
    }
  }
  if (!java) java = which("java");
  if (!java) {
    c.detail = "no java (JAVA_HOME unset or without bin/java, none on PATH)";
    c.fix = "needed for Groovy workers only: install a JDK 11+ (apt install default-jre-headless)";
    return c;
  }
  Captured r = capture({java->string(), "-version"}, timeout);
  if (!r.ok()) {
    c.detail = fmt::format("{} does not run: {}", java->string(), r.why());
    c.fix = "reinstall Java, or set JAVA_HOME to a working JDK";
    return c;
  }
  c.status = "ok";
  c.detail = fmt::format("{} ({})", r.first_line(), java->string());
  return c;
}

}  // namespace

ExitCode doctor_command(const DoctorOptions& o) {
  const auto timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(std::max(o.timeout_seconds, 0.1) * 1000));
  const fs::path root = appose::envs_dir();
  std::vector<appose::EnvironmentInfo> envs;
  try {
    envs = appose::list_environments(root);
  } catch (const std::exception&) {
    // Reported by the root check below as an empty root; the other checks still help.
  }

  std::vector<Check> checks;
  checks.push_back(check_root(root, envs.size()));
  // micromamba's archive is a conda package: its executable is in Library/bin on Windows.
#ifdef _WIN32
  const std::string mamba_cache = ".mamba/Library/bin/" + executable_name("micromamba");
#else
  const std::string mamba_cache = ".mamba/bin/micromamba";
#endif
  const std::string pixi_cache = ".pixi/bin/" + executable_name("pixi");
  const std::string uv_cache = ".uv/bin/" + executable_name("uv");
  const ToolSpec tools[] = {
      {"pixi", "APPOSE_PIXI", pixi_cache.c_str()},
      {"micromamba", "APPOSE_MICROMAMBA", mamba_cache.c_str()},
      {"uv", "APPOSE_UV", uv_cache.c_str()},
  };
  bool any_tool = false;
  for (const auto& tool : tools) {
    checks.push_back(check_tool(tool, root, timeout));
    // Found and running, or to be downloaded on first use.
    any_tool = any_tool || checks.back().status == "ok";
  }
  Check builders{"builders", "ok", true, "", ""};
  if (any_tool) {
    builders.detail =
        "`appose build` can build: each of pixi, micromamba, uv is found or downloaded on first "
        "use";
  } else {
    builders.status = "fail";
    builders.detail = "pixi, micromamba and uv are all set up but broken: `appose build` fails";
    builders.fix = "fix one of them as said above, or unset its variable to have it downloaded";
  }
  checks.push_back(builders);
  checks.push_back(check_shared_memory());
  checks.push_back(check_shm_space());
  checks.push_back(check_system_python(timeout));
  for (auto& c : check_environments(envs, timeout))
    checks.push_back(std::move(c));
  checks.push_back(check_java(timeout));

  const bool ok = std::none_of(checks.begin(), checks.end(),
                               [](const Check& c) { return c.essential && c.status != "ok"; });

  if (o.json) {
    appose::Json out;
    out["version"] = appose::version();
    out["root"] = root.string();
    out["ok"] = ok;
    out["checks"] = appose::Json::array();
    for (const auto& c : checks) {
      out["checks"].push_back(
          appose::Json{{"name", c.name},
                       {"status", c.status},
                       {"essential", c.essential},
                       {"detail", c.detail},
                       {"fix", c.fix.empty() ? appose::Json(nullptr) : appose::Json(c.fix)}});
    }
    std::fputs((out.dump(2) + "\n").c_str(), stdout);
    return ok ? ExitCode::ok : ExitCode::failure;
  }

  std::size_t width = 0;
  for (const auto& c : checks)
    width = std::max(width, c.name.size());
  std::string out = fmt::format("appose {} doctor\n", appose::version());
  for (const auto& c : checks) {
    std::string label = c.status == "ok" ? "OK" : c.status == "warn" ? "WARN" : "FAIL";
    out += fmt::format("{:<4}  {:<{}}  {}\n", label, c.name, width, c.detail);
    if (!c.fix.empty()) out += fmt::format("{:<4}  {:<{}}  fix: {}\n", "", "", width, c.fix);
  }
  out += ok ? "All essential checks passed.\n" : "Some essential checks failed (FAIL above).\n";
  std::fputs(out.c_str(), stdout);
  return ok ? ExitCode::ok : ExitCode::failure;
}

}  // namespace appose::cli
