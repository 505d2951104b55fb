// The codec against the real appose-python 0.12 (appose.util.message): Python encodes a rich
// set of messages, appose-cpp reads and rewrites them, and Python checks that it gets back
// exactly what it sent, byte for byte; appose-cpp's requests are read by Python the same way.
// Two Python runs in all (each costs about 100 ms).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "support/test_support.hpp"
#include "wire/line_scan.hpp"
#include "wire/messages.hpp"

namespace appose::detail::codec {
namespace {

// `emit`: prints message.encode(m) for each message, one a line.
// `check`: reads, one a line, appose-cpp's rewriting of each message, then its EXECUTE request
// carrying each message as inputs, then one request of random doubles; checks each against
// what Python itself makes, prints the bit patterns of the random doubles as decoded by
// Python, then "ok" (or the problems, and exits 1).
constexpr const char* kScript = R"PY(
import json, math, random, struct, sys
from appose.util import message

def messages():
    rng = random.Random(1234)
    floats = [0.1, 1e16, 1e15, 5e-324, -5e-324, -0.0, 0.0, 1.0, 1e-05, 0.0001, 1e22,
              1.7976931348623157e308, 2.2250738585072014e-308, 2.0 ** 63, 1 / 3, -2.5e-300,
              123456789.125, 9007199254740993.0]
    for _ in range(500):
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(f):
            floats.append(f)
    return [
        {"task": "t1", "responseType": "LAUNCH"},
        {"message": "h\u00e9llo \u2713 \U0001f9ca \x00\x1f\x7f\u2028 \"q\" \\ /", "current": 3,
         "maximum": 2 ** 63 - 1,
         "info": {"loss": float("nan"), "best": float("inf"), "worst": float("-inf"),
                  "nested": [[{}], [], {}, ""]},
         "task": "t2", "responseType": "UPDATE"},
        {"outputs": {"big": 2 ** 70, "neg": -(2 ** 80) + 1, "u64": 2 ** 64 - 1, "u63": 2 ** 63,
                     "i64min": -(2 ** 63), "below": -(2 ** 63) - 1, "zero": 0,
                     "floats": floats, "empty_s": "", "empty_l": [], "empty_d": {},
                     "deep": {"a": [1, [2, [3, {"b": None, "c": True, "d": False}]]]},
                     "wo": {"appose_type": "worker_object", "var_name": "_appose_auto_0"},
                     "unknown": {"appose_type": "mystery", "x": [1.5]},
                     "emoji": "\U0001f9ca\U0001f40d\U0001f44d\U0001f3fd", "cjk": "\u65e5\u672c\u8a9e",
                     "keys": {"\u00e9": 1, "\U0001f9ca": 2, "": 3, "a\nb": 4}},
         "task": "t3", "responseType": "COMPLETION"},
        {"error": "Traceback (most recent call last):\n  File \"<string>\", line 1\n",
         "task": "t4", "responseType": "FAILURE"},
        {"task": "t5", "responseType": "CANCELATION"},
    ]

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

if sys.argv[1] == "emit":
    for m in messages():
        print(message.encode(m))
    sys.exit(0)

lines = sys.stdin.read().split("\n")
expected = messages()
n = len(expected)
problems = []
for i, m in enumerate(expected):
    line = lines[i]
    if not same(message.decode(line), m):
        problems.append(f"response {i}: decodes to something else: {line[:200]}")
    if line != message.encode(m):
        problems.append(f"response {i}: bytes differ from Python's: {line[:200]}")
for i, m in enumerate(expected):
    line = lines[n + i]
    want = {"task": f"r{i}", "requestType": "EXECUTE", "script": "echo", "inputs": m,
            "queue": "main" if i % 2 else None}
    if not same(message.decode(line), want):
        problems.append(f"request {i}: decodes to something else: {line[:200]}")
    if line != message.encode(want):
        problems.append(f"request {i}: bytes differ from Python's service: {line[:200]}")
line = lines[2 * n]
req = message.decode(line)
if message.encode(req) != line:
    problems.append("random doubles: Python writes them differently")
print(json.dumps([struct.unpack("<Q", struct.pack("<d", d))[0] for d in req["inputs"]["d"]]))
print("\n".join(problems) if problems else "ok")
sys.exit(1 if problems else 0)
)PY";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

TEST(PythonCodec, RoundTripThroughAppposePython) {
  APPOSE_REQUIRE_PYTHON_PEER();

  test::ProcessResult emitted = test::run_python(kScript, {"emit"});
  ASSERT_EQ(emitted.exit_code, 0) << emitted.err;
  std::vector<std::string> python_lines = lines_of(emitted.out);
  ASSERT_EQ(python_lines.size(), 5U);

  std::string rewritten;
  std::string requests;
  for (std::size_t i = 0; i < python_lines.size(); ++i) {
    const std::string& line = python_lines[i];
    LineContents c = split_line(line);
    ASSERT_EQ(c.messages.size(), 1U) << line;
    ASSERT_TRUE(c.invalid.empty()) << line;
    // What appose-cpp writes is what Python wrote.
    std::string again = write(Value(c.messages[0]));
    EXPECT_EQ(again, line);
    EXPECT_NO_THROW((void)to_response(c.messages[0]));
    rewritten += again + "\n";

    Request r{.task = fmt::format("r{}", i),
              .type = RequestType::EXECUTE,
              .script = "echo",
              .inputs = c.messages[0],
              .queue = {}};
    if (i % 2 == 1) r.queue = "main";
    requests += encode_request(r) + "\n";
  }

  // Random bit patterns: Python must read the very doubles appose-cpp wrote, and write them
  // with the same digits (checked on the Python side).
  std::mt19937_64 rng(99);
  Array doubles;
  std::vector<std::uint64_t> bits;
  while (doubles.size() < 3000) {
    std::uint64_t b = rng();
    if (doubles.size() % 10 == 0) b &= 0x800FFFFFFFFFFFFFULL;  // subnormals
    double d = std::bit_cast<double>(b);
    if (!std::isfinite(d)) continue;
    doubles.emplace_back(d);
    bits.push_back(b);
  }
  Request r{
      .task = "doubles", .type = RequestType::EXECUTE, .script = "", .inputs = {}, .queue = {}};
  r.inputs["d"] = std::move(doubles);
  std::string doubles_line = encode_request(r);

  test::ProcessResult checked =
      test::run_python(kScript, {"check"}, rewritten + requests + doubles_line + "\n");
  std::vector<std::string> out = lines_of(checked.out);
  ASSERT_EQ(out.size(), 2U) << checked.out << checked.err;
  EXPECT_EQ(out[1], "ok") << checked.out << checked.err;
  EXPECT_EQ(checked.exit_code, 0) << checked.err;

  Value python_bits = parse(out[0]);
  ASSERT_EQ(python_bits.size(), bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    ASSERT_EQ(python_bits.at(i).get<std::uint64_t>(), bits[i])
        << "double #" << i << " written as " << write(Value(std::bit_cast<double>(bits[i])));
  }
}

}  // namespace
}  // namespace appose::detail::codec
