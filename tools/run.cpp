// `appose run`: one script in a worker of an environment, with progress, outputs and Ctrl-C.

#include <fmt/format.h>

#include <appose/builder.hpp>
#include <appose/environment.hpp>
#include <appose/error.hpp>
#include <appose/service.hpp>
#include <appose/task.hpp>
#include <appose/value.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "console.hpp"
#include "signals.hpp"
#include "system.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace appose::cli {

namespace {

/// How long a finished worker may take to exit after its stdin closes (then it is left to the
/// library, which kills it after the service's grace period).
constexpr auto kExitGrace = 5s;

ExitCode usage_error(std::string_view message) {
  std::fputs(
      fmt::format("appose run: {}\nRun `appose run --help` for examples.\n", message).c_str(),
      stderr);
  return ExitCode::usage;
}

/// The text of `path` ("-": standard input); `what` names it in errors ("script", "init file").
std::string read_text(const std::string& path, std::string_view what) {
  if (path == "-") {
    std::ostringstream buf;
    buf << std::cin.rdbuf();
    return buf.str();
  }
  std::error_code ec;
  const fs::path file = utf8_path(path);
  if (!fs::exists(file, ec)) {
    throw NotFound(fmt::format("no {} {}", what, utf8_string(fs::absolute(file, ec))));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read the {} {}", what, path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Where inside `v` a worker object is (`[2].a`, relative to the output; empty for the value
/// itself), if any. A worker object is the worker's reference to an object it could not encode:
/// it lives in that worker only, which is gone once `run` prints.
std::optional<std::string> worker_object_at(const appose::Value& v) {
  if (v.kind() == appose::Value::Kind::worker_object) return std::string();
  if (v.is_array()) {
    const appose::Array& items = v.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (auto at = worker_object_at(items[i])) return fmt::format("[{}]{}", i, *at);
    }
  } else if (v.is_object()) {
    for (const auto& [key, item] : v.as_object()) {
      if (auto at = worker_object_at(item)) {
        return fmt::format(".{}{}", key, *at);
      }
    }
  }
  return std::nullopt;
}

/// The error for outputs holding a worker object, naming the first one; nullopt if none does.
std::optional<std::string> unprintable_output(const appose::Args& outputs) {
  for (const auto& [key, value] : outputs) {
    std::optional<std::string> at = worker_object_at(value);
    if (!at) continue;
    return fmt::format(
        "output '{0}'{1} is an object the worker could not encode as JSON (a numpy array, or "
        "another Python object), so it sent a reference to it, which dies with the worker. "
        "Return data instead: for an array, copy it into shared memory, e.g.\n"
        "  import appose\n"
        "  nd = appose.NDArray(str(a.dtype), list(a.shape))\n"
        "  nd.ndarray()[...] = a\n"
        "  task.outputs['{0}'] = nd\n"
        "or convert it (a.tolist(), float(x), str(obj))",
        key, at->empty() ? "" : fmt::format(" (at {}{})", key, *at));
  }
  return std::nullopt;
}

std::string show(const appose::Value& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.to_json().dump();
}

std::vector<std::string> split_class_path(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::string_view rest = item;
    while (true) {
      auto colon = rest.find(':');
      if (colon != 0 && !rest.empty()) out.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  return out;
}

/// The crash report without its [stderr] section: those lines were printed as they came.
std::string crash_summary(const std::optional<std::string>& report) {
  std::string text = report.value_or("");
  auto cut = text.find("\n[stderr]\n");
  if (cut != std::string::npos) text.erase(cut + 1);
  return text;
}

}  // namespace

ExitCode run_command(const RunOptions& o) {
  block_interrupts();
  if (o.code.empty() == o.script_file.empty()) {
    return usage_error("give a SCRIPT file (or - for stdin), or code with -e, not both");
  }
  if (o.script_file == "-" && o.init_file == "-") {
    return usage_error("the script and --init-file cannot both come from standard input");
  }
  std::string script;
  std::string init = o.init;
  try {
    script = o.code.empty() ? read_text(o.script_file, "script") : o.code;
    if (!o.init_file.empty()) init = read_text(o.init_file, "init file");
  } catch (const std::exception& e) {
    return report_failure(e);
  }

  appose::Args inputs;
  for (const auto& spec : o.inputs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return usage_error(fmt::format("--input {}: expected key=JSON, e.g. --input x=21", spec));
    }
    try {
      inputs.insert_or_assign(spec.substr(0, eq),
                              appose::Value(appose::Json::parse(spec.substr(eq + 1))));
    } catch (const appose::Json::exception&) {
      return usage_error(fmt::format(
          "--input {}: the value is not JSON (a string needs its quotes: {}='\"text\"')", spec,
          spec.substr(0, eq)));
    }
  }

  // With --json, stdout holds the outputs alone; progress then goes to stderr unless stdout
  // is a terminal (where the bar is erased before the outputs are printed).
  std::FILE* progress_stream = o.json && !is_terminal(stdout) ? stderr : stdout;
  // Shared: the service's debug callback may run after our handles are gone.
  auto console = std::make_shared<Console>(progress_stream, !o.quiet);

  std::optional<appose::Service> service;
  std::optional<appose::Task> task;
  try {
    fs::path dir = resolve_env(o.env);
    appose::Environment env = appose::wrap(dir);
    service = o.groovy ? env.groovy(split_class_path(o.class_path)) : env.python();
    if (!init.empty()) service->init(init);
    service->debug([console, verbose = o.verbose](std::string_view line) {
      if (verbose) {
        console->line(stderr, line);
        return;
      }
      // The worker's stderr (where a script's print() goes) arrives as `[WORKER-n] line`.
      constexpr std::string_view kWorker = "[WORKER-";
      if (line.substr(0, kWorker.size()) != kWorker) return;
      auto end = line.find("] ");
      console->line(stderr, end == std::string_view::npos ? line : line.substr(end + 2));
    });
    std::optional<std::string> queue;
    if (!o.queue.empty()) queue = o.queue;
    task = service->task(script, std::move(inputs), queue);
    task->listen([console](const appose::TaskEvent& e) {
      // An UPDATE carrying only `info` has nothing to show.
      if (e.response_type == appose::ResponseType::UPDATE &&
          (e.message || e.current || e.maximum)) {
        console->progress(e.message.value_or(""), e.current, e.maximum);
      }
    });
    task->start();
  } catch (const std::exception& e) {
    console->finish();
    return report_failure(e);
  }

  std::atomic<bool> killed{false};
  {
    SignalWatcher watcher([&](int signo, int interrupts) {
      // Once the task has finished, an interrupt only cuts the wait for the worker's exit.
      const bool finished = appose::is_finished(task->status());
      if (signo == SIGINT && interrupts == 1 && !finished) {
        console->line(stderr, "appose: canceling the task (Ctrl-C again to kill the worker)");
        task->cancel();
        return;
      }
      if (!killed.exchange(true)) {
        if (!finished) console->line(stderr, "appose: killing the worker");
        service->kill();
      }
    });
    try {
      task->wait_for();
    } catch (const appose::TaskException&) {
      // The status says what happened.
    }
    // The worker's stderr comes through its own pipe: wait for the worker to exit, so that
    // every line it printed is shown before the outputs and not after them.
    service->close();
    (void)service->wait_for(kExitGrace);
  }
  console->finish();

  const appose::TaskStatus status = task->status();
  switch (status) {
    case appose::TaskStatus::COMPLETE: {
      appose::Args outputs = task->outputs();
      if (std::optional<std::string> problem = unprintable_output(outputs)) {
        report_error(*problem);
        return ExitCode::task_failed;
      }
      std::string out;
      if (o.json) {
        out = outputs.to_json().dump() + "\n";
      } else {
        for (const auto& [key, value] : outputs)
          out += fmt::format("{} = {}\n", key, show(value));
      }
      std::fputs(out.c_str(), stdout);
      break;
    }
    case appose::TaskStatus::CANCELED:
      std::fputs("appose: task canceled\n", stderr);
      break;
    case appose::TaskStatus::FAILED:
      std::fputs(fmt::format("{}\nappose: task failed\n", task->error().value_or("")).c_str(),
                 stderr);
      break;
    case appose::TaskStatus::CRASHED:
      if (killed) {
        std::fputs("appose: worker killed\n", stderr);
        return ExitCode::interrupted;
      }
      std::fputs(fmt::format("{}appose: worker crashed\n", crash_summary(task->error())).c_str(),
                 stderr);
      break;
    default:
      std::fputs("appose: the task did not finish\n", stderr);
      break;
  }
  return exit_code_for(status);
}

}  // namespace appose::cli
