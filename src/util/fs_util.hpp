#pragma once

// Questions about paths that must not throw: whether something is there, and of what kind. A
// path that cannot be examined (no permission, a dangling component) simply is not a directory
// or file, which is what every caller wants to know.

#include <filesystem>
#include <string>
#include <string_view>

namespace appose::detail {

/// The path a UTF-8 string names. The library's strings are UTF-8, but fs::path of a
/// std::string reads it in the ANSI code page on Windows: every path made from a string goes
/// through here.
std::filesystem::path utf8_path(std::string_view text);
/// `p` as UTF-8, the reverse of utf8_path: path::string() gives the ANSI code page on Windows
/// (and throws for a character it lacks).
std::string utf8_string(const std::filesystem::path& p);

/// Removes the file `p` if it is there, ignoring failure: for clean-up that has no one left to
/// report to.
void remove_quietly(const std::filesystem::path& p) noexcept;

/// Whether `p` is a directory (symbolic links followed).
bool is_dir(const std::filesystem::path& p) noexcept;
/// Whether `p` is a regular file (symbolic links followed).
bool is_file(const std::filesystem::path& p) noexcept;
/// Whether anything is at `p`, a dangling symbolic link included.
bool path_exists(const std::filesystem::path& p) noexcept;
/// Whether `p` is a directory with nothing in it.
bool is_empty_dir(const std::filesystem::path& p) noexcept;
/// `p` absolute and normalised, without a trailing separator ("." gives "/cwd", not "/cwd/"),
/// so that one directory always has one spelling in messages and in appose.json.
std::string absolute_dir(const std::filesystem::path& p);

}  // namespace appose::detail
