#pragma once

/// \file
/// The message types of the Appose worker protocol (one JSON object per line; see
/// docs/protocol.md). Enumerators use the peers' spelling.

#include <cstdint>
#include <optional>
#include <string_view>

#include "appose/export.hpp"
#include "appose/version.hpp"

namespace appose {

/// The Appose protocol version this library speaks, in both roles: a C++ worker announces it in
/// its HELLO line, and a service compares a worker's HELLO against it (major.minor only). One
/// constant for both, so that they can never disagree. Upstream's next release may be 0.12.1 or
/// 0.13, so it is a build setting: CMake's APPOSE_PROTOCOL_VERSION (default 0.12.0).
inline constexpr std::string_view kProtocolVersion = APPOSE_PROTOCOL_VERSION_STRING;

/// What a service asks of a worker.
enum class RequestType : std::uint8_t {
  EXECUTE,  ///< run a script
  CANCEL,   ///< ask a running task to stop (cooperative)
  REPLY,    ///< after 0.12: answers a worker's CALL (no task; carries `call`)
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
  HELLO,    ///< sent first by workers newer than 0.12 (no task); optional here
  CALL,     ///< after 0.12: a worker calls a service object and waits for a REPLY (no task)
  RELEASE,  ///< after 0.12: a worker gives back managed shared-memory regions (no task)
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

/// Whether two protocol versions can talk, by upstream's rule: the major.minor prefixes (regex
/// `^(\d+)\.(\d+)`) are equal, whatever follows ("0.12.1" and "0.12.0-dev" go with "0.12.0").
/// A version without such a prefix matches nothing. Used for a worker's HELLO (see
/// WorkerInfo::compatible); this library only reports a mismatch, it never refuses a worker.
APPOSE_EXPORT bool same_protocol(std::string_view a, std::string_view b) noexcept;

}  // namespace appose
