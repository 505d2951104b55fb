#include "appose/protocol.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

namespace appose {

namespace {
constexpr std::array<std::string_view, 3> kRequestNames = {"EXECUTE", "CANCEL", "REPLY"};
constexpr std::array<std::string_view, 9> kResponseNames = {"LAUNCH",      "UPDATE",  "COMPLETION",
                                                            "CANCELATION", "FAILURE", "CRASH",
                                                            "HELLO",       "CALL",    "RELEASE"};

/// The major.minor prefix of `version` (`^(\d+)\.(\d+)`), or nullopt. Digits are compared as
/// numbers, so "0.012" is 0.12; a number too long for 64 bits matches nothing.
std::optional<std::pair<std::uint64_t, std::uint64_t>> major_minor(std::string_view version) {
  const char* p = version.data();
  const char* end = p + version.size();
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  auto [after_major, ec1] = std::from_chars(p, end, major);
  if (ec1 != std::errc()) return std::nullopt;  // no leading digit (from_chars takes no sign)
  if (after_major == end || *after_major != '.') return std::nullopt;
  const char* q = after_major + 1;
  if (q == end || *q < '0' || *q > '9') return std::nullopt;
  auto [after_minor, ec2] = std::from_chars(q, end, minor);
  if (ec2 != std::errc()) return std::nullopt;
  return std::pair{major, minor};
}
}  // namespace

std::string_view to_string(RequestType type) noexcept {
  return kRequestNames[static_cast<std::size_t>(type)];
}

std::string_view to_string(ResponseType type) noexcept {
  return kResponseNames[static_cast<std::size_t>(type)];
}

std::optional<RequestType> parse_request_type(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kRequestNames.size(); ++i) {
    if (kRequestNames[i] == name) return static_cast<RequestType>(i);
  }
  return std::nullopt;
}

std::optional<ResponseType> parse_response_type(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kResponseNames.size(); ++i) {
    if (kResponseNames[i] == name) return static_cast<ResponseType>(i);
  }
  return std::nullopt;
}

bool same_protocol(std::string_view a, std::string_view b) noexcept {
  const auto x = major_minor(a);
  return x.has_value() && x == major_minor(b);
}

}  // namespace appose
