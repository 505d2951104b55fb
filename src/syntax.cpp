#include "appose/syntax.hpp"

#include <fmt/format.h>

namespace appose {

namespace {

class PythonSyntax final : public ScriptSyntax {
 public:
  [[nodiscard]] std::string name() const override { return "python"; }
  [[nodiscard]] std::string get_var(std::string_view name) const override {
    return std::string(name);
  }
  [[nodiscard]] std::string put_var(std::string_view name,
                                    std::string_view value_var) const override {
    return fmt::format("{0} = {1}\ntask.export({0}={0})", name, value_var);
  }
  [[nodiscard]] std::string call(std::string_view function,
                                 const std::vector<std::string>& arg_vars) const override {
    return fmt::format("{}({})", function, fmt::join(arg_vars, ", "));
  }
  [[nodiscard]] std::string get_attribute(std::string_view object_var,
                                          std::string_view attribute) const override {
    return fmt::format("{}.{}", object_var, attribute);
  }
  [[nodiscard]] std::string get_attributes(std::string_view object_var) const override {
    return fmt::format("dir({})", object_var);
  }
};

class GroovySyntax final : public ScriptSyntax {
 public:
  [[nodiscard]] std::string name() const override { return "groovy"; }
  [[nodiscard]] std::string get_var(std::string_view name) const override {
    return std::string(name);
  }
  [[nodiscard]] std::string put_var(std::string_view name,
                                    std::string_view value_var) const override {
    return fmt::format("{0} = {1}\ntask.export([{0}: {0}])", name, value_var);
  }
  [[nodiscard]] std::string call(std::string_view function,
                                 const std::vector<std::string>& arg_vars) const override {
    return fmt::format("{}({})", function, fmt::join(arg_vars, ", "));
  }
  [[nodiscard]] std::string get_attribute(std::string_view object_var,
                                          std::string_view attribute) const override {
    // A Groovy property, or else a method closure of that name.
    return fmt::format(
        "try {{ {0}.{1} }} catch (groovy.lang.MissingPropertyException e) {{ {0}.&{1} }}",
        object_var, attribute);
  }
  [[nodiscard]] std::string get_attributes(std::string_view object_var) const override {
    return fmt::format("({0}.metaClass.methods*.name + {0}.metaClass.properties*.name).unique()",
                       object_var);
  }
};

}  // namespace

std::shared_ptr<const ScriptSyntax> syntax_for(std::string_view name) {
  if (name == "python") return std::make_shared<PythonSyntax>();
  if (name == "groovy") return std::make_shared<GroovySyntax>();
  return nullptr;
}

}  // namespace appose
