#include "appose/syntax.hpp"

#include <fmt/format.h>

namespace appose {

namespace {

/// `a, b, k=kw_k` (Python) or `k: kw_k, a, b` (Groovy named arguments come first).
std::string argument_list(const std::vector<std::string>& arg_vars,
                          const std::vector<std::pair<std::string, std::string>>& kwarg_vars,
                          std::string_view keyword_separator, bool keywords_first) {
  std::vector<std::string> keywords;
  keywords.reserve(kwarg_vars.size());
  for (const auto& [keyword, var] : kwarg_vars)
    keywords.push_back(fmt::format("{}{}{}", keyword, keyword_separator, var));
  std::vector<std::string> all = keywords_first ? keywords : arg_vars;
  const auto& rest = keywords_first ? arg_vars : keywords;
  all.insert(all.end(), rest.begin(), rest.end());
  return fmt::format("{}", fmt::join(all, ", "));
}

/// What Python and Groovy spell alike: a variable is read by its name, and a call without
/// keywords is a call with none.
class NameSyntax : public ScriptSyntax {
 public:
  [[nodiscard]] std::string get_var(std::string_view name) const override {
    return std::string(name);
  }
  [[nodiscard]] std::string call(std::string_view function,
                                 const std::vector<std::string>& arg_vars) const override {
    return call_with_keywords(function, arg_vars, {});
  }
};

class PythonSyntax final : public NameSyntax {
 public:
  [[nodiscard]] std::string name() const override { return "python"; }
  [[nodiscard]] std::string put_var(std::string_view name,
                                    std::string_view value_var) const override {
    return fmt::format("{0} = {1}\ntask.export({0}={0})", name, value_var);
  }
  [[nodiscard]] std::string call_with_keywords(
      std::string_view function, const std::vector<std::string>& arg_vars,
      const std::vector<std::pair<std::string, std::string>>& kwarg_vars) const override {
    return fmt::format("{}({})", function, argument_list(arg_vars, kwarg_vars, "=", false));
  }
  [[nodiscard]] std::string get_attribute(std::string_view object_var,
                                          std::string_view attribute) const override {
    return fmt::format("{}.{}", object_var, attribute);
  }
  [[nodiscard]] std::string get_attributes(std::string_view object_var) const override {
    return fmt::format("dir({})", object_var);
  }
  [[nodiscard]] std::string result(std::string_view expression) const override {
    // An assignment is a statement: appose-python evaluates only a trailing expression, so
    // nothing is merged into the outputs.
    return fmt::format("task.outputs['result'] = {}", expression);
  }
};

class GroovySyntax final : public NameSyntax {
 public:
  [[nodiscard]] std::string name() const override { return "groovy"; }
  [[nodiscard]] std::string put_var(std::string_view name,
                                    std::string_view value_var) const override {
    return fmt::format("{0} = {1}\ntask.export([{0}: {0}])", name, value_var);
  }
  [[nodiscard]] std::string call_with_keywords(
      std::string_view function, const std::vector<std::string>& arg_vars,
      const std::vector<std::pair<std::string, std::string>>& kwarg_vars) const override {
    return fmt::format("{}({})", function, argument_list(arg_vars, kwarg_vars, ": ", true));
  }
  [[nodiscard]] std::string get_attribute(std::string_view object_var,
                                          std::string_view attribute) const override {
    // A Groovy property, or else a method closure of that name. A closure called at once makes
    // the try/catch statement an expression, so result() can assign it.
    return fmt::format(
        "({{ -> try {{ {0}.{1} }} catch (groovy.lang.MissingPropertyException e) {{ {0}.&{1} }} "
        "}})()",
        object_var, attribute);
  }
  [[nodiscard]] std::string get_attributes(std::string_view object_var) const override {
    return fmt::format("({0}.metaClass.methods*.name + {0}.metaClass.properties*.name).unique()",
                       object_var);
  }
  [[nodiscard]] std::string result(std::string_view expression) const override {
    // An assignment's value is the value assigned, and appose-java merges a Map that the last
    // statement yields into the outputs: a trailing null leaves them alone.
    return fmt::format("task.outputs['result'] = {}\nnull", expression);
  }
};

}  // namespace

std::shared_ptr<const ScriptSyntax> syntax_for(std::string_view name) {
  if (name == "python") return std::make_shared<PythonSyntax>();
  if (name == "groovy") return std::make_shared<GroovySyntax>();
  return nullptr;
}

}  // namespace appose
