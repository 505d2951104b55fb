#include "envbuild/fingerprint.hpp"

#include <fmt/format.h>

#include "appose/error.hpp"
#include "appose/value.hpp"
#include "core/json.hpp"

namespace appose::detail {

namespace {

Value strings(const std::vector<std::string>& items) {
  Array a;
  a.reserve(items.size());
  for (const auto& s : items)
    a.emplace_back(s);
  return Value(std::move(a));
}

Value optional_string(const std::optional<std::string>& s) {
  return s ? Value(*s) : Value(nullptr);
}

std::optional<std::vector<std::string>> string_list(const Value& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

std::string fingerprint_of(const BuilderConfig& c) {
  Args state;
  state["builder"] = c.type;
  state["content"] = optional_string(c.content);
  state["scheme"] = c.scheme ? Value(std::string(c.scheme->name())) : Value(nullptr);
  state["channels"] = strings(c.channels);
  state["flags"] = strings(c.flags);
  // std::map orders keys by their UTF-8 bytes, which is Python's code-point order.
  Args env;
  for (const auto& [k, v] : c.env_vars)
    env[k] = v;
  state["envVars"] = Value(std::move(env));
  if (c.type == "pixi") {
    state["condaPackages"] = strings(c.conda);
    state["pypiPackages"] = strings(c.pypi);
  } else if (c.type == "uv") {
    state["pythonVersion"] = optional_string(c.python);
    state["packages"] = strings(c.packages);
  }
  try {
    return codec::write(Value(std::move(state)));
  } catch (const ProtocolError& e) {
    throw BuildException(fmt::format(
        "the builder's configuration is not valid UTF-8 text ({}); Appose records it in "
        "appose.json, so content, packages and variables must be UTF-8",
        e.what()));
  }
}

std::optional<BuilderConfig> config_from_fingerprint(const std::string& text) {
  Value v;
  try {
    v = codec::parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!v.is_object()) return std::nullopt;
  const Args& o = v.as_object();
  const Value* builder = o.find("builder");
  if (builder == nullptr || !builder->is_string()) return std::nullopt;
  BuilderConfig c;
  c.type = builder->get<std::string>();
  if (c.type != "pixi" && c.type != "uv" && c.type != "mamba") return std::nullopt;
  if (const Value* content = o.find("content"); content != nullptr && content->is_string()) {
    c.content = content->get<std::string>();
  }
  if (const Value* scheme = o.find("scheme"); scheme != nullptr && scheme->is_string()) {
    try {
      c.scheme = Scheme::from_name(scheme->get<std::string>());
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  auto list = [&](const char* key, std::vector<std::string>& out) {
    if (const Value* item = o.find(key)) {
      if (auto l = string_list(*item)) out = std::move(*l);
    }
  };
  list("channels", c.channels);
  list("flags", c.flags);
  list("condaPackages", c.conda);
  list("pypiPackages", c.pypi);
  list("packages", c.packages);
  if (const Value* py = o.find("pythonVersion"); py != nullptr && py->is_string()) {
    c.python = py->get<std::string>();
  }
  if (const Value* env = o.find("envVars"); env != nullptr && env->is_object()) {
    for (const auto& [k, val] : env->as_object()) {
      if (val.is_string()) c.env_vars[k] = val.get<std::string>();
    }
  }
  return c;
}

}  // namespace appose::detail
