// The protocol's fast lane (src/wire/fast_lane.hpp): the lines of nearly every task are read
// without a Value tree, and whatever it reads must be exactly what the general path reads
// (tests/support/fast_lane_check.hpp, which the split_line fuzz target runs too). Lines it is
// not sure of it declines, leaving them to the general path and its reports.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "support/fast_lane_check.hpp"
#include "support/test_support.hpp"
#include "unit/codec_helpers.hpp"
#include "wire/fast_lane.hpp"
#include "wire/messages.hpp"

namespace appose::detail::codec {
namespace {

using test::fast_lane_mismatch;

Response task_response(ResponseType type, std::string task) {
  Response r;
  r.type = type;
  r.task = std::move(task);
  return r;
}

TEST(FastLane, ReadsWhatTheWritersWrite) {
  Request execute;
  execute.task = "0123456789abcdef0123456789abcdef";
  execute.script = "noop";
  const std::string execute_line = encode_execute(execute.task, execute.script, {}, std::nullopt);
  std::optional<Request> r = read_task_request(execute_line.substr(0, execute_line.size() - 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, RequestType::EXECUTE);
  EXPECT_EQ(r->task, execute.task);
  EXPECT_EQ(r->script, "noop");
  EXPECT_FALSE(r->queue);

  Request cancel;
  cancel.type = RequestType::CANCEL;
  cancel.task = "t";
  ASSERT_TRUE(read_task_request(encode_request(cancel)));

  std::vector<Response> responses{
      task_response(ResponseType::LAUNCH, "t"), task_response(ResponseType::COMPLETION, "t"),
      task_response(ResponseType::CANCELATION, "t"), task_response(ResponseType::FAILURE, "t"),
      task_response(ResponseType::UPDATE, "t")};
  responses[1].outputs = Args{{"total", 4.5}, {"name", "x\ny \u00e9"}};
  responses[3].error = "Traceback:\n  boom";
  responses[4].message = "step 1";
  responses[4].current = 1;
  responses[4].maximum = 10;
  responses[4].info = Args{{"eta", 2}};
  for (const Response& response : responses) {
    const std::string line = encode_response(response);
    std::optional<Response> read = read_task_response(line);
    ASSERT_TRUE(read) << line;
    EXPECT_EQ(read->type, response.type) << line;
    EXPECT_EQ(read->task, response.task) << line;
    EXPECT_EQ(fast_lane_mismatch(line), "") << line;
  }
  std::optional<Response> update = read_task_response(encode_response(responses[4]));
  EXPECT_EQ(update->message, "step 1");
  EXPECT_EQ(update->current, 1);
  EXPECT_EQ(update->maximum, 10);
  EXPECT_EQ(update->info.as_object().at("eta").get<int>(), 2);
  std::optional<Response> completion = read_task_response(encode_response(responses[1]));
  EXPECT_EQ(completion->outputs.at("name").get<std::string>(), "x\ny \u00e9");
}

TEST(FastLane, ReadsThePeersLines) {
  // appose-python's worker: payload first, `info` null; appose-java: a dashed UUID and no queue.
  EXPECT_TRUE(read_task_response(
      R"({"message":"half","current":1,"maximum":2,"info":null,"task":"a","responseType":"UPDATE"})"));
  EXPECT_TRUE(read_task_request(
      R"({"task":"87427f91-d193-4b25-8d35-e1292a34b5c4","requestType":"EXECUTE","script":"x","inputs":{"gamma":2.2}})"));
  // White space anywhere JSON allows it, and around the object.
  EXPECT_TRUE(read_task_response(" { \"task\" : \"a\" ,\t\"responseType\":\"LAUNCH\" }\r\f"));
  // A string with escapes is read by the general reader, within the fast lane.
  std::optional<Response> failure = read_task_response(
      R"({"error":"line\n\"quoted\" \u00e9","task":"a","responseType":"FAILURE"})");
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error, "line\n\"quoted\" \u00e9");
}

TEST(FastLane, DeclinesWhatItCannotReadExactly) {
  const std::vector<std::string> requests{
      R"({"task":"a","requestType":"EXECUTE"}{"task":"b","requestType":"EXECUTE"})",
      R"(printed {"task":"a","requestType":"EXECUTE"})",
      R"({"task":"a","requestType":"EXECUTE"} trailing)",
      R"({"task":"a","task":"b","requestType":"EXECUTE"})",
      R"({"t\u0061sk":"a","requestType":"EXECUTE"})",
      R"({"task":7,"requestType":"EXECUTE"})",
      R"({"task":null,"requestType":"EXECUTE"})",
      R"({"requestType":"EXECUTE"})",
      R"({"task":"a","requestType":"EXECUTE","inputs":[1]})",
      R"({"task":"a","requestType":"EXECUTE","script":3})",
      R"({"task":"a","requestType":"EXECUTE","queue":{}})",
      R"({"task":"a","requestType":"REPLY"})",
      R"({"requestType":"REPLY","call":"c","result":1})",
      "{\"task\":\"a\",\"requestType\":\"EXECUTE\",\"inputs\":{\"s\":\"\xff\"}}",
      R"({"task":"a","requestType":"EXECUTE","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7})",
      R"({"task":"a","requestType":"EXECUTE")",
      R"({"task":"a","requestType":"EXEC")",
      "",
  };
  for (const std::string& line : requests) {
    EXPECT_FALSE(read_task_request(line)) << line;
  }
  const std::vector<std::string> responses{
      R"({"task":"a","responseType":"LAUNCH"}{"task":"a","responseType":"COMPLETION"})",
      R"({"responseType":"HELLO","implementation":"x","version":"0.12"})",
      R"({"responseType":"CALL","call":"c","var":"v","op":"dir"})",
      R"({"responseType":"RELEASE","regions":[]})",
      R"({"task":"a","responseType":"CRASH"})",
      R"({"task":"a","responseType":"launch"})",
      R"({"responseType":"LAUNCH"})",
      R"({"task":"a","responseType":"UPDATE","current":"1"})",
      R"({"task":"a","responseType":"UPDATE","current":1.5})",
      R"({"task":"a","responseType":"UPDATE","maximum":18446744073709551615})",
      R"({"task":"a","responseType":"COMPLETION","outputs":"x"})",
      "{\"task\":\"a\",\"responseType\":\"COMPLETION\",\"outputs\":{\"s\":\"\xc3\"}}",
  };
  for (const std::string& line : responses) {
    EXPECT_FALSE(read_task_response(line)) << line;
  }
}

TEST(FastLane, AgreesWithTheGeneralPathOnTheConformanceVectors) {
  std::ifstream in(std::filesystem::path(test::conformance_dir()) / "messages.jsonl");
  ASSERT_TRUE(in);
  std::string entry;
  int read = 0;
  while (std::getline(in, entry)) {
    if (entry.find_first_not_of(" \t\r") == std::string::npos) continue;
    const Args c = parse(entry).as_object();
    std::string line;
    if (const Value* plain = c.find("line")) {
      line = plain->get<std::string>();
    } else {  // bytes that are not UTF-8, given as hex
      const auto hex = c.at("line_hex").get<std::string>();
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        line += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    EXPECT_EQ(fast_lane_mismatch(line), "") << line;
    if (read_task_request(line) || read_task_response(line)) ++read;
  }
  EXPECT_GE(read, 8);  // the vectors' plain requests and responses take the fast lane
}

TEST(FastLane, AgreesWithTheGeneralPathOnRandomValuesAndDamagedLines) {
  test::RandomValues random(20261203);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Response response = task_response(ResponseType::COMPLETION, random.text());
    Value outputs = random.value(3);
    if (outputs.is_object()) response.outputs = outputs.as_object();
    Response update = task_response(ResponseType::UPDATE, "u");
    update.info = random.value(2);
    Request execute;
    execute.task = random.text();
    execute.script = random.text();
    Value inputs = random.value(3);
    if (inputs.is_object()) execute.inputs = inputs.as_object();
    for (std::string line :
         {encode_response(response), encode_response(update), encode_request(execute)}) {
      ASSERT_EQ(fast_lane_mismatch(line), "") << line;
      // Damaged: a byte changed, or the line cut short.
      std::string damaged = line;
      damaged[rng() % damaged.size()] = static_cast<char>(rng() % 256);
      ASSERT_EQ(fast_lane_mismatch(damaged), "") << damaged;
      ASSERT_EQ(fast_lane_mismatch(line.substr(0, rng() % line.size())), "");
    }
  }
}

// This library's own lines are walked in their exact compact form, field by field (the
// CompactWalk in wire/fast_lane.cpp); any other form is read the flat way. Every byte of such
// lines changed, dropped or given a space beside it must still read as the general path
// reads it, or be declined.
TEST(FastLane, AgreesWithTheGeneralPathOnEveryByteOfTheCompactForm) {
  Request execute;
  execute.task = "0123456789abcdef0123456789abcdef";
  execute.script = "noop";
  execute.inputs = Args{{"x", 1}, {"s", "a\"b"}};
  execute.queue = "main";
  Request bare = execute;
  bare.inputs = {};
  bare.queue.reset();
  Request cancel;
  cancel.type = RequestType::CANCEL;
  cancel.task = execute.task;
  std::vector<std::string> lines{encode_request(execute), encode_request(bare),
                                 encode_request(cancel)};
  for (ResponseType type : {ResponseType::LAUNCH, ResponseType::UPDATE, ResponseType::COMPLETION,
                            ResponseType::FAILURE, ResponseType::CANCELATION}) {
    std::string line;
    append_task_event(line, execute.task, type);
    lines.push_back(line);
  }
  const std::string bytes = std::string(" \"\\{}[],:n0x\x7f\xc3", 14) + std::string(1, '\0');
  int checked = 0;
  for (std::string line : lines) {
    if (line.back() == '\n') line.pop_back();
    ASSERT_TRUE(read_task_request(line) || read_task_response(line)) << line;
    ASSERT_EQ(fast_lane_mismatch(line), "") << line;
    for (std::size_t at = 0; at < line.size(); ++at) {
      std::vector<std::string> variants{line.substr(0, at) + line.substr(at + 1),
                                        line.substr(0, at) + " " + line.substr(at)};
      for (char b : bytes) {
        std::string changed = line;
        changed[at] = b;
        variants.push_back(changed);
      }
      for (const std::string& v : variants) {
        ASSERT_EQ(fast_lane_mismatch(v), "") << v;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

}  // namespace
}  // namespace appose::detail::codec
