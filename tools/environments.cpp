// `appose build`, `appose list`, `appose remove` and `appose shm`.

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <appose/builder.hpp>
#include <appose/catalog.hpp>
#include <appose/error.hpp>
#include <appose/shared_memory.hpp>
#include <appose/value.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "console.hpp"
#include "signals.hpp"
#include "system.hpp"

namespace fs = std::filesystem;

namespace appose::cli {

namespace {

ExitCode usage_error(std::string_view message) {
  std::fputs(
      fmt::format("appose build: {}\nRun `appose build --help` for examples.\n", message).c_str(),
      stderr);
  return ExitCode::usage;
}

std::string yaml_quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

/// micromamba builds only from an environment.yml (MambaBuilder has no package list), so a
/// package list becomes one.
std::string environment_yml(const BuildOptions& o) {
  std::string yml = fmt::format("name: {}\nchannels:\n", yaml_quoted(o.name));
  if (o.channels.empty()) {
    yml += "  - conda-forge\n";
  } else {
    for (const auto& c : o.channels)
      yml += fmt::format("  - {}\n", yaml_quoted(c));
  }
  yml += "dependencies:\n";
  if (!o.python.empty()) yml += fmt::format("  - {}\n", yaml_quoted("python=" + o.python));
  for (const auto& p : o.conda)
    yml += fmt::format("  - {}\n", yaml_quoted(p));
  if (!o.pypi.empty()) {
    yml += "  - pip\n  - pip:\n";
    for (const auto& p : o.pypi)
      yml += fmt::format("    - {}\n", yaml_quoted(p));
  }
  return yml;
}

/// Runs the build with a progress display and Ctrl-C handling; returns the exit code.
template <class B>
ExitCode run_build(B& builder, const BuildOptions& o) {
  if (o.name.empty() && o.base.empty()) {
    (void)builder.env_type();  // a FILE of no known format is reported as such, not here
    try {
      (void)builder.env_dir();
    } catch (const appose::BuildException&) {
      // The library's words are for C++ callers (name(), base()); say it in options.
      return usage_error(fmt::format(
          "{} does not name the environment (requirements.txt never does): pass --name NAME to "
          "build in {}, or --base DIR to build in DIR",
          o.file, utf8_string(appose::envs_dir() / "NAME")));
    }
  }
  Console console(stdout, !o.quiet);
  builder.subscribe_progress(
      [&console](std::string_view title, std::int64_t current, std::int64_t maximum) {
        console.progress(title, current, maximum);
      });
  if (o.verbose) {
    auto print = [&console](std::string_view line) { console.line(stderr, line); };
    builder.subscribe_output(print).subscribe_error(print);
  }

  std::atomic<bool> canceled{false};
  const Builder& running = builder;
  SignalWatcher watcher([&](int signo, int interrupts) {
    if (interrupts >= 2) {
      // The first interrupt already killed the tool's process group; the user wants out now.
      console.line(stderr, "appose: interrupted");
      std::_Exit(static_cast<int>(ExitCode::interrupted));
    }
    if (!canceled.exchange(true)) {
      console.line(stderr, signo == SIGINT
                               ? "appose: canceling the build (Ctrl-C again to quit at once)"
                               : "appose: canceling the build");
      running.cancel();
    }
  });

  try {
    const bool up_to_date = !o.rebuild && builder.is_up_to_date();
    appose::Environment env = o.rebuild ? builder.rebuild() : builder.build();
    console.finish();
    if (up_to_date) {
      std::fputs(fmt::format("{} is up to date ({})\n", env.base(), env.type()).c_str(), stdout);
    } else {
      std::fputs(fmt::format("Built {} environment in {}\n", env.type(), env.base()).c_str(),
                 stdout);
    }
    return ExitCode::ok;
  } catch (const std::exception& e) {
    console.finish();
    if (canceled) {
      std::fputs("appose: build canceled\n", stderr);
      return ExitCode::interrupted;
    }
    return report_failure(e);
  }
}

template <class B>
void configure(B& builder, const BuildOptions& o) {
  if (!o.name.empty()) builder.name(o.name);
  if (!o.base.empty()) builder.base(fs::absolute(utf8_path(o.base)));
}

std::string iso_utc(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  const std::tm tm = fmt::gmtime(secs);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string local_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  const std::tm tm = fmt::localtime(secs);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M", &tm);
  return buf.data();
}

}  // namespace

ExitCode build_command(const BuildOptions& o) {
  block_interrupts();
  const int kinds = static_cast<int>(o.pixi) + static_cast<int>(o.mamba) + static_cast<int>(o.uv);
  const bool packages = !o.conda.empty() || !o.pypi.empty();
  if (kinds > 1) return usage_error("choose one builder: --pixi, --mamba or --uv");
  if (o.file.empty() && kinds == 0) {
    return usage_error(
        "give a configuration FILE, or a builder (--pixi, --mamba, --uv) "
        "with packages (--conda, --pypi)");
  }
  if (!o.file.empty() && (packages || !o.python.empty())) {
    return usage_error(
        "--conda, --pypi and --python describe a package list; a FILE lists "
        "its own packages");
  }
  if (o.file.empty() && o.name.empty() && o.base.empty()) {
    return usage_error("a package list needs --name N (or --base DIR) to say where to build");
  }
  if (o.uv && !o.conda.empty()) {
    return usage_error(
        "uv installs PyPI packages only: use --pypi, or --pixi/--mamba for "
        "conda packages");
  }
  if (o.mamba && !o.file.empty() && !o.channels.empty()) {
    return usage_error("micromamba takes its channels from the file: list them there");
  }

  try {
    // A URL is the library's to fetch and report; a path that is not there is not_found.
    if (!o.file.empty() && o.file.find("://") == std::string::npos) {
      std::error_code ec;
      if (!fs::exists(utf8_path(o.file), ec)) {
        throw NotFound(fmt::format("no configuration file {}",
                                   utf8_string(fs::absolute(utf8_path(o.file), ec))));
      }
    }
    if (o.pixi) {
      appose::PixiBuilder b = o.file.empty() ? appose::pixi() : appose::pixi(utf8_path(o.file));
      configure(b, o);
      if (!o.channels.empty()) b.channels(o.channels);
      std::vector<std::string> conda = o.conda;
      if (!o.python.empty()) conda.insert(conda.begin(), "python=" + o.python);
      if (!conda.empty()) b.conda(conda);
      if (!o.pypi.empty()) b.pypi(o.pypi);
      return run_build(b, o);
    }
    if (o.mamba) {
      appose::MambaBuilder b = appose::mamba();
      if (o.file.empty()) {
        b.content(environment_yml(o)).scheme("environment.yml");
      } else {
        b = appose::mamba(utf8_path(o.file));
      }
      configure(b, o);
      return run_build(b, o);
    }
    if (o.uv) {
      appose::UvBuilder b = o.file.empty() ? appose::uv() : appose::uv(utf8_path(o.file));
      configure(b, o);
      if (!o.channels.empty()) b.channels(o.channels);  // refused by the library, with a reason
      if (!o.python.empty()) b.python(o.python);
      if (!o.pypi.empty()) b.include(o.pypi);
      return run_build(b, o);
    }
    appose::DynamicBuilder b = appose::file(utf8_path(o.file));
    configure(b, o);
    if (!o.channels.empty()) b.channels(o.channels);
    return run_build(b, o);
  } catch (const std::exception& e) {
    // Reading or validating the file, before any tool runs.
    return report_failure(e);
  }
}

ExitCode list_command(const ListOptions& o) {
  const fs::path root = appose::envs_dir();
  std::vector<appose::EnvironmentInfo> envs;
  try {
    envs = appose::list_environments(root);
  } catch (const std::exception& e) {
    return report_failure(e);
  }

  if (o.json) {
    appose::Json out = appose::Json::array();
    for (const auto& env : envs) {
      appose::Json item;
      item["name"] = env.name;
      item["path"] = utf8_string(env.path);
      item["kind"] = env.type;
      item["size_bytes"] = env.size_bytes;
      item["size"] = human_size(env.size_bytes);
      item["built"] = env.built ? appose::Json(iso_utc(*env.built)) : appose::Json(nullptr);
      item["state"] = appose::to_string(env.state);
      item["builder"] = env.builder ? appose::Json(*env.builder) : appose::Json(nullptr);
      out.push_back(std::move(item));
    }
    std::fputs((out.dump(2) + "\n").c_str(), stdout);
    return ExitCode::ok;
  }

  if (envs.empty()) {
    std::fputs(fmt::format("No environments in {}\n", utf8_string(root)).c_str(), stdout);
    return ExitCode::ok;
  }
  struct Row {
    std::string name, kind, size, built, state;
  };
  std::vector<Row> rows{{"NAME", "KIND", "SIZE", "BUILT", "STATE"}};
  for (const auto& env : envs) {
    rows.push_back({env.name, env.type, human_size(env.size_bytes),
                    env.built ? local_time(*env.built) : "-", appose::to_string(env.state)});
  }
  std::size_t w_name = 0, w_kind = 0, w_size = 0, w_built = 0;
  for (const auto& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_kind = std::max(w_kind, r.kind.size());
    w_size = std::max(w_size, r.size.size());
    w_built = std::max(w_built, r.built.size());
  }
  std::string out = fmt::format("Environments in {}:\n", utf8_string(root));
  for (const auto& r : rows) {
    out += fmt::format("{:<{}}  {:<{}}  {:>{}}  {:<{}}  {}\n", r.name, w_name, r.kind, w_kind,
                       r.size, w_size, r.built, w_built, r.state);
  }
  std::fputs(out.c_str(), stdout);
  return ExitCode::ok;
}

ExitCode remove_command(const RemoveOptions& o) {
  try {
    fs::path dir = resolve_env(o.env);
    appose::wrap(dir).remove();
    std::fputs(fmt::format("Removed {}\n", utf8_string(dir)).c_str(), stdout);
    return ExitCode::ok;
  } catch (const NotFound& e) {
    return report_failure(e);
  } catch (const std::exception& e) {
    // A refusal (the library's BuildException) is not a failed build.
    report_error(e.what());
    return ExitCode::failure;
  }
}

ExitCode shm_command(const std::string& action, bool json) {
  try {
    if (action == "clean") {
      const std::vector<std::string> reclaimed = appose::reclaim_orphaned_blocks();
      if (json) {
        std::fputs((nlohmann::json{{"reclaimed", reclaimed}}.dump() + "\n").c_str(), stdout);
      } else if (reclaimed.empty()) {
        std::fputs("No orphaned blocks.\n", stdout);
      } else {
        for (const auto& name : reclaimed)
          std::fputs(fmt::format("unlinked {}\n", name).c_str(), stdout);
        std::fputs(
            fmt::format("Reclaimed {} block(s) whose owner had died.\n", reclaimed.size()).c_str(),
            stdout);
      }
      return ExitCode::ok;
    }
    const std::vector<appose::OwnedBlock> blocks = appose::owned_blocks();
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& b : blocks) {
        out.push_back({{"name", b.name}, {"pid", b.pid}, {"owner_alive", b.owner_alive}});
      }
      std::fputs((out.dump() + "\n").c_str(), stdout);
      return ExitCode::ok;
    }
    if (blocks.empty()) {
      std::fputs("No blocks owned by appose-cpp processes.\n", stdout);
      return ExitCode::ok;
    }
    std::fputs(fmt::format("{:<24} {:>8}  {}\n", "NAME", "PID", "OWNER").c_str(), stdout);
    for (const auto& b : blocks) {
      std::fputs(fmt::format("{:<24} {:>8}  {}\n", b.name, b.pid,
                             b.owner_alive ? "running" : "dead (appose shm clean reclaims it)")
                     .c_str(),
                 stdout);
    }
    return ExitCode::ok;
  } catch (const std::exception& e) {
    return report_failure(e);
  }
}

}  // namespace appose::cli
