#pragma once

// The messages of the Appose protocol (docs/protocol.md) <-> their lines: requests a service
// sends, responses a worker sends, and the REPLY to a worker's CALL. Lines are written with
// keys in the order the peers write them, and decoded messages are checked field by field,
// so that a broken message is a ProtocolError saying what is wrong. Internal to the library.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/protocol.hpp"
#include "appose/value.hpp"
#include "core/json.hpp"

namespace appose::detail::codec {

/// A request, as a worker reads it.
struct Request {
  std::string task;                         ///< empty for REPLY, which carries no task
  RequestType type = RequestType::EXECUTE;  ///< what is asked
  std::string script;                       ///< EXECUTE only
  Args inputs;                              ///< EXECUTE only
  std::optional<std::string> queue;         ///< EXECUTE only; nullopt is written as null
};

/// A REPLY (after 0.12): the service's answer to a worker's CALL. No task; to_request() gives
/// a REPLY as a Request of that type with no task, to_reply() gives its fields.
struct Reply {
  std::string call;                  ///< the CALL answered
  std::optional<Value> result;       ///< on success
  std::optional<std::string> error;  ///< on failure (written instead of result)
};

/// One region a RELEASE gives back.
struct ReleasedRegion {
  std::string name;          ///< the block
  std::uint64_t offset = 0;  ///< the region's offset in it
};

/// A response, as a service reads it.
struct Response {
  ResponseType type = ResponseType::LAUNCH;   ///< what happened
  std::optional<std::string> task;            ///< absent only for HELLO (and broken workers)
  std::optional<std::string> message;         ///< UPDATE
  std::optional<std::int64_t> current;        ///< UPDATE
  std::optional<std::int64_t> maximum;        ///< UPDATE
  Value info;                                 ///< UPDATE (null if absent)
  Args outputs;                               ///< COMPLETION
  std::optional<std::string> error;           ///< FAILURE
  std::optional<std::string> implementation;  ///< HELLO
  std::optional<std::string> version;         ///< HELLO
  std::string call;                           ///< CALL: the id its REPLY must carry
  std::string var;                            ///< CALL: the service object
  std::string op;                             ///< CALL: "get", "call" or "dir"
  std::optional<std::string> name;            ///< CALL, op "get": the attribute
  Array args;                                 ///< CALL, op "call"
  std::vector<ReleasedRegion> regions;        ///< RELEASE
};

/// The request line (without newline): keys in the order appose-python writes them
/// (`task`, `requestType`, then `script`, `inputs`, `queue` for EXECUTE). Throws ProtocolError
/// for REPLY, which encode_reply() writes.
std::string encode_request(const Request& request, const WriteOptions& options = {});
/// The REPLY line (without newline): `requestType`, `call`, then `error` if set, else `result`
/// (null when not set), the order of upstream's examples.
std::string encode_reply(const Reply& reply, const WriteOptions& options = {});
/// The EXECUTE request line of a task, newline included, written straight from the task's
/// inputs: the same bytes as encode_request() plus '\n', without copying the inputs into a
/// Request first (for a 10 MB input that copy cost more than the encoding).
std::string encode_execute(std::string_view task, std::string_view script, const Args& inputs,
                           const std::optional<std::string>& queue,
                           const WriteOptions& options = {});
/// The response line (without newline): payload keys first, then `task` and `responseType`,
/// as appose-python's worker writes them. Task-less messages (HELLO, CALL, RELEASE) lead with
/// `responseType`, as upstream writes them after 0.12.
std::string encode_response(const Response& response, const WriteOptions& options = {});
/// encode_response(), appended to `out`. If it throws, `out` may hold part of the line.
void append_response(std::string& out, const Response& response, const WriteOptions& options = {});
/// The line of a response that carries nothing but its task and type (LAUNCH, CANCELATION, a
/// COMPLETION without outputs), appended to `out`: the bytes encode_response() writes for it,
/// without making a Response.
void append_task_event(std::string& out, std::string_view task, ResponseType type);

/// Interprets a decoded message as a request; throws ProtocolError saying what is wrong.
Request to_request(Args message);
/// Interprets a decoded REPLY; throws ProtocolError without a string `call`.
Reply to_reply(Args message);
/// Interprets a decoded message as a response; throws ProtocolError saying what is wrong
/// (missing or unknown `responseType`, a field of the wrong type; for CALL a missing `call`,
/// `var` or `op`, an unknown `op`, `name` without `get` or `args` without `call`).
Response to_response(Args message);
/// The `call` id of a message that says it is a CALL, even one that to_response() refuses:
/// a worker blocks until its CALL is answered, so the service replies to any CALL it can
/// address. nullopt when the message is no CALL or its `call` is not a string.
std::optional<std::string> call_id(const Args& message);
/// Whether `message` names a known `responseType` and has no `task` key (HELLO, CALL,
/// RELEASE, or a task-less line of another type): such a line concerns no task, so a service
/// that cannot decode it only reports it rather than filing it with the invalid lines.
bool known_without_task(const Args& message);

}  // namespace appose::detail::codec
