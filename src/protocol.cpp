#include "appose/protocol.hpp"

#include <array>
#include <utility>

namespace appose {

namespace {
constexpr std::array<std::string_view, 2> kRequestNames = {"EXECUTE", "CANCEL"};
constexpr std::array<std::string_view, 7> kResponseNames = {
    "LAUNCH", "UPDATE", "COMPLETION", "CANCELATION", "FAILURE", "CRASH", "HELLO"};
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

}  // namespace appose
