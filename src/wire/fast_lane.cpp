#include "wire/fast_lane.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "appose/error.hpp"
#include "core/json.hpp"
#include "core/json_reader.hpp"
#include "core/json_scan.hpp"

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

/// Walks a line in the exact form appose-cpp's encoders write (wire/messages.cpp): no white
/// space, the fields in their order. A line from this library's worker or service is read
/// field by field against that form, with no key scanned or looked up: about a fifth of the
/// flat read's instructions. Any difference (white space, another order or field: the lines
/// of appose-python and appose-java) declines, and the flat read takes the line; what the
/// walk accepts it reads as the flat read would (tests/support/fast_lane_check.hpp).
class CompactWalk {
 public:
  explicit CompactWalk(std::string_view line) : line_(line) {}

  /// Steps over `text` if the line goes on with it.
  bool literal(std::string_view text) noexcept {
    if (line_.substr(at_, text.size()) != text) return false;
    at_ += text.size();
    return true;
  }
  /// Reads a string without escapes up to its closing quote (its opening quote was the end of
  /// the literal before), as the flat read takes a plain string.
  bool plain(std::string_view& out) noexcept {
    const auto* begin = reinterpret_cast<const unsigned char*>(line_.data());
    const auto* end = begin + line_.size();
    const auto* stop = plain_run_end(begin + at_, end, /*del_plain=*/true);
    if (stop == end || *stop != '"') return false;
    const auto to = static_cast<std::size_t>(stop - begin);
    out = line_.substr(at_, to - at_);
    at_ = to + 1;
    return true;
  }
  /// Reads a JSON object, or null for none, as the flat read takes a message's `inputs`.
  bool object_or_null(Args& out) {
    if (literal("{}")) return true;  // most small tasks': nothing to read
    if (literal("null")) return true;
    Value v;
    ReadResult read = read_value(line_, at_, v, /*depth=*/1);
    if (!read.ok || read.bad_utf8 || !v.is_object()) return false;
    out = std::move(v.as_object());
    at_ = read.end;
    return true;
  }
  /// Whether only line white space is left, as the flat read allows after the object.
  [[nodiscard]] bool at_end() const noexcept {
    for (std::size_t i = at_; i < line_.size(); ++i) {
      if (!is_line_space(line_[i])) return false;
    }
    return true;
  }

 private:
  std::string_view line_;
  std::size_t at_ = 0;
};

/// read_task_request() for a line in the compact form (CompactWalk); false: read it the flat
/// way. `r` is left as it was when this returns false.
bool read_compact_request(std::string_view line, Request& r) {
  CompactWalk walk(line);
  std::string_view task;
  std::string_view type_name;
  if (!walk.literal(R"({"task":")") || !walk.plain(task) || !walk.literal(R"(,"requestType":")") ||
      !walk.plain(type_name)) {
    return false;
  }
  const std::optional<RequestType> type = parse_request_type(type_name);
  if (type == RequestType::CANCEL) {
    if (!walk.literal("}") || !walk.at_end()) return false;
    r.type = *type;
    r.task = task;
    return true;
  }
  std::string_view script;
  Args inputs;
  std::optional<std::string_view> queue;
  if (type != RequestType::EXECUTE || !walk.literal(R"(,"script":")") || !walk.plain(script) ||
      !walk.literal(R"(,"inputs":)") || !walk.object_or_null(inputs) ||
      !walk.literal(R"(,"queue":)")) {
    return false;
  }
  if (walk.literal(R"(")")) {
    if (!walk.plain(queue.emplace())) return false;
  } else if (!walk.literal("null")) {
    return false;
  }
  if (!walk.literal("}") || !walk.at_end()) return false;
  r.type = *type;
  r.task = task;
  r.script = script;
  r.inputs = std::move(inputs);
  if (queue) r.queue.emplace(*queue);
  return true;
}

/// read_task_response() for a line in the compact form (CompactWalk): a task event that
/// carries nothing but its type (codec::append_task_event()); false: read it the flat way.
bool read_compact_response(std::string_view line, Response& r, std::string_view& task) {
  CompactWalk walk(line);
  // A COMPLETION without outputs writes them empty, first.
  if (!walk.literal(R"({"outputs":{},"task":")") && !walk.literal(R"({"task":")")) return false;
  std::string_view id;
  std::string_view type_name;
  if (!walk.plain(id) || !walk.literal(R"(,"responseType":")") || !walk.plain(type_name) ||
      !walk.literal("}") || !walk.at_end()) {
    return false;
  }
  const std::optional<ResponseType> type = parse_response_type(type_name);
  if (!type) return false;
  switch (*type) {
    case ResponseType::LAUNCH:
    case ResponseType::UPDATE:
    case ResponseType::COMPLETION:
    case ResponseType::FAILURE:
    case ResponseType::CANCELATION:
      r.type = *type;
      task = id;
      return true;
    default:  // as the flat read: HELLO, CALL, RELEASE and CRASH are read with their checks
      return false;
  }
}

}  // namespace

std::optional<Request> read_task_request(std::string_view line) {
  Request r;
  if (!read_task_request(line, r)) return std::nullopt;
  return r;
}

bool read_task_request(std::string_view line, Request& r) {
  if (read_compact_request(line, r)) return true;
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
  std::string_view task;
  if (!read_task_response(line, r, task)) return false;
  if (!r.task) r.task.emplace(task);
  return true;
}

bool read_task_response(std::string_view line, Response& r, std::string_view& task) {
  if (read_compact_response(line, r, task)) return true;
  FlatObject o;
  std::optional<std::string_view> name = read_typed(line, o, "responseType");
  if (!name) return false;
  std::optional<ResponseType> type = parse_response_type(*name);
  if (!type) return false;
  r.type = *type;
  // Required, and a string: a null or missing id is declined, as the general path drops it.
  FlatField* id = o.find("task");
  if (id == nullptr) return false;
  if (id->text) {
    task = *id->text;
  } else {
    if (!id->value->is_string()) return false;
    r.task = id->value->get<std::string>();  // rare: an id written with escapes
    task = *r.task;
  }
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
