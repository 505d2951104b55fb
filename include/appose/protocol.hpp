#pragma once

/// \file
/// The message types of the Appose worker protocol (one JSON object per line; see
/// docs/protocol.md). Enumerators use the peers' spelling.

#include <cstdint>
#include <optional>
#include <string_view>

#include "appose/export.hpp"

namespace appose {

/// What a service asks of a worker.
enum class RequestType : std::uint8_t {
  EXECUTE,  ///< run a script
  CANCEL,   ///< ask a running task to stop (cooperative)
};

/// What a worker reports about a task. CRASH is never sent by a worker: the service makes it
/// up for every pending task when the worker process dies.
enum class ResponseType : std::uint8_t {
  LAUNCH,
  UPDATE,
  COMPLETION,
  CANCELATION,
  FAILURE,
  CRASH,
  HELLO,  ///< sent first by workers newer than 0.12 (no task); optional here
};

/// Wire names (`"EXECUTE"`, `"COMPLETION"`, ...).
APPOSE_EXPORT std::string_view to_string(RequestType type) noexcept;
APPOSE_EXPORT std::string_view to_string(ResponseType type) noexcept;
/// Parses wire names; std::nullopt for names not in the protocol.
APPOSE_EXPORT std::optional<RequestType> parse_request_type(std::string_view name) noexcept;
APPOSE_EXPORT std::optional<ResponseType> parse_response_type(std::string_view name) noexcept;
/// Whether a task ends with this response.
constexpr bool is_terminal(ResponseType type) noexcept {
  return type == ResponseType::COMPLETION || type == ResponseType::CANCELATION ||
         type == ResponseType::FAILURE || type == ResponseType::CRASH;
}

}  // namespace appose
