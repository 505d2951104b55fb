// resolve() (wire/resolve.hpp) against real shared-memory blocks: blocks, arrays and worker
// objects at any depth, missing or too small blocks, malformed Appose objects, and regions of
// a block (after 0.12).

#include "wire/resolve.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "unit/codec_helpers.hpp"
#include "wire/line_scan.hpp"
#include "wire/messages.hpp"

namespace appose::detail::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = Value::Kind;

using test::message_of;
using test::response;

// ---------------------------------------------------------------------------------------------
// resolve

Args decode_outputs(const std::string& line) {
  LineContents c = split_line(line);
  EXPECT_EQ(c.messages.size(), 1U) << line;
  return to_response(c.messages.at(0)).outputs;
}

TEST(Resolve, AttachesBlocksAtAnyDepth) {
  NDArray img(DType::float32, Shape{2, 3, 4});
  for (std::size_t i = 0; i < 24; ++i)
    img.span<float>()[i] = static_cast<float>(i) * 0.5F;
  SharedMemory raw = SharedMemory::create(100);
  std::memcpy(raw.data(), "hello", 5);
  NDArray deep(DType::int16, Shape{3}, raw);

  Response done = response(ResponseType::COMPLETION, "t1");
  done.outputs = Args{{"img", img},
                      {"raw", raw},
                      {"list", Array{1, WorkerObject("_appose_auto_0")}},
                      {"other", Args{{"appose_type", "something_new"}, {"x", 1}}},
                      {"nested", Args{{"deep", Array{Array{deep}}}}},
                      {"inside_unknown", Args{{"appose_type", "mystery"}, {"shm", raw}}}};
  std::string line = encode_response(done);
  std::vector<std::string> made;
  Args out = resolve(decode_outputs(line), [&](std::string name) {
    made.push_back(name);
    return WorkerObject(std::move(name));
  });

  NDArray got = out.at("img").get<NDArray>();
  EXPECT_EQ(got.dtype(), DType::float32);
  EXPECT_EQ(got.shape().c_dims(), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(got.shm().name(), img.shm().name());
  EXPECT_EQ(got.span<float>()[23], 11.5F);
  img.span<float>()[0] = 7.0F;  // the same memory, not a copy
  EXPECT_EQ(got.span<float>()[0], 7.0F);

  SharedMemory got_raw = out.at("raw").get<SharedMemory>();
  EXPECT_EQ(got_raw.name(), raw.name());
  EXPECT_EQ(got_raw.rsize(), 100U);
  EXPECT_EQ(std::memcmp(got_raw.data(), "hello", 5), 0);

  EXPECT_EQ(out.at("list").at(1).get<WorkerObject>().var_name(), "_appose_auto_0");
  EXPECT_THAT(made, ElementsAre("_appose_auto_0"));
  EXPECT_EQ(out.at("other"), Value(Args{{"appose_type", "something_new"}, {"x", 1}}));
  EXPECT_EQ(out.at("nested").at("deep").at(0).at(0).get<NDArray>().shm().name(), raw.name());
  EXPECT_EQ(out.at("inside_unknown").at("shm").kind(), Kind::shared_memory);
  EXPECT_EQ(out.at("inside_unknown").at("appose_type"), Value("mystery"));

  // Without a factory, worker objects stay plain.
  Args plain = resolve(decode_outputs(line));
  EXPECT_TRUE(plain.at("list").at(1).is_object());

  // Value overload, on a bare shm object at the top.
  Value v = resolve(parse(write(Value(raw))));
  EXPECT_EQ(v.get<SharedMemory>().name(), raw.name());
}

TEST(Resolve, MissingBlockNamesIt) {
  std::string name = "psm_apposecodec_nonexistent";
  Args a = decode_outputs(fmt::format(
      R"({{"outputs":{{"x":{{"appose_type":"shm","name":"{}","rsize":8}}}},"task":"t","responseType":"COMPLETION"}})",
      name));
  EXPECT_THAT(message_of<Error>([&] { (void)resolve(a); }), HasSubstr(name));
}

TEST(Resolve, TooSmallBlockIsAnError) {
  SharedMemory small = SharedMemory::create(64);
  // The shm says 64 bytes, the array needs 800.
  Args a = decode_outputs(fmt::format(
      R"({{"outputs":{{"x":{{"appose_type":"ndarray","dtype":"float64","shape":[100],)"
      R"("shm":{{"appose_type":"shm","name":"{}","rsize":64}}}}}},"task":"t","responseType":"COMPLETION"}})",
      small.name()));
  EXPECT_THAT(message_of<Error>([&] { (void)resolve(a); }), HasSubstr(small.name()));
  // The shm claims more bytes than the block holds.
  Args b = decode_outputs(fmt::format(
      R"({{"outputs":{{"x":{{"appose_type":"shm","name":"{}","rsize":1000000}}}},"task":"t","responseType":"COMPLETION"}})",
      small.name()));
  EXPECT_THAT(message_of<Error>([&] { (void)resolve(b); }), HasSubstr(small.name()));
}

TEST(Resolve, MalformedApposeObjectsSayWhatIsWrong) {
  SharedMemory s = SharedMemory::create(64);
  std::string shm = fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64}})", s.name());
  struct Case {
    std::string json;
    std::string expected;
  };
  const Case cases[] = {
      {R"({"appose_type":"shm","rsize":8})", "no 'name'"},
      {R"({"appose_type":"shm","name":5,"rsize":8})", "'name' is an int"},
      {R"({"appose_type":"shm","name":"psm_x"})", "no 'rsize'"},
      {R"({"appose_type":"shm","name":"psm_x","rsize":-1})", "'rsize' must be a non-negative"},
      {R"({"appose_type":"ndarray","dtype":"float128","shape":[2],"shm":)" + shm + "}",
       "unknown dtype 'float128'"},
      {R"({"appose_type":"shm","name":"psm_x","rsize":8,"offset":-1})",
       "'offset' must be a non-negative"},
      {R"({"appose_type":"shm","name":"psm_x","rsize":8,"length":"4"})",
       "'length' must be a non-negative"},
      {R"({"appose_type":"shm","name":"psm_x","rsize":8,"managed":1})", "'managed' is an int"},
      {R"({"appose_type":"ndarray","shape":[2],"shm":)" + shm + "}", "no 'dtype'"},
      {R"({"appose_type":"ndarray","dtype":"uint8","shm":)" + shm + "}", "no 'shape'"},
      {R"({"appose_type":"ndarray","dtype":"uint8","shape":2,"shm":)" + shm + "}",
       "'shape' is not an array"},
      {R"({"appose_type":"ndarray","dtype":"uint8","shape":[-2],"shm":)" + shm + "}", "shape"},
      {R"({"appose_type":"ndarray","dtype":"uint8","shape":[2]})", "no 'shm'"},
      {R"({"appose_type":"ndarray","dtype":"uint8","shape":[2],"shm":{"a":1}})",
       "'shm' is not an 'shm' object"},
      {R"({"appose_type":"worker_object"})", "no 'var_name'"},
  };
  auto factory = [](std::string n) { return WorkerObject(std::move(n)); };
  for (const Case& c : cases) {
    Value v = parse(R"({"outer":[)" + c.json + "]}");
    std::string m = message_of<ProtocolError>([&] { (void)resolve(v, factory); });
    EXPECT_THAT(m, HasSubstr(c.expected)) << c.json;
    EXPECT_THAT(m, HasSubstr("outer[0]")) << c.json;
  }
}

// ---------------------------------------------------------------------------------------------
// After 0.12 (upstream, unreleased): regions of a block

/// A block whose byte i holds i, for region tests.
SharedMemory numbered_block(std::size_t size) {
  SharedMemory block = SharedMemory::create(size);
  auto bytes = block.bytes();
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<std::byte>(i);
  return block;
}

TEST(PostTwelve, RegionsDecodeToTheirBytesAndEncodeBackUnchanged) {
  SharedMemory block = numbered_block(64);
  const std::string n = block.name();
  const std::string shm_forms[] = {
      fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":8,"length":4}})", n),
      fmt::format(
          R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":8,"length":4,"managed":true}})",
          n),
      fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":8,"managed":false}})",
                  n),
      fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"length":12}})", n),
      fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":64,"length":0}})", n),
  };
  for (const std::string& text : shm_forms) {
    Value v = resolve(parse(text));
    ASSERT_EQ(v.kind(), Kind::shared_memory) << text;
    EXPECT_EQ(write(v), text);
  }
  Value managed = resolve(parse(shm_forms[1]));
  const SharedMemory& m = managed.get<SharedMemory>();
  EXPECT_EQ(m.offset(), 8U);
  EXPECT_EQ(m.length(), 4U);
  EXPECT_EQ(m.region().managed, true);
  EXPECT_EQ(m.region_bytes()[0], std::byte{8});
  EXPECT_EQ(m.bytes().size(), 64U) << "bytes() is still the whole block";
  EXPECT_EQ(resolve(parse(shm_forms[2])).get<SharedMemory>().length(), 56U)
      << "length defaults to rsize - offset";

  const std::string array_text = fmt::format(
      R"({{"appose_type":"ndarray","dtype":"uint16","shape":[2,3],"shm":)"
      R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":16,"length":12,"managed":false}}}})",
      n);
  Value av = resolve(parse(array_text));
  ASSERT_EQ(av.kind(), Kind::ndarray);
  const NDArray a = av.get<NDArray>();
  ASSERT_EQ(a.bytes().size(), 12U);
  for (std::size_t i = 0; i < 12; ++i)
    EXPECT_EQ(a.bytes()[i], static_cast<std::byte>(16 + i)) << i;
  EXPECT_EQ(a.span<std::uint16_t>()[0], 16 | (17 << 8)) << "little-endian uint16 at byte 16";
  EXPECT_EQ(a.span<std::uint16_t>().size(), 6U);
  EXPECT_EQ(write(av), array_text);
  EXPECT_EQ(av.to_json().dump(), array_text) << "Value::to_json() keeps the region too";
  // Inside a message, among other outputs.
  const std::string line = R"({"outputs":{"a":)" + array_text +
                           R"(,"k":1},"task":"t",)"
                           R"("responseType":"COMPLETION"})";
  Response r = to_response(split_line(line).messages.at(0));
  r.outputs = resolve(std::move(r.outputs));
  EXPECT_EQ(encode_response(r), line);
}

TEST(PostTwelve, BadRegionsAreClearErrors) {
  SharedMemory block = numbered_block(64);
  const std::string n = block.name();
  struct Case {
    std::string json;
    std::string expected;
  };
  const Case cases[] = {
      {fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":65}})", n),
       "offset 65 is past the end"},
      {fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":60,"length":8}})", n),
       "reaches past the end"},
      {fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"length":65}})", n),
       "reaches past the end"},
      {fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":8,)"
                   R"("length":18446744073709551615}})",
                   n),
       "reaches past the end"},
  };
  for (const Case& c : cases) {
    Value v = parse(R"({"outer":[)" + c.json + "]}");
    std::string m = message_of<ProtocolError>([&] { (void)resolve(v); });
    EXPECT_THAT(m, HasSubstr(c.expected)) << c.json;
    EXPECT_THAT(m, HasSubstr("outer[0]")) << c.json;
    EXPECT_THAT(m, HasSubstr(n)) << c.json;
  }
  // A region too small for the array it carries.
  Value small =
      parse(fmt::format(R"({{"appose_type":"ndarray","dtype":"float64","shape":[2],"shm":)"
                        R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":8,"length":8}}}})",
                        n));
  EXPECT_THAT(message_of<Error>([&] { (void)resolve(small); }),
              HasSubstr("at offset 8 holds 8 bytes, but a float64 array of shape [2] needs 16"));
  // Misaligned for the element type: the bytes are there, span<T>() refuses.
  Value odd =
      resolve(parse(fmt::format(R"({{"appose_type":"ndarray","dtype":"float32","shape":[2],"shm":)"
                                R"({{"appose_type":"shm","name":"{}","rsize":64,"offset":2}}}})",
                                n)));
  const NDArray a = odd.get<NDArray>();
  EXPECT_EQ(a.bytes()[0], std::byte{2});
  EXPECT_THAT(message_of<Error>([&] { (void)a.span<float>(); }), HasSubstr("not a multiple of 4"));
}

}  // namespace
}  // namespace appose::detail::codec
