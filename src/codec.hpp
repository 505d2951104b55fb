#pragma once

// Lines <-> messages of the Appose protocol (docs/protocol.md). Internal to the library.
//
// The codec has its own JSON reader and writer over appose::Value rather than nlohmann's,
// because the wire needs what nlohmann cannot give in one pass: Python's NaN/Infinity tokens,
// integers beyond 64 bits kept exactly, several objects glued on one line with the byte
// positions of what lies between them, invalid UTF-8 that must not throw, and ASCII-only
// output with \uXXXX escapes exactly as Python's json.dumps writes it.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appose/protocol.hpp"
#include "appose/value.hpp"

namespace appose::detail::codec {

/// What to do with NaN and +-Infinity when writing.
enum class NonFinite : std::uint8_t {
  python_tokens,  ///< write NaN / Infinity / -Infinity (Python's json reads them)
  refuse,         ///< throw ProtocolError naming the path of the value (Java cannot read them)
};

struct WriteOptions {
  NonFinite non_finite = NonFinite::python_tokens;
  /// Whether the reader decodes float16 arrays. appose-java cannot (the line becomes invalid
  /// and the task hangs there), so for it such an array is a ProtocolError naming its path.
  bool float16_arrays = true;
};

/// Writes `value` as compact JSON (separators "," and ":"), ASCII only: every code point above
/// 0x7F as \uXXXX (surrogate pairs beyond the BMP), control characters as \n, \t, ... or
/// \u00XX, exactly as Python's json.dumps(ensure_ascii=True) does. Doubles use the shortest
/// representation that round-trips, always with a '.' or an exponent (Python's repr).
/// Appose objects are written in their wire form. Throws ProtocolError for non-finite doubles
/// under NonFinite::refuse, and for strings that are not valid UTF-8.
std::string write(const Value& value, const WriteOptions& options = {});
/// Appends to `out` instead of returning a new string.
void write_to(std::string& out, const Value& value, const WriteOptions& options = {});

/// Parses exactly one JSON value (surrounding white space allowed). Accepts Python's NaN,
/// Infinity and -Infinity; integers beyond 64 bits become BigInteger. Objects keep insertion
/// order; a repeated key keeps the last value (as Python does). `appose_type` objects stay
/// plain objects. Throws ProtocolError with the byte offset on malformed input or invalid
/// UTF-8. Nesting deeper than max_depth (512) is an error, not a stack overflow.
Value parse(std::string_view text);

/// The result of reading one stdout line.
struct LineContents {
  std::vector<Args> messages;        ///< every JSON object found, in order (plain values)
  std::vector<std::string> invalid;  ///< text between/around them that is not white space
  std::vector<std::string> notes;    ///< explanations for the debug callback (why invalid)
};

/// Splits one line (without its newline) into the JSON objects it holds. The real Python worker
/// glues concurrent responses (`{..}{..}`); scripts that print without a newline put text in
/// front of an object. Blank or whitespace-only lines yield nothing. Bytes that are not valid
/// UTF-8 inside an object's strings make that object invalid; invalid text is reported with
/// such bytes replaced by U+FFFD, so that invalid() is always valid UTF-8. Never throws for any
/// input bytes.
LineContents split_line(std::string_view line);

/// A request, as a worker reads it.
struct Request {
  std::string task;  // empty for REPLY, which carries no task
  RequestType type = RequestType::EXECUTE;
  std::string script;                // EXECUTE only
  Args inputs;                       // EXECUTE only
  std::optional<std::string> queue;  // EXECUTE only; nullopt is written as null
};

/// A REPLY (after 0.12): the service's answer to a worker's CALL. No task; to_request() gives
/// a REPLY as a Request of that type with no task, to_reply() gives its fields.
struct Reply {
  std::string call;                  // the CALL answered
  std::optional<Value> result;       // on success
  std::optional<std::string> error;  // on failure (written instead of result)
};

/// One region a RELEASE gives back.
struct ReleasedRegion {
  std::string name;          // the block
  std::uint64_t offset = 0;  // the region's offset in it
};

/// A response, as a service reads it.
struct Response {
  ResponseType type = ResponseType::LAUNCH;
  std::optional<std::string> task;            // absent only for HELLO (and broken workers)
  std::optional<std::string> message;         // UPDATE
  std::optional<std::int64_t> current;        // UPDATE
  std::optional<std::int64_t> maximum;        // UPDATE
  Value info;                                 // UPDATE (null if absent)
  Args outputs;                               // COMPLETION
  std::optional<std::string> error;           // FAILURE
  std::optional<std::string> implementation;  // HELLO
  std::optional<std::string> version;         // HELLO
  std::string call;                           // CALL: the id its REPLY must carry
  std::string var;                            // CALL: the service object
  std::string op;                             // CALL: "get", "call" or "dir"
  std::optional<std::string> name;            // CALL, op "get": the attribute
  Array args;                                 // CALL, op "call"
  std::vector<ReleasedRegion> regions;        // RELEASE
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

/// Turns `appose_type` objects at any depth into live objects: `shm` and `ndarray` attach to
/// their blocks (SharedMemory::attach), `worker_object` calls `make_worker_object` (or, if it
/// is empty, stays a plain object). Unknown `appose_type`s stay plain objects. Throws
/// appose::Error naming the block when one cannot be attached or is too small.
Value resolve(Value value,
              const std::function<WorkerObject(std::string var_name)>& make_worker_object = {});
Args resolve(Args args,
             const std::function<WorkerObject(std::string var_name)>& make_worker_object = {});

/// Whether `text` is valid UTF-8 (strict: no overlong forms, surrogates or code points beyond
/// U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;
/// `text` with each invalid UTF-8 subpart replaced by U+FFFD, as Python's errors="replace".
std::string to_valid_utf8(std::string_view text);

/// Whether `value` holds a non-finite double anywhere (for workers that cannot read them).
bool has_non_finite(const Value& value) noexcept;

}  // namespace appose::detail::codec
