#pragma once

// The changes a build makes to the file system that must not be left half done: writing a
// file whole, and deleting a tree or saying why not. Failures are BuildExceptions that name
// the path. Internal.

#include <filesystem>
#include <string_view>

namespace appose::detail {

/// Writes `text` to `path` through a temporary file beside it and a rename, so that a reader
/// (or a crash) never sees half a file: a torn appose.json would make a broken environment look
/// up to date.
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

/// Deletes `dir` and everything in it; a failure says to delete it by hand.
void remove_tree(const std::filesystem::path& dir);

}  // namespace appose::detail
