// What a Service does with the messages upstream added after 0.12.0 (HELLO with another
// version, CALL / REPLY, RELEASE, shared-memory regions; docs/protocol.md), driven by
// tests/support/hostile_worker.cpp, which writes them by hand as upstream's worker does.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>

#include <appose/appose.hpp>

#include "core/json.hpp"
#include "support/test_support.hpp"

namespace appose {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Service worker(const std::string& scenario = "ok") {
  Environment env("/");
  return env.service({APPOSE_HOSTILE_WORKER}, {scenario});
}

/// Waits (10 s at most: a CALL left unanswered keeps its task pending for ever) and returns
/// the task's status; a failed task's error is in task.error().
TaskStatus finish(Task& task) {
  try {
    if (!task.wait_for(10s)) ADD_FAILURE() << "task " << task.id() << " still pending after 10 s";
  } catch (const TaskException&) {
    // The status says how it ended.
  }
  return task.status();
}

/// Runs a task that makes a CALL; returns the `error` of the REPLY the worker got (the worker
/// completes with that REPLY line as its output), after checking that it answers that CALL.
std::string reply_error(Service& service, const std::string& script) {
  Task task = service.task(script);
  if (finish(task) != TaskStatus::COMPLETE) {
    ADD_FAILURE() << script << ": " << task.error().value_or("no REPLY, the task is pending");
    return {};
  }
  Args outputs = task.outputs();
  const Value* reply = outputs.find("reply");
  if (reply == nullptr || !reply->is_object()) {
    ADD_FAILURE() << "no REPLY came back";
    return {};
  }
  const Args& r = reply->as_object();
  EXPECT_EQ(r.at("requestType"), Value("REPLY"));
  EXPECT_EQ(r.at("call"), Value("call-" + task.id()));
  EXPECT_EQ(r.find("task"), nullptr) << "a REPLY carries no task";
  const Value* error = r.find("error");
  if (error == nullptr || !error->is_string()) {
    ADD_FAILURE() << "a REPLY without an error";
    return {};
  }
  return error->get<std::string>();
}

TEST(ProtocolNext, CallGetsAnErrorReplyAndTheTaskCompletes) {
  test::Lines debug;
  Service service = worker();
  service.debug(debug.sink());
  const std::string error = reply_error(service, "call");
  EXPECT_THAT(error, HasSubstr("exports no service objects"));
  EXPECT_THAT(error, HasSubstr("_appose_service_0"));
  EXPECT_TRUE(service.invalid_lines().empty());
  EXPECT_TRUE(debug.wait_for({"CALL call-", "op 'get' on '_appose_service_0'"}));
  // The worker goes on serving.
  Task after = service.task("ok", {{"n", 4}});
  EXPECT_EQ(finish(after), TaskStatus::COMPLETE);
}

TEST(ProtocolNext, UndecodableCallStillGetsAReply) {
  test::Lines debug;
  Service service = worker();
  service.debug(debug.sink());
  const std::string error = reply_error(service, "bad_call");
  EXPECT_THAT(error, HasSubstr("could not decode the CALL"));
  EXPECT_THAT(error, HasSubstr("names no service object"));
  EXPECT_TRUE(service.invalid_lines().empty());
  EXPECT_TRUE(debug.wait_for({"Undecodable CALL"}));
}

TEST(ProtocolNext, ReleaseIsNoInvalidLine) {
  test::Lines debug;
  Service service = worker();
  service.debug(debug.sink());
  Task task = service.task("release");
  ASSERT_EQ(finish(task), TaskStatus::COMPLETE);
  EXPECT_TRUE(service.invalid_lines().empty())
      << "RELEASE recorded as invalid: " << service.invalid_lines().at(0);
  EXPECT_TRUE(debug.wait_for({"RELEASE of 1 region(s)", "psm_00000000"}));
  // A malformed one concerns no task either: reported, not filed as invalid.
  EXPECT_TRUE(debug.wait_for({"Task-less message ignored", "psm_00000001", "'regions'"}));
}

TEST(ProtocolNext, HelloOfAnotherMajorMinorIsReportedNotRefused) {
  // Another major.minor than this build's (kProtocolVersion is a build setting).
  const std::string other = same_protocol(kProtocolVersion, "0.13.0") ? "0.14.0" : "0.13.0";
  test::Lines debug;
  Service service = worker("hello:" + other);
  service.debug(debug.sink());
  Task task = service.task("ok", {{"n", 2}});
  ASSERT_EQ(finish(task), TaskStatus::COMPLETE) << "a mismatch never stops the worker";
  auto info = service.worker_info();  // the HELLO is the first line, read before the COMPLETION
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->implementation, "hostile-worker");
  EXPECT_EQ(info->version, other);
  EXPECT_FALSE(info->compatible);
  EXPECT_EQ(info->service_version, kProtocolVersion);
  EXPECT_TRUE(debug.wait_for({other, std::string(kProtocolVersion), "major.minor differ"}));
  EXPECT_TRUE(service.invalid_lines().empty());
}

TEST(ProtocolNext, HelloOfTheSameMajorMinorIsCompatible) {
  const std::string version =
      std::string(kProtocolVersion.substr(0, kProtocolVersion.rfind('.'))) + ".99-dev";
  test::Lines debug;
  Service service = worker("hello:" + version);
  service.debug(debug.sink());
  Task task = service.task("ok");
  ASSERT_EQ(finish(task), TaskStatus::COMPLETE);
  auto info = service.worker_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->version, version);
  EXPECT_TRUE(info->compatible);
  service.close();
  service.wait_for();
  for (const std::string& line : debug.all())
    EXPECT_THAT(line, ::testing::Not(HasSubstr("differ")));
}

/// A 64-byte block whose byte i holds 100 + i.
SharedMemory numbered_block() {
  SharedMemory block = SharedMemory::create(64);
  for (std::size_t i = 0; i < 64; ++i)
    block.bytes()[i] = static_cast<std::byte>(100 + i);
  return block;
}

TEST(ProtocolNext, RegionOutputDecodesToItsBytesAndEncodesBackUnchanged) {
  SharedMemory block = numbered_block();
  Service service = worker();
  Task task = service.task("region " + block.name() + " 8 4");
  ASSERT_EQ(finish(task), TaskStatus::COMPLETE) << task.error().value_or("");
  NDArray a = task.outputs().at("a").get<NDArray>();
  ASSERT_EQ(a.bytes().size(), 4U);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(a.bytes()[i], static_cast<std::byte>(108 + i));
  EXPECT_EQ(a.shm().offset(), 8U);
  EXPECT_EQ(detail::codec::write(Value(a)),
            R"({"appose_type":"ndarray","dtype":"uint8","shape":[4],"shm":{"appose_type":"shm",)"
            R"("name":")" +
                block.name() + R"(","rsize":64,"offset":8,"length":4}})");
}

// A region of a block the task's own inputs hold comes back through the input's handle (the
// host keeps owning it), viewing the region the worker named.
TEST(ProtocolNext, RegionOfAnInputBlockKeepsItsRegionAndOwner) {
  SharedMemory block = numbered_block();
  Service service = worker();
  Task task = service.task("region " + block.name() + " 16 2", {{"blk", block}});
  ASSERT_EQ(finish(task), TaskStatus::COMPLETE) << task.error().value_or("");
  NDArray a = task.outputs().at("a").get<NDArray>();
  EXPECT_EQ(a.shm().offset(), 16U);
  ASSERT_EQ(a.bytes().size(), 2U);
  EXPECT_EQ(a.bytes()[0], std::byte{116});
  EXPECT_EQ(a.bytes().data(), block.bytes().data() + 16) << "the input's own mapping";
  EXPECT_TRUE(a.shm().created()) << "the input's handle, not a second attachment";
}

TEST(ProtocolNext, BadRegionFailsItsTaskOnly) {
  SharedMemory block = numbered_block();
  Service service = worker();
  Task task = service.task("region " + block.name() + " 60 8");
  ASSERT_EQ(finish(task), TaskStatus::FAILED);
  EXPECT_THAT(task.error().value_or(""), HasSubstr("outputs could not be decoded"));
  EXPECT_THAT(task.error().value_or(""), HasSubstr("reaches past the end"));
  EXPECT_THAT(task.error().value_or(""), HasSubstr(block.name()));
  Task after = service.task("ok");
  EXPECT_EQ(finish(after), TaskStatus::COMPLETE);
}

}  // namespace
}  // namespace appose
