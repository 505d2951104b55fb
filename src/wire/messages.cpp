#include "wire/messages.hpp"

#include <fmt/format.h>

#include <utility>

#include "core/json_writer.hpp"
#include "util/utf8.hpp"
#include "wire/describe.hpp"

namespace appose::detail::codec {

// Literals are appended as views (`sv`): appending a `const char*` measures it with strlen at
// run time, on every message.
using namespace std::string_view_literals;

namespace {

[[noreturn]] void wrong_type(std::string_view what, std::string_view key, std::string_view wanted,
                             const Value& v) {
  throw ProtocolError(
      fmt::format("{}: '{}' must be {}, but it is {}", what, key, wanted, describe(v)));
}

// The string under `key`; absent and null both mean "not given".
std::optional<std::string> take_string(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) wrong_type(what, key, "a string", *v);
  return std::get<std::string>(v->variant());
}

std::optional<std::int64_t> take_int(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  try {
    return v->get<std::int64_t>();
  } catch (const TypeError&) {
    wrong_type(what, key, "an integer that fits in 64 bits", *v);
  }
}

Args take_object(Args& m, std::string_view key, std::string_view what) {
  Value* v = m.find(key);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_object()) wrong_type(what, key, "an object", *v);
  return std::move(v->as_object());
}

/// The end of every task response, after its payload: `task`, then `responseType`, the order
/// of appose-python's worker.
void write_response_tail(JsonWriter& w, std::string& out, std::string_view task,
                         ResponseType type) {
  out += R"("task":)"sv;
  w.string(task);
  // The type's name is one of the protocol's upper-case words: nothing in it to escape.
  out += R"(,"responseType":")"sv;
  out += to_string(type);
  out += R"("})"sv;
}

/// The fields both request encoders write, in appose-python's order.
void write_request_head(JsonWriter& w, std::string& out, std::string_view task, RequestType type) {
  out += R"({"task":)"sv;
  w.string(task);
  out += R"(,"requestType":")"sv;
  out += to_string(type);  // an upper-case word, as above
  out += '"';
}

void write_execute_body(JsonWriter& w, std::string& out, std::string_view script,
                        const Args& inputs, const std::optional<std::string>& queue) {
  out += R"(,"script":)"sv;
  w.string(script);
  out += R"(,"inputs":)"sv;
  if (inputs.empty()) {
    out += "{}"sv;  // most small tasks': no path to keep for errors
  } else {
    w.push_key("inputs");
    w.object(inputs);
    w.pop();
  }
  out += R"(,"queue":)"sv;
  if (queue) {
    w.string(*queue);
  } else {
    out += "null"sv;
  }
}

/// CALL and RELEASE (after 0.12): `responseType` first, then the fields in the order of
/// upstream's examples.
void write_taskless(JsonWriter& w, std::string& out, const Response& r) {
  out += R"({"responseType":)"sv;
  w.string(to_string(r.type));
  if (r.type == ResponseType::CALL) {
    out += R"(,"call":)"sv;
    w.string(r.call);
    out += R"(,"var":)"sv;
    w.string(r.var);
    out += R"(,"op":)"sv;
    w.string(r.op);
    if (r.name) {
      out += R"(,"name":)"sv;
      w.string(*r.name);
    }
    if (r.op == "call") {
      out += R"(,"args":)"sv;
      w.push_key("args");
      w.value(Value(r.args));
      w.pop();
    }
  } else {
    out += R"(,"regions":[)"sv;
    for (std::size_t i = 0; i < r.regions.size(); ++i) {
      if (i != 0) out += ',';
      out += R"({"name":)"sv;
      w.string(r.regions[i].name);
      out += R"(,"offset":)"sv;
      out += std::to_string(r.regions[i].offset);
      out += '}';
    }
    out += ']';
  }
  out += '}';
}

/// The fields of a CALL; `r.call` is set already.
void read_call(Args& message, Response& r) {
  const std::string what = fmt::format("CALL {}", utf8::to_valid(r.call));
  std::optional<std::string> var = take_string(message, "var", what);
  if (!var) throw ProtocolError(fmt::format("{} names no service object ('var')", what));
  r.var = std::move(*var);
  std::optional<std::string> op = take_string(message, "op", what);
  if (!op || (*op != "get" && *op != "call" && *op != "dir")) {
    throw ProtocolError(fmt::format("{} has {} 'op': it must be \"get\", \"call\" or \"dir\"", what,
                                    op ? "an unknown" : "no"));
  }
  r.op = std::move(*op);
  r.name = take_string(message, "name", what);
  if (r.op == "get" && !r.name)
    throw ProtocolError(fmt::format("{}: op 'get' needs a 'name'", what));
  if (r.op != "get" && r.name) {
    throw ProtocolError(fmt::format("{}: 'name' goes only with op 'get'", what));
  }
  if (Value* args = message.find("args"); args != nullptr && !args->is_null()) {
    if (r.op != "call")
      throw ProtocolError(fmt::format("{}: 'args' goes only with op 'call'", what));
    if (!args->is_array()) wrong_type(what, "args", "an array", *args);
    r.args = std::move(args->as_array());
  }
}

/// The regions of a RELEASE: `[{"name":..., "offset":...}, ...]`.
void read_release(Args& message, Response& r) {
  constexpr std::string_view what = "RELEASE";
  Value* regions = message.find("regions");
  if (regions == nullptr || regions->is_null()) return;
  if (!regions->is_array()) wrong_type(what, "regions", "an array", *regions);
  for (Value& entry : regions->as_array()) {
    if (!entry.is_object()) wrong_type(what, "regions[]", "an object", entry);
    Args& o = entry.as_object();
    std::optional<std::string> name = take_string(o, "name", what);
    if (!name) throw ProtocolError("RELEASE: a region without a block 'name'");
    ReleasedRegion region{std::move(*name), 0};
    if (Value* offset = o.find("offset"); offset != nullptr && !offset->is_null()) {
      try {
        region.offset = offset->get<std::uint64_t>();
      } catch (const TypeError&) {
        wrong_type(what, "offset", "a non-negative integer", *offset);
      }
    }
    r.regions.push_back(std::move(region));
  }
}

}  // namespace

std::string encode_request(const Request& request, const WriteOptions& options) {
  std::string out;
  JsonWriter w(out, options);
  if (request.type == RequestType::REPLY) {
    throw ProtocolError("a REPLY carries a call id, not a task: write it with encode_reply()");
  }
  write_request_head(w, out, request.task, request.type);
  if (request.type == RequestType::EXECUTE) {
    write_execute_body(w, out, request.script, request.inputs, request.queue);
  }
  out += '}';
  return out;
}

std::string encode_reply(const Reply& reply, const WriteOptions& options) {
  std::string out;
  JsonWriter w(out, options);
  // Upstream's REPLY (after 0.12) answers a CALL and carries no task.
  out += R"({"requestType":"REPLY","call":)"sv;
  w.string(reply.call);
  if (reply.error) {
    out += R"(,"error":)"sv;
    w.string(*reply.error);
  } else {
    out += R"(,"result":)"sv;
    w.push_key("result");
    w.value(reply.result.value_or(Value()));
    w.pop();
  }
  out += '}';
  return out;
}

/// Room for a message's fixed text and its task id: one allocation where a small message
/// would otherwise grow its string three or four times.
constexpr std::size_t kSmallMessage = 112;

std::string encode_execute(std::string_view task, std::string_view script, const Args& inputs,
                           const std::optional<std::string>& queue, const WriteOptions& options) {
  std::string out;
  out.reserve(kSmallMessage + script.size());
  JsonWriter w(out, options);
  write_request_head(w, out, task, RequestType::EXECUTE);
  write_execute_body(w, out, script, inputs, queue);
  out += "}\n"sv;
  return out;
}

std::string encode_response(const Response& response, const WriteOptions& options) {
  std::string out;
  out.reserve(kSmallMessage);
  append_response(out, response, options);
  return out;
}

void append_task_event(std::string& out, std::string_view task, ResponseType type) {
  JsonWriter w(out, WriteOptions{});
  out += type == ResponseType::COMPLETION ? R"({"outputs":{},)"sv : "{"sv;
  write_response_tail(w, out, task, type);
}

void append_response(std::string& out, const Response& response, const WriteOptions& options) {
  JsonWriter w(out, options);
  if (response.type == ResponseType::CRASH) {
    throw ProtocolError("CRASH is never sent by a worker: the service makes it up");
  }
  if (response.type == ResponseType::HELLO) {
    // Upstream's HELLO (after 0.12.0) leads with responseType and carries no task.
    out += R"({"responseType":"HELLO")"sv;
    if (response.implementation) {
      out += R"(,"implementation":)"sv;
      w.string(*response.implementation);
    }
    if (response.version) {
      out += R"(,"version":)"sv;
      w.string(*response.version);
    }
    out += '}';
    return;
  }
  if (response.type == ResponseType::CALL || response.type == ResponseType::RELEASE) {
    write_taskless(w, out, response);
    return;
  }
  if (!response.task) {
    throw ProtocolError(fmt::format("a {} response needs a task id", to_string(response.type)));
  }
  // Payload first, then task and responseType: the order of appose-python's worker.
  out += '{';
  auto key = [&](std::string_view k) {
    out += '"';
    out += k;
    out += "\":"sv;
  };
  switch (response.type) {
    case ResponseType::UPDATE:
      if (response.message) {
        key("message");
        w.string(*response.message);
        out += ',';
      }
      if (response.current) {
        key("current");
        out += std::to_string(*response.current);
        out += ',';
      }
      if (response.maximum) {
        key("maximum");
        out += std::to_string(*response.maximum);
        out += ',';
      }
      // Python's task.update() always sends info, null when not given.
      key("info");
      w.push_key("info");
      w.value(response.info);
      w.pop();
      out += ',';
      break;
    case ResponseType::COMPLETION:
      key("outputs");
      if (response.outputs.empty()) {
        out += "{}"sv;
      } else {
        w.push_key("outputs");
        w.object(response.outputs);
        w.pop();
      }
      out += ',';
      break;
    case ResponseType::FAILURE:
      if (response.error) {
        key("error");
        w.string(*response.error);
        out += ',';
      }
      break;
    default:
      break;
  }
  write_response_tail(w, out, *response.task, response.type);
}

Request to_request(Args message) {
  constexpr std::string_view what = "request";
  if (const Value* t = message.find("requestType");
      t != nullptr && t->is_string() && std::get<std::string>(t->variant()) == "REPLY") {
    Request reply;  // no task: the caller reads its fields with to_reply()
    reply.type = RequestType::REPLY;
    return reply;
  }
  Request r;
  std::optional<std::string> task = take_string(message, "task", what);
  if (!task) throw ProtocolError("request without a 'task' id");
  r.task = std::move(*task);
  std::optional<std::string> type = take_string(message, "requestType", what);
  if (!type) throw ProtocolError(fmt::format("request for task {} has no 'requestType'", r.task));
  std::optional<RequestType> parsed = parse_request_type(*type);
  if (!parsed) {
    throw ProtocolError(fmt::format("request for task {} has an unknown requestType '{}'", r.task,
                                    utf8::to_valid(*type)));
  }
  r.type = *parsed;
  if (r.type == RequestType::EXECUTE) {
    // Like the Python worker: a missing script is an empty one, missing inputs are none.
    r.script = take_string(message, "script", what).value_or(std::string());
    r.inputs = take_object(message, "inputs", what);
    r.queue = take_string(message, "queue", what);
  }
  return r;
}

Response to_response(Args message) {
  constexpr std::string_view what = "response";
  Response r;
  std::optional<std::string> type = take_string(message, "responseType", what);
  if (!type) throw ProtocolError("response without a 'responseType'");
  std::optional<ResponseType> parsed = parse_response_type(*type);
  if (!parsed) {
    throw ProtocolError(
        fmt::format("response with an unknown responseType '{}'", utf8::to_valid(*type)));
  }
  if (*parsed == ResponseType::CRASH) {
    // The service makes CRASH up when a worker dies; appose-python 0.12 ignores one that
    // arrives on the wire, and so does this reader (the task is left as it was).
    throw ProtocolError("response with responseType CRASH, which no worker sends");
  }
  r.type = *parsed;
  // CALL and RELEASE belong to no task: a stray "task" field is ignored like any unknown field,
  // so that nothing downstream routes them to a task (found by fuzz_split_line).
  if (r.type != ResponseType::CALL && r.type != ResponseType::RELEASE) {
    r.task = take_string(message, "task", what);
  }
  switch (r.type) {
    case ResponseType::UPDATE:
      r.message = take_string(message, "message", what);
      r.current = take_int(message, "current", what);
      r.maximum = take_int(message, "maximum", what);
      if (Value* info = message.find("info")) r.info = std::move(*info);
      break;
    case ResponseType::COMPLETION:
      r.outputs = take_object(message, "outputs", what);
      break;
    case ResponseType::FAILURE:
      if (Value* error = message.find("error"); error != nullptr && !error->is_null()) {
        // A script may fail with any object (Python's task.fail(obj)); a terminal response
        // must not be lost over its type, so a non-string error is kept as its JSON text.
        r.error = error->is_string() ? std::get<std::string>(error->variant()) : write(*error);
      }
      break;
    case ResponseType::HELLO:
      r.implementation = take_string(message, "implementation", what);
      r.version = take_string(message, "version", what);
      break;
    case ResponseType::CALL: {
      std::optional<std::string> call = take_string(message, "call", what);
      if (!call) throw ProtocolError("CALL without a 'call' id, so it cannot be answered");
      r.call = std::move(*call);
      read_call(message, r);
      break;
    }
    case ResponseType::RELEASE:
      read_release(message, r);
      break;
    default:
      break;
  }
  return r;
}

Reply to_reply(Args message) {
  constexpr std::string_view what = "REPLY request";
  Reply r;
  std::optional<std::string> call = take_string(message, "call", what);
  if (!call) throw ProtocolError("REPLY request without a 'call' id");
  r.call = std::move(*call);
  r.error = take_string(message, "error", what);
  if (Value* result = message.find("result")) r.result = std::move(*result);
  return r;
}

bool known_without_task(const Args& message) {
  const Value* type = message.find("responseType");
  return message.find("task") == nullptr && type != nullptr && type->is_string() &&
         parse_response_type(std::get<std::string>(type->variant())).has_value();
}

std::optional<std::string> call_id(const Args& message) {
  const Value* type = message.find("responseType");
  const Value* call = message.find("call");
  if (type == nullptr || !type->is_string() || call == nullptr || !call->is_string()) {
    return std::nullopt;
  }
  if (std::get<std::string>(type->variant()) != "CALL") return std::nullopt;
  return std::get<std::string>(call->variant());
}

}  // namespace appose::detail::codec
