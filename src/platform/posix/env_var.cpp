#include "platform/env_var.hpp"

#include <cstdlib>
#include <string_view>

#include "platform/posix/environ.hpp"

namespace appose::detail::platform {

std::optional<std::string> env_var(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> take_env_var(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  std::string taken(value);
  ::unsetenv(name);
  return taken;
}

std::vector<std::string> environment_names() {
  std::vector<std::string> names;
  for (char** e = process_environ(); e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

}  // namespace appose::detail::platform
