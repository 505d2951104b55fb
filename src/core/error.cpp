#include "appose/error.hpp"

#include <utility>

namespace appose {

namespace {

/// What the accessors of an exception without the field return: a reference must refer to
/// something, and this one is never modified.
const std::string& no_text() noexcept {
  static const std::string empty;
  return empty;
}

}  // namespace

struct BuildException::ToolFailure {
  std::string tool;
  int exit_code;
  std::string output_tail;
};

BuildException::BuildException(const std::string& what, std::string tool, int exit_code,
                               std::string output_tail)
    : Error(what),
      tool_failure_(std::make_shared<const ToolFailure>(
          ToolFailure{std::move(tool), exit_code, std::move(output_tail)})) {}

const std::string& BuildException::tool() const noexcept {
  return tool_failure_ ? tool_failure_->tool : no_text();
}

std::optional<int> BuildException::exit_code() const noexcept {
  if (!tool_failure_) return std::nullopt;
  return tool_failure_->exit_code;
}

const std::string& BuildException::output_tail() const noexcept {
  return tool_failure_ ? tool_failure_->output_tail : no_text();
}

ConfigError::ConfigError(const std::string& what, std::string file, std::size_t line,
                         std::size_t column)
    : BuildException(what),
      file_(std::make_shared<const std::string>(std::move(file))),
      line_(line),
      column_(column) {}

const std::string& ConfigError::file() const noexcept {
  return *file_;
}

}  // namespace appose
