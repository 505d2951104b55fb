// libFuzzer target: codec::split_line, the decoder every stdout line of a worker goes through
// (docs/fuzzing.md). A worker may print anything, so whatever the bytes, the decoder must not
// throw, must report invalid text as valid UTF-8 (it reaches logs and callbacks), and each
// message it finds must be one the writer reproduces exactly. The messages then go on to
// to_response / to_request, which may refuse them (ProtocolError) but not otherwise fail, and
// what they accept must survive encode -> split -> decode unchanged. The fast lane
// (wire/fast_lane.hpp) must read any line it takes exactly as that general path does.

#include <appose/error.hpp>
#include <appose/protocol.hpp>
#include <appose/value.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "fuzz_support.hpp"
#include "support/fast_lane_check.hpp"
#include "util/utf8.hpp"
#include "wire/line_scan.hpp"
#include "wire/messages.hpp"

namespace codec = appose::detail::codec;
namespace utf8 = appose::detail::utf8;
using appose::Args;
using appose::ResponseType;
using appose::Value;
using appose::fuzz::same_value;

namespace {

// The decoder's notion of a blank line (line_scan.cpp's is_line_space): JSON white space plus the
// vertical tab and form feed.
bool is_line_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (!is_line_space(c)) return false;
  }
  return true;
}

/// The one message that `line` must decode to, checked to be the only thing on it.
Args single_message(const std::string& line) {
  codec::LineContents contents;
  try {
    contents = codec::split_line(line);
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("split_line of an encoded line", e);
  }
  APPOSE_FUZZ_CHECK(contents.messages.size() == 1 && contents.invalid.empty(),
                    "an encoded line did not split back into exactly one message");
  return std::move(contents.messages.front());
}

void check_response(const Args& message) {
  codec::Response response;
  try {
    response = codec::to_response(message);
  } catch (const appose::ProtocolError&) {
    return;
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("to_response", e);
  }
  std::string line;
  try {
    line = codec::encode_response(response);
  } catch (const appose::ProtocolError&) {
    // The one response a reader accepts but a writer refuses: no task id (HELLO needs none).
    APPOSE_FUZZ_CHECK(response.type != ResponseType::HELLO && !response.task,
                      "encode_response refused a decoded response that has a task id");
    return;
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("encode_response", e);
  }
  codec::Response back;
  try {
    back = codec::to_response(single_message(line));
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("to_response of an encoded response", e);
  }
  APPOSE_FUZZ_CHECK(back.type == response.type, "response round trip changed responseType");
  if (response.type != ResponseType::HELLO) {
    APPOSE_FUZZ_CHECK(back.task == response.task, "response round trip changed task");
  }
  switch (response.type) {
    case ResponseType::UPDATE:
      APPOSE_FUZZ_CHECK(back.message == response.message && back.current == response.current &&
                            back.maximum == response.maximum &&
                            same_value(back.info, response.info),
                        "UPDATE round trip changed a field");
      break;
    case ResponseType::COMPLETION:
      APPOSE_FUZZ_CHECK(same_value(Value(back.outputs), Value(response.outputs)),
                        "COMPLETION round trip changed outputs");
      break;
    case ResponseType::FAILURE:
      APPOSE_FUZZ_CHECK(back.error == response.error, "FAILURE round trip changed error");
      break;
    case ResponseType::HELLO:
      APPOSE_FUZZ_CHECK(
          back.implementation == response.implementation && back.version == response.version,
          "HELLO round trip changed a field");
      break;
    default:
      break;
  }
}

void check_request(const Args& message) {
  codec::Request request;
  try {
    request = codec::to_request(message);
  } catch (const appose::ProtocolError&) {
    return;
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("to_request", e);
  }
  codec::Request back;
  try {
    back = codec::to_request(single_message(codec::encode_request(request)));
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("encode_request -> to_request", e);
  }
  APPOSE_FUZZ_CHECK(back.task == request.task && back.type == request.type,
                    "request round trip changed task or requestType");
  if (request.type == appose::RequestType::EXECUTE) {
    APPOSE_FUZZ_CHECK(back.script == request.script && back.queue == request.queue &&
                          same_value(Value(back.inputs), Value(request.inputs)),
                      "EXECUTE round trip changed script, inputs or queue");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  codec::LineContents contents;
  try {
    contents = codec::split_line(line);
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("split_line (documented never to throw)", e);
  }

  for (const std::string& text : contents.invalid) {
    APPOSE_FUZZ_CHECK(utf8::is_valid(text), "invalid() text is not valid UTF-8");
    APPOSE_FUZZ_CHECK(!is_blank(text), "invalid() holds a blank piece");
  }
  if (is_blank(line)) {
    APPOSE_FUZZ_CHECK(contents.messages.empty() && contents.invalid.empty(),
                      "a blank line yielded something");
  }
  if (line.find('{') == std::string_view::npos) {
    APPOSE_FUZZ_CHECK(contents.messages.empty(), "a message without a '{' on the line");
  }

  std::string mismatch;
  try {
    mismatch = appose::test::fast_lane_mismatch(line);
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("the fast lane or its comparison with the general path", e);
  }
  APPOSE_FUZZ_CHECK(mismatch.empty(), "the fast lane read a line unlike the general path");

  for (const Args& message : contents.messages) {
    Value value(message);
    std::string encoded;
    Value reparsed;
    try {
      encoded = codec::write(value);
      reparsed = codec::parse(encoded);
    } catch (const std::exception& e) {
      APPOSE_FUZZ_UNEXPECTED("write -> parse of a decoded message", e);
    }
    APPOSE_FUZZ_CHECK(same_value(value, reparsed), "write -> parse changed a decoded message");
    APPOSE_FUZZ_CHECK(same_value(Value(single_message(encoded)), value),
                      "write -> split_line changed a message");
    check_response(message);
    check_request(message);
  }
  return 0;
}
