#include "wire/fast_lane.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "appose/error.hpp"
#include "core/json.hpp"
#include "core/json_reader.hpp"

namespace appose::detail::codec {

namespace {

/// Reads the string member `key` into `out`: left unset when absent or null, as the general
/// path's take_string() does. False when the member is of another type, which the general
/// path refuses.
bool optional_string(FlatObject& o, std::string_view key, std::optional<std::string>& out) {
  FlatField* f = o.find(key);
  if (f == nullptr) return true;
  if (f->text) {
    out.emplace(*f->text);
    return true;
  }
  if (f->value->is_null()) return true;
  if (!f->value->is_string()) return false;
  out = f->value->get<std::string>();
  return true;
}

/// The object member `key` (none or null: empty), as take_object() reads it; false when it is
/// of another type.
bool optional_object(FlatObject& o, std::string_view key, Args& out) {
  FlatField* f = o.find(key);
  if (f == nullptr || (!f->text && f->value->is_null())) return true;
  if (f->text || !f->value->is_object()) return false;
  out = std::move(f->value->as_object());
  return true;
}

/// The integer member `key`, as take_int() reads it; false when it is not one.
bool optional_int(FlatObject& o, std::string_view key, std::optional<std::int64_t>& out) {
  FlatField* f = o.find(key);
  if (f == nullptr || (!f->text && f->value->is_null())) return true;
  if (f->text) return false;
  try {
    out = f->value->get<std::int64_t>();
  } catch (const TypeError&) {
    return false;
  }
  return true;
}

/// Reads `line` into `o` and returns its type, the member `key`: nullopt if the line is not
/// one flat-readable object or the type is not a plain string (type names need no escapes).
std::optional<std::string_view> read_typed(std::string_view line, FlatObject& o,
                                           std::string_view key) {
  if (!read_flat_object(line, o)) return std::nullopt;
  FlatField* f = o.find(key);
  if (f == nullptr || !f->text) return std::nullopt;
  return f->text;
}

}  // namespace

std::optional<Request> read_task_request(std::string_view line) {
  Request r;
  if (!read_task_request(line, r)) return std::nullopt;
  return r;
}

bool read_task_request(std::string_view line, Request& r) {
  FlatObject o;
  std::optional<std::string_view> name = read_typed(line, o, "requestType");
  if (!name) return false;
  std::optional<RequestType> type = parse_request_type(*name);
  if (type != RequestType::EXECUTE && type != RequestType::CANCEL) return false;
  r.type = *type;
  std::optional<std::string> task;
  if (!optional_string(o, "task", task) || !task) return false;
  r.task = std::move(*task);
  if (r.type == RequestType::EXECUTE) {
    std::optional<std::string> script;
    if (!optional_string(o, "script", script) || !optional_object(o, "inputs", r.inputs) ||
        !optional_string(o, "queue", r.queue)) {
      return false;
    }
    if (script) r.script = std::move(*script);
  }
  return true;
}

std::optional<Response> read_task_response(std::string_view line) {
  Response r;
  if (!read_task_response(line, r)) return std::nullopt;
  return r;
}

bool read_task_response(std::string_view line, Response& r) {
  FlatObject o;
  std::optional<std::string_view> name = read_typed(line, o, "responseType");
  if (!name) return false;
  std::optional<ResponseType> type = parse_response_type(*name);
  if (!type) return false;
  r.type = *type;
  if (!optional_string(o, "task", r.task) || !r.task) return false;
  switch (r.type) {
    case ResponseType::LAUNCH:
    case ResponseType::CANCELATION:
      break;
    case ResponseType::UPDATE:
      if (!optional_string(o, "message", r.message) || !optional_int(o, "current", r.current) ||
          !optional_int(o, "maximum", r.maximum)) {
        return false;
      }
      if (FlatField* info = o.find("info")) {
        r.info = info->text ? Value(std::string(*info->text)) : std::move(*info->value);
      }
      break;
    case ResponseType::COMPLETION:
      if (!optional_object(o, "outputs", r.outputs)) return false;
      break;
    case ResponseType::FAILURE:
      if (FlatField* error = o.find("error")) {
        // As to_response(): a non-string error is kept as its JSON text.
        if (error->text) {
          r.error.emplace(*error->text);
        } else if (error->value->is_string()) {
          r.error = error->value->get<std::string>();
        } else if (!error->value->is_null()) {
          r.error = write(*error->value);
        }
      }
      break;
    default:  // HELLO, CALL, RELEASE, CRASH: rare, and read with their checks
      return false;
  }
  return true;
}

}  // namespace appose::detail::codec
