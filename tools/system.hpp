#pragma once

// The few system calls the command-line tool makes itself (the library makes the rest): whether
// a stream is a terminal and how wide, whether a file may be run or a directory written, setting
// a variable for the library and the processes it starts, the space shared memory has left.
// Implementations: system_posix.cpp (Linux, macOS), system_windows.cpp. Ctrl-C is signals.hpp's.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appose::cli {

/// The separator of PATH's entries.
#ifdef _WIN32
inline constexpr char kPathListSeparator = ';';
#else
inline constexpr char kPathListSeparator = ':';
#endif

/// The system Python's name on PATH: Windows' installers provide python.exe, not python3.exe.
#ifdef _WIN32
inline constexpr const char* kSystemPython = "python";
#else
inline constexpr const char* kSystemPython = "python3";
#endif

/// The command line's arguments, the program's name first, as UTF-8: `argv` itself on POSIX;
/// on Windows the UTF-16 command line (GetCommandLineW, split by CommandLineToArgvW), because the
/// `argv` main() gets there is in the ANSI code page, where a path such as "Données-測試" arrives
/// garbled or with '?' for what the code page lacks.
std::vector<std::string> utf8_arguments(int argc, char** argv);

/// The environment variable `name` as UTF-8 (on Windows read as UTF-16: getenv gives the ANSI
/// code page); nullopt if it is not set.
std::optional<std::string> env_var(const char* name);

/// The path a UTF-8 string names, and a path as UTF-8: std::filesystem::path reads and writes a
/// std::string in the ANSI code page on Windows (and path::string() throws for a character the
/// code page lacks); every path the tool takes or prints goes through these.
inline std::filesystem::path utf8_path(std::string_view text) {
  return std::filesystem::path(std::u8string(text.begin(), text.end()));
}
inline std::string utf8_string(const std::filesystem::path& p) {
  const std::u8string text = p.u8string();
  return {text.begin(), text.end()};
}

/// `name` as an executable file is named here: "python3" -> "python3.exe" on Windows.
std::string executable_name(std::string_view name);

/// Whether `stream` is a terminal (a Windows console), where progress is drawn as a bar.
bool is_terminal(std::FILE* stream);
/// The terminal's width in columns; 80 when it cannot be told.
std::size_t terminal_columns(std::FILE* stream);
/// Readies the process's console for what the commands print: UTF-8 output on Windows (the
/// console's code page is otherwise the OEM one, and names and bars come out garbled); nothing
/// elsewhere. Call it first thing.
void prepare_console();

/// Whether `p` is a file this user may run (POSIX: execute permission; Windows: an .exe, .com,
/// .bat or .cmd file).
bool runnable(const std::filesystem::path& p);
/// Whether this user may create files in the directory `dir`.
bool writable_dir(const std::filesystem::path& dir);

/// Sets the environment variable `name` for this process and the processes it starts. Call it
/// before any thread exists.
void set_env(const char* name, const std::string& value);

/// The space shared memory blocks come out of: /dev/shm's tmpfs on Linux, the commit limit
/// (RAM plus page file) on Windows, where named mappings are backed by the page file. macOS has
/// no such bound to read: its blocks are ordinary pageable memory, swapped to files that grow
/// with the disk, so `unchecked` says so and nothing else is filled in.
struct SharedMemorySpace {
  std::string what;  ///< its name in doctor's report: "/dev/shm space", "commit space"
  std::uintmax_t free = 0;
  std::uintmax_t total = 0;
  std::string grow_advice;  ///< how to make it larger
  std::string unchecked;    ///< why there is nothing to measure, or empty (macOS only)
};
/// The space shared memory has, or nullopt when it cannot be read (`why` then says why).
std::optional<SharedMemorySpace> shared_memory_space(std::string& why);

}  // namespace appose::cli
