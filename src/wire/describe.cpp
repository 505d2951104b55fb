#include "wire/describe.hpp"

#include <fmt/format.h>

#include <string_view>

namespace appose::detail::codec {

std::string describe(const Value& v) {
  std::string_view kind = v.kind_name();
  if (v.is_null()) return "null";
  bool vowel = kind.front() == 'a' || kind.front() == 'i' || kind.front() == 'o' ||
               kind.front() == 'u' || kind.front() == 'e' || kind.starts_with("nd");
  return fmt::format("{} {}", vowel ? "an" : "a", kind);
}

}  // namespace appose::detail::codec
