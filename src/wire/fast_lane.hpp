#pragma once

// The fast lane of the protocol's readers: the messages of nearly every task (EXECUTE and
// CANCEL in, LAUNCH, UPDATE, COMPLETION, FAILURE and CANCELATION out), each alone on its line,
// read straight into their structs. The general path (split_line() into a Value tree per
// message, then to_request()/to_response()) reads any line, finds several messages on one and
// reports what is wrong; for the common line it was the largest single cost of a round trip
// (docs/benchmarks.md). The fast lane gives the same struct for the lines it takes
// and declines the rest, which then go the general way: it never refuses or reports anything
// itself, so nothing a worker or host sees depends on which way a line went.

#include <optional>
#include <string_view>

#include "wire/messages.hpp"

namespace appose::detail::codec {

/// The EXECUTE or CANCEL request that `line` holds alone, as to_request() of split_line()'s
/// one message gives it; nullopt for any other line (other request types, several or no
/// messages, text beside one, a field the general path would refuse, ...).
std::optional<Request> read_task_request(std::string_view line);
/// read_task_request() into `out`, a Request as default-constructed (left in an unspecified
/// state when it returns false): no Request is moved out of an optional on the hot path.
bool read_task_request(std::string_view line, Request& out);

/// The LAUNCH, UPDATE, COMPLETION, FAILURE or CANCELATION with a task id that `line` holds
/// alone, as to_response() of split_line()'s one message gives it; nullopt for any other line.
std::optional<Response> read_task_response(std::string_view line);
/// read_task_response() into `out`, a Response as default-constructed (left in an unspecified
/// state when it returns false).
bool read_task_response(std::string_view line, Response& out);
/// read_task_response() into `out` but for its task id, which is left in `task` and allocates
/// nothing: a view into `line`, or, when the id was written with escapes, into `out.task`
/// (then set). `task` lives as long as `line` and `out`. The host looks a response's task up
/// by id and keeps no copy of it: a string per response was its I/O thread's only allocation.
bool read_task_response(std::string_view line, Response& out, std::string_view& task);

}  // namespace appose::detail::codec
