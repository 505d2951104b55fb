#pragma once

// What differs between operating systems in how environments are laid out and launched: the
// executables' names (python.exe), where an environment keeps them (a conda prefix's root and
// Library\bin on Windows, a venv's Scripts), the PATH separator, which worker channel is
// available. Every function takes the system as a parameter, so that the Windows answers are
// unit-tested on Linux as well; kHostOs is this build's. Internal.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appose::detail {

/// The systems whose layouts differ.
enum class HostOs { gnu_linux, macos, windows, other };

/// The system this library is built for.
inline constexpr HostOs kHostOs =
#if defined(_WIN32)
    HostOs::windows;
#elif defined(__APPLE__)
    HostOs::macos;
#elif defined(__linux__)
    HostOs::gnu_linux;
#else
    HostOs::other;
#endif

/// The processor, as the tools' release names spell it ("x86_64", "aarch64", "ppc64le"), or
/// an empty view on one they do not name here.
inline constexpr std::string_view kHostCpu =
#if defined(__x86_64__) || defined(_M_X64)
    "x86_64";
#elif defined(__aarch64__) || defined(_M_ARM64)
    "aarch64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
    "ppc64le";
#else
    "";
#endif

/// The separator of PATH-style lists (PATH, Java's class path): ';' on Windows, ':' elsewhere.
char path_list_separator(HostOs os) noexcept;

/// Whether `a` and `b` name the same environment variable on `os`: Windows ignores case ("Path"
/// is PATH), other systems compare exactly. ASCII letters are folded, which covers every name
/// the library compares (PATH, CONDA_*, ...); Windows also folds non-ASCII letters.
bool same_env_name(std::string_view a, std::string_view b, HostOs os);

/// Whether the environment variable `name` starts with `prefix`, by `os`'s rule for names (see
/// same_env_name).
bool env_name_starts_with(std::string_view name, std::string_view prefix, HostOs os);

/// Whether `path` is absolute on `os`: rooted ("/...") elsewhere; on Windows a drive and a
/// separator ("C:\...", "C:/...") or a UNC path ("\\server\share", "//server/share"). On
/// Windows "C:x" (relative to drive C:'s current directory) and "\x" (to the current drive's
/// root) are not absolute: where they point depends on the process's state.
bool is_absolute_path(std::string_view path, HostOs os) noexcept;

/// Whether `path` names a directory as well as a file, i.e. holds a separator: '/', and on
/// Windows '\' too. Such a relative path is taken from a base directory, not looked up on PATH.
bool has_directory_part(std::string_view path, HostOs os) noexcept;

/// `name` as an executable file is named: "python" -> "python.exe" on Windows, unchanged
/// elsewhere (and unchanged if it already ends in ".exe").
std::string executable_name(std::string_view name, HostOs os);

/// The candidates Environment::python() looks for, in order (the peers' list for that system):
/// on Windows python.exe first, which conda, pixi and micromamba keep at the environment's root
/// and a venv in Scripts\.
std::vector<std::string> python_candidates(HostOs os);

/// The candidates Environment::java() looks for after $JAVA_HOME's: java, bin/java, jre/bin/java
/// (with .exe on Windows).
std::vector<std::string> java_candidates(HostOs os);

/// The directories of a conda-style prefix (micromamba, pixi) that hold executables, in the
/// order conda's activation puts them on PATH: `prefix/bin` on Linux and macOS; on Windows the
/// root (python.exe), Library\mingw-w64\bin, Library\usr\bin, Library\bin (the DLLs numpy and
/// friends load), Scripts (entry points) and bin.
std::vector<std::filesystem::path> conda_bin_dirs(const std::filesystem::path& prefix, HostOs os);

/// The folder of a virtual environment holding its executables: "Scripts" on Windows, "bin"
/// elsewhere.
const char* venv_bin_dir(HostOs os) noexcept;

/// The PATH a worker launched directly (no `pixi run` / `micromamba run` to activate its
/// environment) is given: on Windows `bin_dirs` ahead of the `inherited` PATH's directories,
/// ';'-separated, because Windows looks for a program's DLLs on PATH (conda's Library\bin);
/// nullopt elsewhere, where the worker inherits the caller's PATH as the peers do.
std::optional<std::string> worker_path(const std::vector<std::string>& bin_dirs,
                                       const std::vector<std::string>& inherited, HostOs os);

/// Whether Environment::python() may use the private channel (the bootstrap that moves the
/// protocol off fds 0 and 1 before user code runs). Not on Windows: the bootstrap relies on
/// os.dup2 onto descriptors 0/1 and on inheriting descriptors 3+ into the worker, which a
/// Windows CPython does not do the same way (its standard handles are separate from the C
/// runtime's descriptors, and a child only inherits handles listed for it); there the worker
/// speaks over plain stdin and stdout, as appose-python's own worker does.
bool private_channel_supported(HostOs os) noexcept;

}  // namespace appose::detail
