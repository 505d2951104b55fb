// The `appose` command line: parsing and dispatch. CLI11 lives in this translation unit only
// (it is header-only and heavy); the commands are in the other files of tools/.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <appose/version.hpp>
#include <appose/worker.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.hpp"
#include "system.hpp"

namespace cli = appose::cli;

namespace {

constexpr const char* kMainFooter = R"TXT(
Examples:
  appose build environment.yml
  appose build --uv --pypi numpy --name my-env
  appose list
  appose run my-env -e "task.outputs['y'] = x * 2" --input x=21
  appose doctor

The environments root is $APPOSE_ENVS_DIR if set, else ~/.local/share/appose.
`appose COMMAND --help` describes each command; docs/cli.md has the manual.

)TXT";

constexpr const char* kBuildFooter = R"TXT(
A FILE is pixi.toml, pyproject.toml, environment.yml or requirements.txt (or an http(s) URL of
one); its format picks the builder (pixi, or uv for requirements.txt) unless --pixi, --mamba or
--uv says, and it names the environment unless --name does. A build whose appose.json matches
does nothing ("up to date").

Examples:
  appose build environment.yml
  appose build requirements.txt --name my-env
  appose build pixi.toml --rebuild --verbose
  appose build --uv --pypi numpy --pypi "appose==0.12.0" --python 3.11 --name my-env
  appose build --pixi --conda numpy --pypi appose --name my-env
  appose build --mamba --conda numpy --conda pip --pypi appose --channel conda-forge --name my-env

A FILE that names no environment (requirements.txt never does) needs --name or --base.

Exit status: 0 built or up to date, 2 bad usage, 3 FILE not found, 4 FILE is invalid, 5 the
build failed, 130 interrupted.)TXT";

constexpr const char* kListFooter = R"TXT(
States: "up to date" (appose.json matches the directory), "modified" (a configuration file in
the directory changed since the build), "no fingerprint" (Appose did not build it, or a build
never finished).

Examples:
  appose list
  appose list --json | jq -r '.[].name'
  appose list --root /opt/appose-envs)TXT";

constexpr const char* kRemoveFooter = R"TXT(
Only directories Appose built (holding an appose.json) are deleted; anything else is refused,
with exit status 1 (3: no such environment).

Examples:
  appose remove my-env
  appose remove ./envs/scratch)TXT";

constexpr const char* kRunFooter = R"TXT(
ENV is an environment name under the root, or a directory (pixi, conda, venv, or plain).
Inputs are JSON: --input x=21, --input name='"text"', --input xs='[1, 2, 3]'.
Outputs are printed as `key = value` lines, or as one JSON object with --json. The script's
print() output and the worker's stderr go to stderr; task.update(...) shows as progress.
Ctrl-C asks the task to cancel (the script sees task.cancel_requested); a second Ctrl-C kills
the worker.

--init CODE (or --init-file FILE) runs before the task, when the worker starts: imports that
must happen on the worker's main thread, or set-up the script relies on (Service::init).
An output the worker could not encode (a numpy array, any object json cannot write) is an
error (exit status 6): the worker sent a reference to an object that dies with it. Return an
array as an appose.NDArray (shared memory) instead.

Examples:
  appose run my-env -e "task.outputs['y'] = x * 2" --input x=21
  appose run my-env analysis.py --input path='"/data/img.tif"' --json
  echo "import sys; task.outputs['v'] = sys.version" | appose run ./my-venv -
  appose run my-env -e "1 + 2"                      # prints result = 3
  appose run my-env --init "import numpy" -e "task.outputs['v'] = numpy.__version__"
  appose run java-env --groovy -e "task.outputs.put('v', 6 * 7)" --class-path lib/*.jar

Exit status: 0 completed, 2 bad usage, 3 no such environment or script, 6 the task failed
(traceback on stderr) or an output cannot be printed, 7 canceled, 8 the worker crashed, 130
the worker was killed by a second Ctrl-C.)TXT";

constexpr const char* kDoctorFooter = R"TXT(
Checks: the environments root; pixi, micromamba and uv ($APPOSE_PIXI, $APPOSE_MICROMAMBA,
$APPOSE_UV, then the root's .pixi/bin, .mamba/bin, .uv/bin, then PATH) and their --version;
shared memory (a create/attach/unlink round trip) and its free space (/dev/shm's on Linux, the
commit limit on Windows; macOS has no bound to measure); python3 on PATH and the python of every
environment under the root, with the appose package; java. Essential: shared memory, and at
least one of the three tools.

Examples:
  appose doctor
  appose doctor --json | jq '.checks[] | select(.status != "ok")'

Exit status: 0 every essential check passed, 1 otherwise.)TXT";

constexpr const char* kShmFooter = R"TXT(
Every shared-memory block an appose-cpp process owns (will unlink) is recorded in a per-user
registry (/dev/shm/.appose-<uid>/) with its owner's pid. `list` shows them and whether the owner
still runs; `clean` unlinks the blocks whose owner died without cleaning up (SIGKILL, a crash).
Blocks of running processes, blocks kept on purpose and blocks of other programs are never
touched. Services do the same cleaning when their first worker starts.

Examples:
  appose shm list
  appose shm list --json
  appose shm clean

Exit status: 0 on success.)TXT";

void add_root(CLI::App* app, std::string& root) {
  app->add_option("--root", root,
                  "Environments root (default: $APPOSE_ENVS_DIR, else ~/.local/share/appose)")
      ->type_name("DIR");
}

}  // namespace

int main(int argc, char** argv) {
  cli::prepare_console();
  // UTF-8 from here on, whatever the system's code page (cli::utf8_arguments).
  std::vector<std::string> arguments = cli::utf8_arguments(argc, argv);
  std::vector<char*> utf8_argv;
  for (std::string& a : arguments)
    utf8_argv.push_back(a.data());
  CLI::App app{
      "appose: build, inspect and remove Appose environments, and run scripts in "
      "their workers.",
      "appose"};
  app.get_formatter()->column_width(30);
  // The library's version and the protocol its services and workers speak: they differ
  // (the library is 0.x on its own; the protocol is appose-python's), and a worker's HELLO
  // reports the protocol version.
  app.set_version_flag(
      "--version",
      fmt::format("appose {} (Appose protocol {})", appose::version(), appose::kProtocolVersion),
      "Print the library's version and the Appose protocol version, and exit");
  app.require_subcommand(1);
  app.footer(std::string(kMainFooter) + cli::kExitCodeHelp);
  std::string root;
  add_root(&app, root);

  cli::BuildOptions build_options;
  CLI::App* build = app.add_subcommand("build", "Build an environment, or find it up to date");
  build->footer(kBuildFooter);
  build->add_option("FILE", build_options.file, "Configuration file, or an http(s) URL of one");
  auto* pixi = build->add_flag("--pixi", build_options.pixi, "Build with pixi");
  auto* mamba = build->add_flag("--mamba", build_options.mamba, "Build with micromamba");
  auto* uv = build->add_flag("--uv", build_options.uv, "Build with uv");
  pixi->excludes(mamba)->excludes(uv);
  mamba->excludes(uv);
  build->add_option("--conda", build_options.conda, "A conda package (repeat for more)")
      ->type_name("PKG")
      ->allow_extra_args(false);
  build->add_option("--pypi", build_options.pypi, "A PyPI package (repeat for more)")
      ->type_name("PKG")
      ->allow_extra_args(false);
  build->add_option("--channel", build_options.channels, "A conda channel (repeat for more)")
      ->type_name("C")
      ->allow_extra_args(false);
  build->add_option("--python", build_options.python, "Python version, e.g. 3.11")
      ->type_name("VER");
  build->add_option("--name", build_options.name, "Build in <root>/N")->type_name("N");
  build->add_option("--base", build_options.base, "Build in DIR (overrides --name)")
      ->type_name("DIR");
  build->add_flag("--rebuild", build_options.rebuild, "Delete the environment and build it again");
  build->add_flag("-v,--verbose", build_options.verbose, "Show the tool's output");
  build->add_flag("-q,--quiet", build_options.quiet, "No progress display");
  add_root(build, root);

  cli::ListOptions list_options;
  CLI::App* list = app.add_subcommand("list", "List the environments under the root");
  list->footer(kListFooter);
  list->add_flag("--json", list_options.json, "Print a JSON array");
  add_root(list, root);

  cli::RemoveOptions remove_options;
  CLI::App* remove = app.add_subcommand("remove", "Delete an environment that Appose built");
  remove->footer(kRemoveFooter);
  remove->add_option("ENV", remove_options.env, "Environment name under the root, or a directory")
      ->required();
  add_root(remove, root);

  cli::RunOptions run_options;
  CLI::App* run = app.add_subcommand("run", "Run a script in an environment's worker");
  run->footer(kRunFooter);
  run->add_option("ENV", run_options.env, "Environment name under the root, or a directory")
      ->required();
  auto* script =
      run->add_option("SCRIPT", run_options.script_file, "Script file to run (- for stdin)");
  auto* code = run->add_option("-e,--eval", run_options.code, "Code to run")->type_name("CODE");
  script->excludes(code);
  auto* init = run->add_option("--init", run_options.init, "Code the worker runs when it starts")
                   ->type_name("CODE");
  run->add_option("--init-file", run_options.init_file, "A file of code to run as --init")
      ->type_name("FILE")
      ->excludes(init);
  run->add_option("-i,--input", run_options.inputs, "An input, its value in JSON (repeatable)")
      ->type_name("KEY=JSON")
      ->allow_extra_args(false);
  run->add_option("--queue", run_options.queue, "Run on the worker's main thread (main)")
      ->check(CLI::IsMember({"main"}));
  run->add_flag("--json", run_options.json, "Print the outputs as one JSON object");
  run->add_flag("--groovy", run_options.groovy, "Run a Groovy worker (appose-java) instead");
  run->add_option("--class-path", run_options.class_path,
                  "Jars for --groovy, ':'-separated or repeated (default: "
                  "$APPOSE_JAVA_CLASSPATH)")
      ->type_name("CP")
      ->allow_extra_args(false);
  run->add_flag("-q,--quiet", run_options.quiet, "No progress display");
  run->add_flag("-v,--verbose", run_options.verbose, "Show every line exchanged with the worker");
  add_root(run, root);

  cli::DoctorOptions doctor_options;
  CLI::App* doctor = app.add_subcommand("doctor", "Check this machine for what Appose needs");
  doctor->footer(kDoctorFooter);
  doctor->add_flag("--json", doctor_options.json, "Print the checks as JSON");
  doctor
      ->add_option("--timeout", doctor_options.timeout_seconds,
                   "Seconds each probed program may take (default 10)")
      ->type_name("SECONDS");
  add_root(doctor, root);

  std::string shm_action;
  bool shm_json = false;
  CLI::App* shm = app.add_subcommand(
      "shm", "Shared-memory blocks Appose processes own: list them, or clean up after dead ones");
  shm->footer(kShmFooter);
  shm->add_option("ACTION", shm_action, "list or clean")
      ->required()
      ->check(CLI::IsMember({"list", "clean"}));
  shm->add_flag("--json", shm_json, "Print JSON instead of a table");

  if (utf8_argv.size() <= 1) {
    // A bare `appose` is someone finding their way: the help says more than an error would.
    std::fputs(app.help().c_str(), stderr);
    return static_cast<int>(cli::ExitCode::usage);
  }
  try {
    app.parse(static_cast<int>(utf8_argv.size()), utf8_argv.data());
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return static_cast<int>(status == 0 ? cli::ExitCode::ok : cli::ExitCode::usage);
  }

  if (!root.empty()) {
    // Every command, and the library, find the root through APPOSE_ENVS_DIR (appose::envs_dir()).
    // Set before any thread exists, so setting it is safe.
    std::error_code ec;
    cli::set_env("APPOSE_ENVS_DIR",
                 cli::utf8_string(std::filesystem::absolute(cli::utf8_path(root), ec)));
  }

  cli::ExitCode status = cli::ExitCode::usage;
  if (build->parsed()) status = cli::build_command(build_options);
  if (list->parsed()) status = cli::list_command(list_options);
  if (remove->parsed()) status = cli::remove_command(remove_options);
  if (run->parsed()) status = cli::run_command(run_options);
  if (doctor->parsed()) status = cli::doctor_command(doctor_options);
  if (shm->parsed()) status = cli::shm_command(shm_action, shm_json);
  return static_cast<int>(status);
}
