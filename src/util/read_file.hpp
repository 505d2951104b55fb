#pragma once

// Reading a whole file into memory: the one way the library does it, so that binary mode and
// the treatment of a file that cannot be read are decided once. std::ifstream is portable, so
// this needs no platform code.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace appose::detail {

/// The bytes of `path`, exactly as stored (binary mode: no newline translation); nullopt when
/// it cannot be opened or read (missing, a directory, no permission). Callers say what the
/// file was for in their own error.
std::optional<std::string> read_file(const std::filesystem::path& path);

/// A configuration file or script read as appose-python reads text: UTF-8 (BuildException
/// naming the file otherwise, or when it cannot be read) with universal newlines (CRLF and
/// lone CR become LF).
std::string read_text_file(const std::filesystem::path& path);

/// `text` with CRLF and lone CR turned into LF (Python's universal newlines).
std::string normalize_newlines(std::string_view text);

}  // namespace appose::detail
