// Requests and responses (wire/messages.hpp): the bytes the peers write, decoding with field
// checks, and the messages after 0.12 (CALL, REPLY, RELEASE) with protocol version checks.

#include "wire/messages.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "appose/version.hpp"
#include "core/json.hpp"
#include "support/same_value.hpp"
#include "unit/codec_helpers.hpp"
#include "wire/line_scan.hpp"

namespace appose::detail::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using test::kInf;
using test::kNaN;
using test::message_of;
using test::response;
using test::same_value;

// ---------------------------------------------------------------------------------------------
// Requests and responses

TEST(Requests, EncodeAsAppposePythonDoes) {
  Request r{
      .task = "4f1c", .type = RequestType::EXECUTE, .script = "5 + 6", .inputs = {}, .queue = {}};
  EXPECT_EQ(encode_request(r),
            R"({"task":"4f1c","requestType":"EXECUTE","script":"5 + 6","inputs":{},"queue":null})");
  r.queue = "main";
  r.inputs = Args{{"x", 21}, {"name", "é"}};
  EXPECT_EQ(encode_request(r), R"({"task":"4f1c","requestType":"EXECUTE","script":"5 + 6",)"
                               R"("inputs":{"x":21,"name":"\u00e9"},"queue":"main"})");
  Request cancel{
      .task = "4f1c", .type = RequestType::CANCEL, .script = "ignored", .inputs = {}, .queue = {}};
  EXPECT_EQ(encode_request(cancel), R"({"task":"4f1c","requestType":"CANCEL"})");
}

// The task's own encoder (no copy of the inputs) writes the very bytes encode_request() does,
// plus the newline, and refuses what it refuses.
TEST(Requests, EncodeExecuteMatchesEncodeRequest) {
  Args inputs{{"x", 21}, {"v", Array{1.5, "é", Value()}}, {"nested", Args{{"k", true}}}};
  for (const std::optional<std::string>& queue :
       {std::optional<std::string>(), std::optional<std::string>("main")}) {
    Request r{.task = "4f1c",
              .type = RequestType::EXECUTE,
              .script = "x * 2",
              .inputs = inputs,
              .queue = queue};
    EXPECT_EQ(encode_execute("4f1c", "x * 2", inputs, queue), encode_request(r) + "\n");
  }
  WriteOptions refuse;
  refuse.non_finite = NonFinite::refuse;
  Args nan{{"x", std::numeric_limits<double>::quiet_NaN()}};
  EXPECT_THROW((void)encode_execute("4f1c", "x", nan, std::nullopt, refuse), ProtocolError);
}

TEST(Requests, DecodeAndCheck) {
  auto decode = [](std::string_view line) {
    LineContents c = split_line(line);
    EXPECT_EQ(c.messages.size(), 1U);
    return to_request(c.messages.at(0));
  };
  Request r = decode(R"({"task":"t","requestType":"EXECUTE","script":"s","inputs":{"a":1}})");
  EXPECT_EQ(r.type, RequestType::EXECUTE);
  EXPECT_EQ(r.script, "s");
  EXPECT_EQ(r.inputs.at("a"), Value(1));
  EXPECT_FALSE(r.queue);
  r = decode(R"({"task":"t","requestType":"EXECUTE","queue":"main"})");
  EXPECT_EQ(r.script, "");
  EXPECT_TRUE(r.inputs.empty());
  EXPECT_EQ(r.queue, "main");
  EXPECT_EQ(decode(R"({"task":"t","requestType":"CANCEL"})").type, RequestType::CANCEL);

  for (const char* bad :
       {R"({"requestType":"CANCEL"})", R"({"task":5,"requestType":"CANCEL"})", R"({"task":"t"})",
        R"({"task":"t","requestType":"RUN"})", R"({"task":"t","requestType":"EXECUTE","script":1})",
        R"({"task":"t","requestType":"EXECUTE","inputs":[]})",
        R"({"task":"t","requestType":"EXECUTE","queue":1})"}) {
    EXPECT_THROW((void)to_request(split_line(bad).messages.at(0)), ProtocolError) << bad;
  }
  EXPECT_THAT(
      message_of<ProtocolError>([] {
        (void)to_request(
            split_line(R"({"task":"t","requestType":"EXECUTE","inputs":7})").messages.at(0));
      }),
      HasSubstr("'inputs' must be an object, but it is an int"));
}

TEST(Responses, EncodeAsAppposePythonsWorkerDoes) {
  Response r = response(ResponseType::LAUNCH, "t1");
  EXPECT_EQ(encode_response(r), R"({"task":"t1","responseType":"LAUNCH"})");
  r.type = ResponseType::UPDATE;
  EXPECT_EQ(encode_response(r), R"({"info":null,"task":"t1","responseType":"UPDATE"})");
  r.message = "Processing step 0 of 91";
  r.current = 0;
  r.maximum = 91;
  EXPECT_EQ(encode_response(r),
            R"({"message":"Processing step 0 of 91","current":0,"maximum":91,"info":null,)"
            R"("task":"t1","responseType":"UPDATE"})");
  Response done = response(ResponseType::COMPLETION, "t1");
  EXPECT_EQ(encode_response(done), R"({"outputs":{},"task":"t1","responseType":"COMPLETION"})");
  done.outputs["result"] = 11;
  EXPECT_EQ(encode_response(done),
            R"({"outputs":{"result":11},"task":"t1","responseType":"COMPLETION"})");
  Response fail = response(ResponseType::FAILURE, "t1");
  EXPECT_EQ(encode_response(fail), R"({"task":"t1","responseType":"FAILURE"})");
  fail.error = "Traceback\n";
  EXPECT_EQ(encode_response(fail),
            R"({"error":"Traceback\n","task":"t1","responseType":"FAILURE"})");
  Response cancel = response(ResponseType::CANCELATION, "t1");
  EXPECT_EQ(encode_response(cancel), R"({"task":"t1","responseType":"CANCELATION"})");
  Response hello = response(ResponseType::HELLO);
  hello.implementation = "appose-cpp";
  hello.version = "0.1.0";
  EXPECT_EQ(encode_response(hello),
            R"({"responseType":"HELLO","implementation":"appose-cpp","version":"0.1.0"})");
  EXPECT_THROW((void)encode_response(response(ResponseType::CRASH, "t1")), ProtocolError);
  EXPECT_THROW((void)encode_response(response(ResponseType::LAUNCH)), ProtocolError);
}

TEST(Responses, DecodeAndCheckFieldTypes) {
  auto decode = [](std::string_view line) { return to_response(split_line(line).messages.at(0)); };
  Response u = decode(
      R"({"message":"m","current":3,"maximum":9.0,"info":{"a":[1]},"task":"t","responseType":"UPDATE"})");
  EXPECT_EQ(u.type, ResponseType::UPDATE);
  EXPECT_EQ(u.task, "t");
  EXPECT_EQ(u.message, "m");
  EXPECT_EQ(u.current, 3);
  EXPECT_EQ(u.maximum, 9);
  EXPECT_EQ(u.info, Value(Args{{"a", Array{1}}}));
  u = decode(R"({"task":"t","responseType":"UPDATE"})");
  EXPECT_FALSE(u.message);
  EXPECT_FALSE(u.current);
  EXPECT_TRUE(u.info.is_null());

  Response c = decode(R"({"task":"t","responseType":"COMPLETION"})");
  EXPECT_TRUE(c.outputs.empty());
  c = decode(R"({"outputs":{"result":11},"task":"t","responseType":"COMPLETION"})");
  EXPECT_EQ(c.outputs.at("result"), Value(11));

  Response f = decode(R"({"error":"boom","task":"t","responseType":"FAILURE"})");
  EXPECT_EQ(f.error, "boom");
  // A script may fail with a non-string; the terminal response is kept, as JSON text.
  f = decode(R"({"error":{"code":3},"task":"t","responseType":"FAILURE"})");
  EXPECT_EQ(f.error, R"({"code":3})");

  Response h =
      decode(R"({"responseType":"HELLO","implementation":"appose-python","version":"0.13.0"})");
  EXPECT_EQ(h.type, ResponseType::HELLO);
  EXPECT_FALSE(h.task);
  EXPECT_EQ(h.implementation, "appose-python");
  EXPECT_EQ(h.version, "0.13.0");

  EXPECT_FALSE(decode(R"({"responseType":"LAUNCH"})").task);

  for (const char* bad :
       {R"({"task":"t"})", R"({"task":"t","responseType":"BOGUS"})",
        R"({"task":"t","responseType":7})", R"({"task":1,"responseType":"LAUNCH"})",
        R"({"task":"t","responseType":"CRASH","error":"x"})",
        R"({"task":"t","responseType":"UPDATE","current":"3"})",
        R"({"task":"t","responseType":"UPDATE","current":3.5})",
        R"({"task":"t","responseType":"UPDATE","maximum":1e300})",
        R"({"task":"t","responseType":"UPDATE","maximum":18446744073709551615})",
        R"({"task":"t","responseType":"UPDATE","message":5})",
        R"({"task":"t","responseType":"COMPLETION","outputs":[1]})"}) {
    EXPECT_THROW((void)decode(bad), ProtocolError) << bad;
  }
  EXPECT_THAT(
      message_of<ProtocolError>([&] { (void)decode(R"({"task":"t","responseType":"BOGUS"})"); }),
      HasSubstr("BOGUS"));
  EXPECT_THAT(message_of<ProtocolError>(
                  [&] { (void)decode(R"({"task":"t","responseType":"UPDATE","current":"abc"})"); }),
              HasSubstr("'current' must be an integer"));
}

TEST(Responses, RoundTripThroughTheLine) {
  Response r = response(ResponseType::UPDATE, "t9");
  r.message = "ünïcode";
  r.current = -3;
  r.maximum = std::numeric_limits<std::int64_t>::max();
  r.info = Args{{"loss", kNaN}, {"big", BigInteger{"-1208925819614629174706175"}}};
  Response back = to_response(split_line(encode_response(r)).messages.at(0));
  EXPECT_EQ(back.task, r.task);
  EXPECT_EQ(back.message, r.message);
  EXPECT_EQ(back.current, r.current);
  EXPECT_EQ(back.maximum, r.maximum);
  EXPECT_TRUE(same_value(back.info, r.info));
}
// ---------------------------------------------------------------------------------------------
// After 0.12 (upstream, unreleased): CALL / REPLY / RELEASE, regions, version checks

TEST(PostTwelve, CallAndReleaseDecodeAndEncodeBack) {
  const std::string lines[] = {
      R"({"responseType":"CALL","call":"c1","var":"_appose_service_0","op":"get","name":"readTile"})",
      R"({"responseType":"CALL","call":"c2","var":"_appose_service_1","op":"call","args":[0,0]})",
      R"({"responseType":"CALL","call":"c3","var":"_appose_service_0","op":"dir"})",
      R"({"responseType":"RELEASE","regions":[{"name":"psm_1a2b3c4d","offset":4096},{"name":"psm_4812f794","offset":0}]})",
  };
  for (const std::string& line : lines) {
    LineContents c = split_line(line);
    ASSERT_EQ(c.messages.size(), 1U) << line;
    Response r = to_response(c.messages[0]);
    EXPECT_FALSE(r.task.has_value()) << line;
    EXPECT_EQ(encode_response(r), line);
  }
  Response get = to_response(split_line(lines[0]).messages.at(0));
  EXPECT_EQ(get.type, ResponseType::CALL);
  EXPECT_EQ(get.call, "c1");
  EXPECT_EQ(get.var, "_appose_service_0");
  EXPECT_EQ(get.op, "get");
  EXPECT_EQ(get.name, "readTile");
  Response call = to_response(split_line(lines[1]).messages.at(0));
  EXPECT_EQ(call.args.size(), 2U);
  Response release = to_response(split_line(lines[3]).messages.at(0));
  ASSERT_EQ(release.regions.size(), 2U);
  EXPECT_EQ(release.regions[0].name, "psm_1a2b3c4d");
  EXPECT_EQ(release.regions[0].offset, 4096U);
}

TEST(PostTwelve, AStrayTaskOnCallOrReleaseIsIgnored) {
  // They belong to no task; keeping the field would let a CALL be routed to a task, and the
  // encoder (which writes none) would not give back what was read. Found by fuzz_split_line.
  for (const char* line :
       {R"({"responseType":"CALL","task":"t1","call":"c1","var":"v","op":"dir"})",
        R"({"responseType":"RELEASE","task":"t1","regions":[]})"}) {
    Response r = to_response(split_line(line).messages.at(0));
    EXPECT_FALSE(r.task.has_value()) << line;
    Response back = to_response(split_line(encode_response(r)).messages.at(0));
    EXPECT_EQ(back.type, r.type) << line;
    EXPECT_FALSE(back.task.has_value()) << line;
  }
}

TEST(PostTwelve, BadCallsAreRefusedButKeepTheirCallId) {
  struct Case {
    std::string line;
    std::string expected;
  };
  const Case cases[] = {
      {R"({"responseType":"CALL","call":"c1","op":"dir"})", "names no service object"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":"set"})", "unknown 'op'"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":42})", "'op' must be a string"},
      {R"({"responseType":"CALL","call":"c1","var":"v"})", "no 'op'"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":"get"})", "needs a 'name'"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":"dir","name":"x"})",
       "'name' goes only with op 'get'"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":"dir","args":[1]})",
       "'args' goes only with op 'call'"},
      {R"({"responseType":"CALL","call":"c1","var":"v","op":"call","args":7})",
       "'args' must be an array"},
  };
  for (const Case& c : cases) {
    Args m = split_line(c.line).messages.at(0);
    EXPECT_THAT(message_of<ProtocolError>([&] { (void)to_response(m); }), HasSubstr(c.expected))
        << c.line;
    EXPECT_EQ(call_id(m), "c1") << c.line;
  }
  // Without a string id there is nothing to address a REPLY to.
  Args no_id = split_line(R"({"responseType":"CALL","call":5,"var":"v","op":"dir"})").messages[0];
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)to_response(no_id); }), HasSubstr("'call'"));
  EXPECT_EQ(call_id(no_id), std::nullopt);
  EXPECT_EQ(call_id(split_line(R"({"responseType":"UPDATE","call":"c1"})").messages[0]),
            std::nullopt);
  // Task-less lines of a known type concern no task (the service only reports them).
  EXPECT_TRUE(known_without_task(no_id));
  EXPECT_TRUE(
      known_without_task(split_line(R"({"responseType":"RELEASE","regions":5})").messages[0]));
  EXPECT_FALSE(known_without_task(split_line(R"({"responseType":"BOGUS"})").messages[0]));
  EXPECT_FALSE(known_without_task(
      split_line(R"({"task":"t","responseType":"UPDATE","current":"x"})").messages[0]));
  EXPECT_THAT(
      message_of<ProtocolError>([&] {
        (void)to_response(
            split_line(R"({"responseType":"RELEASE","regions":[{"offset":1}]})").messages[0]);
      }),
      HasSubstr("without a block 'name'"));
}

TEST(PostTwelve, ReplyEncodesWithoutATask) {
  Reply failed{"c7", std::nullopt, "no service objects here"};
  EXPECT_EQ(encode_reply(failed),
            R"({"requestType":"REPLY","call":"c7","error":"no service objects here"})");
  Reply ok{"c8", Value(Array{Value(1), Value("two")}), std::nullopt};
  const std::string line = encode_reply(ok);
  EXPECT_EQ(line, R"({"requestType":"REPLY","call":"c8","result":[1,"two"]})");
  Args m = split_line(line).messages.at(0);
  EXPECT_EQ(to_request(m).type, RequestType::REPLY);
  EXPECT_EQ(to_request(m).task, "");
  Reply back = to_reply(m);
  EXPECT_EQ(back.call, "c8");
  ASSERT_TRUE(back.result.has_value());
  EXPECT_TRUE(same_value(*back.result, *ok.result));
  Request reply_as_request;
  reply_as_request.type = RequestType::REPLY;
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)encode_request(reply_as_request); }),
              HasSubstr("encode_reply"));
}
TEST(PostTwelve, SameProtocolComparesMajorMinor) {
  EXPECT_TRUE(same_protocol("0.12.0", "0.12.1"));
  EXPECT_TRUE(same_protocol("0.12", "0.12.0"));
  EXPECT_TRUE(same_protocol("0.12.1.dev0", "0.12.0"));
  EXPECT_TRUE(same_protocol("0.012.5", "0.12.0"));
  EXPECT_FALSE(same_protocol("0.13.0", "0.12.0"));
  EXPECT_FALSE(same_protocol("1.12.0", "0.12.0"));
  EXPECT_FALSE(same_protocol("0", "0"));
  EXPECT_FALSE(same_protocol("", ""));
  EXPECT_FALSE(same_protocol("v0.12.0", "v0.12.0"));
  EXPECT_FALSE(same_protocol("0.x", "0.x"));
  EXPECT_TRUE(same_protocol(kProtocolVersion, kProtocolVersion));
  // The generation in appose/version.hpp comes from the same build setting.
  EXPECT_TRUE(same_protocol(protocol_generation(), kProtocolVersion));
}

}  // namespace
}  // namespace appose::detail::codec
