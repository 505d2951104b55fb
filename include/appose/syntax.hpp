#pragma once

/// \file
/// Script syntax: how to say "get this variable", "call that function" in a worker's language.
/// Service::get_var(), put_var(), call(), proxy() and WorkerObject generate their scripts
/// through it, so any Appose worker of that language understands them.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "appose/export.hpp"

namespace appose {

/// Generates scripts for one worker language. Implementations must be stateless.
class APPOSE_EXPORT ScriptSyntax {
 public:
  virtual ~ScriptSyntax() = default;
  /// `"python"`, `"groovy"`.
  [[nodiscard]] virtual std::string name() const = 0;
  /// An expression with the value of an exported variable.
  [[nodiscard]] virtual std::string get_var(std::string_view name) const = 0;
  /// A script that assigns the input `value_var` to `name` and exports it for later tasks.
  [[nodiscard]] virtual std::string put_var(std::string_view name,
                                            std::string_view value_var) const = 0;
  /// An expression calling `function` with the inputs named `arg_vars`.
  [[nodiscard]] virtual std::string call(std::string_view function,
                                         const std::vector<std::string>& arg_vars) const = 0;
  /// An expression calling `function` with the inputs named `arg_vars` as positional arguments
  /// and, for each `{keyword, input}` of `kwarg_vars`, the input as that keyword argument
  /// (Groovy: named arguments, which Groovy hands to the callee as a leading Map). Keywords are
  /// identifiers (Service::call() and WorkerObject::call() check them before they get here).
  [[nodiscard]] virtual std::string call_with_keywords(
      std::string_view function, const std::vector<std::string>& arg_vars,
      const std::vector<std::pair<std::string, std::string>>& kwarg_vars) const = 0;
  /// An expression with the attribute (field or method) `attribute` of `object_var`.
  [[nodiscard]] virtual std::string get_attribute(std::string_view object_var,
                                                  std::string_view attribute) const = 0;
  /// An expression listing the attribute names of `object_var`.
  [[nodiscard]] virtual std::string get_attributes(std::string_view object_var) const = 0;
  /// A whole task script that evaluates `expression` and stores its value as the task's
  /// `result` output, whatever that value is. Why not just send the expression: both peer
  /// workers merge a dict (Python) or Map (Groovy) that a script's last expression yields into
  /// the task's outputs, so `result` would be missing; an explicit assignment never is.
  [[nodiscard]] virtual std::string result(std::string_view expression) const = 0;
};

/// The syntax named `name` (`"python"` or `"groovy"`), or nullptr if there is none.
APPOSE_EXPORT std::shared_ptr<const ScriptSyntax> syntax_for(std::string_view name);

}  // namespace appose
