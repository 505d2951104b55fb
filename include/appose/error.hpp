#pragma once

/// \file
/// The exception hierarchy of appose. Every exception the library throws derives from
/// appose::Error, so one catch clause covers the library; messages name the resource involved
/// (block name, pid, path) and say what to do about it. Where a program may want to act on a
/// detail of the failure (where a file is wrong, which tool failed and how), the exception also
/// carries it as a field, so that nobody has to parse the message.

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "appose/export.hpp"

namespace appose {

/// Base of every exception thrown by appose.
///
/// When the failure came from the operating system, code() holds the errno value (as a
/// std::generic_category / std::system_category code); otherwise it is empty.
class APPOSE_EXPORT Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  Error(const std::string& what, std::error_code code)
      : std::runtime_error(what + ": " + code.message()), code_(code) {}

  /// The operating-system error behind this failure, if any.
  [[nodiscard]] std::error_code code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

/// A value did not have the type the caller asked for (Value::get<T>(), NDArray::span<T>()).
class APPOSE_EXPORT TypeError : public Error {
 public:
  using Error::Error;
};

/// A protocol line or value could not be decoded or encoded.
class APPOSE_EXPORT ProtocolError : public Error {
 public:
  using Error::Error;
  /// A decoding failure at byte `offset` of the text being decoded.
  ProtocolError(const std::string& what, std::size_t offset) : Error(what), offset_(offset) {}

  /// Where decoding failed: the 0-based byte offset, within the line or value being decoded,
  /// of the byte that made it invalid (the unexpected character, the first byte of invalid
  /// UTF-8, the first byte after the value). Lets a caller point at the spot in the text
  /// without parsing the message. Empty when the failure is not at one byte of decoded text:
  /// encoding failures (a NaN for a Java worker, a string that is not UTF-8, an empty
  /// NDArray), and messages that are valid JSON but not a valid request or response (a
  /// missing `responseType`, a field of the wrong type).
  [[nodiscard]] std::optional<std::size_t> offset() const noexcept { return offset_; }

 private:
  std::optional<std::size_t> offset_;
};

/// Building an environment failed; the message says what failed and, when a build tool
/// failed, includes the tool's error output.
///
/// When the failure is a build tool (pixi, micromamba, uv) that ran and exited with an error,
/// tool(), exit_code() and output_tail() say which and how, so that a program can tell a failed
/// solve from a missing file, or show the tool's own words, without parsing the message.
class APPOSE_EXPORT BuildException : public Error {
 public:
  using Error::Error;
  /// A build tool ran and failed: `tool` is its executable's file name, `exit_code` its exit
  /// status (negative: killed by that signal), `output_tail` the last lines it printed.
  BuildException(const std::string& what, std::string tool, int exit_code, std::string output_tail);

  /// The file name of the tool's executable ("uv", "pixi", "micromamba", or what
  /// executable() named) when a build tool ran and failed; empty otherwise.
  [[nodiscard]] const std::string& tool() const noexcept;
  /// The failed tool's exit status, or minus the signal that killed it (-9 for SIGKILL);
  /// empty when no tool failed (a bad configuration, a failed download, a cancel).
  [[nodiscard]] std::optional<int> exit_code() const noexcept;
  /// The end of what the failed tool printed: its error output (stderr), or its standard output
  /// when it wrote no error output; up to the last 64 KiB, starting at a line, trailing
  /// newlines removed. Empty when no tool failed or it printed nothing. The message includes
  /// the same text.
  [[nodiscard]] const std::string& output_tail() const noexcept;

 private:
  struct ToolFailure;
  // Shared so that copying the exception (as throwing and catching by value do) cannot throw.
  std::shared_ptr<const ToolFailure> tool_failure_;
};

/// A configuration file (pixi.toml, pyproject.toml, environment.yml, requirements.txt) is
/// invalid: its syntax, or a value of the wrong kind where the builder needs a table or a list.
/// Thrown when a builder validates its content, before any tool runs, and by
/// Scheme::validate(); file(), line() and column() say where, for an editor or an IDE to jump
/// to.
class APPOSE_EXPORT ConfigError : public BuildException {
 public:
  /// `file`: see file(); `line` and `column`: 1-based, 0 when the problem has no one place.
  ConfigError(const std::string& what, std::string file, std::size_t line, std::size_t column);

  /// Where the configuration came from: the path given to file() (as given), the address given
  /// to url(), or "<content>" for text given to content() or to Scheme::validate() directly.
  [[nodiscard]] const std::string& file() const noexcept;
  /// The 1-based line of the problem; 0 when it is about the whole document (a missing
  /// `[project]` table).
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  /// The 1-based column (in bytes, as the parsers count it) of the problem; 0 when line() is.
  [[nodiscard]] std::size_t column() const noexcept { return column_; }

 private:
  std::shared_ptr<const std::string> file_;
  std::size_t line_;
  std::size_t column_;
};

}  // namespace appose
