#pragma once

// The commands of the `appose` tool. appose.cpp parses the command line (CLI11 lives in that one
// translation unit: it is heavy) and fills these options; each command is a plain function
// returning the process exit code.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace appose::cli {

/// Exit codes shared by every command (docs/cli.md, "Exit status").
enum ExitCode : int {
  kOk = 0,
  kFailure = 1,        ///< the command failed (a build, a task, a refused removal)
  kUsage = 2,          ///< bad command line, or a command that is not available yet
  kCrash = 2,          ///< `run`: the worker died
  kInterrupted = 130,  ///< interrupted by Ctrl-C (128 + SIGINT), as shells report it
};

struct BuildOptions {
  std::string file;  ///< configuration file or URL (empty: a package list)
  bool pixi = false;
  bool mamba = false;
  bool uv = false;
  std::vector<std::string> conda;
  std::vector<std::string> pypi;
  std::vector<std::string> channels;
  std::string python;
  std::string name;
  std::string base;
  bool rebuild = false;
  bool verbose = false;
  bool quiet = false;
};

struct ListOptions {
  bool json = false;
};

struct RemoveOptions {
  std::string env;
};

struct RunOptions {
  std::string env;
  std::string script_file;          ///< a path, or "-" for stdin
  std::string code;                 ///< -e
  std::vector<std::string> inputs;  ///< key=JSON
  std::string queue;
  bool json = false;
  bool groovy = false;
  std::vector<std::string> class_path;
  bool quiet = false;
  bool verbose = false;
};

struct DoctorOptions {
  bool json = false;
  double timeout_seconds = 10;
};

int build_command(const BuildOptions& options);
int list_command(const ListOptions& options);
int remove_command(const RemoveOptions& options);
int run_command(const RunOptions& options);
int doctor_command(const DoctorOptions& options);
/// `appose shm list|clean`: the crash registry of owned shared-memory blocks.
int shm_command(const std::string& action, bool json);

}  // namespace appose::cli
