#pragma once

// The fast lane's promise (src/wire/fast_lane.hpp), as one check the unit tests and the
// split_line fuzz target share: a line the fast lane reads gives exactly what the general path
// (split_line(), then to_request()/to_response()) gives for it.

#include <string>
#include <string_view>

#include "support/same_value.hpp"
#include "wire/fast_lane.hpp"
#include "wire/line_scan.hpp"
#include "wire/messages.hpp"

namespace appose::test {

/// What differs between the two paths for `line` as a request and as a response: empty when
/// the fast lane declines the line or agrees with the general path.
inline std::string fast_lane_mismatch(std::string_view line) {
  namespace codec = detail::codec;
  const auto fast_request = codec::read_task_request(line);
  const auto fast_response = codec::read_task_response(line);
  if (!fast_request && !fast_response) return {};
  codec::LineContents contents = codec::split_line(line);
  if (contents.messages.size() != 1 || !contents.invalid.empty()) {
    return "the fast lane read a line that is not exactly one message";
  }
  // The general path's reading of the one message (`decode`: to_request or to_response), or
  // what it says when it refuses it.
  std::string refused;
  auto general = [&](auto decode, const char* what) {
    try {
      return decode(contents.messages.front());
    } catch (const std::exception& e) {
      refused = std::string("the fast lane read a ") + what +
                " that the general path refuses: " + e.what();
      return decltype(decode(contents.messages.front())){};
    }
  };
  if (fast_request) {
    const codec::Request slow = general(codec::to_request, "request");
    if (!refused.empty()) return refused;
    if (slow.task != fast_request->task || slow.type != fast_request->type ||
        slow.script != fast_request->script || slow.queue != fast_request->queue ||
        !same_value(Value(slow.inputs), Value(fast_request->inputs))) {
      return "the fast lane read a request differently";
    }
  }
  if (fast_response) {
    const codec::Response slow = general(codec::to_response, "response");
    if (!refused.empty()) return refused;
    const codec::Response& fast = *fast_response;
    if (slow.type != fast.type || slow.task != fast.task || slow.message != fast.message ||
        slow.current != fast.current || slow.maximum != fast.maximum ||
        !same_value(slow.info, fast.info) ||
        !same_value(Value(slow.outputs), Value(fast.outputs)) || slow.error != fast.error ||
        slow.implementation != fast.implementation || slow.version != fast.version ||
        slow.call != fast.call || slow.var != fast.var || slow.op != fast.op ||
        slow.name != fast.name || !same_value(Value(slow.args), Value(fast.args)) ||
        !slow.regions.empty() || !fast.regions.empty()) {
      return "the fast lane read a response differently";
    }
  }
  return {};
}

}  // namespace appose::test
