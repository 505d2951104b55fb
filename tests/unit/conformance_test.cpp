// The conformance vectors (tests/conformance/messages.jsonl), read at run time: one test per
// line of the file, so that a case added there reaches this suite without an edit.
//
// Each case plays the service's (or worker's) reading of one line: split_line, then
// to_response / to_request; a message those refuse counts as invalid, as the service records it.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "support/test_support.hpp"
#include "wire/line_scan.hpp"
#include "wire/messages.hpp"
#include "wire/resolve.hpp"

namespace appose::detail::codec {
namespace {

using Kind = Value::Kind;

std::string sanitize_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
  return out.empty() ? std::string("unnamed") : out;
}

std::vector<Json> load_cases(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::vector<Json> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    cases.push_back(Json::parse(line));
  }
  return cases;
}

// Unique, gtest-friendly names in file order.
std::vector<std::string> names_of(const std::vector<Json>& cases) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const Json& c : cases) {
    std::string base = sanitize_name(c.value("name", std::string("unnamed")));
    std::string name = base;
    for (int k = 2; !seen.insert(name).second; ++k)
      name = fmt::format("{}_{}", base, k);
    names.push_back(name);
  }
  return names;
}

// Test names are listed by gtest_discover_tests, through the same environment hook as the runs
// (tests/CMakeLists.txt), so the listing reads the folder the tests read. Without it (the
// program run by hand), the single placeholder case below says so.
std::vector<std::string> listed_case_names() {
  try {
    std::vector<std::string> names =
        names_of(load_cases(std::filesystem::path(test::conformance_dir()) / "messages.jsonl"));
    if (!names.empty()) return names;
  } catch (const std::exception&) {
    // Reported by the placeholder case below.
  }
  return {"conformance_file_missing"};
}

std::string hex_decode(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

// Compares a decoded value with the file's JSON, which marks what JSON cannot write plainly:
// {"$float": "nan" | "inf" | "-inf" | "-0.0"} and {"$bigint": "<digits>"}.
::testing::AssertionResult matches(const Value& v, const Json& e, const std::string& path) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure()
           << "at " << (path.empty() ? "<top>" : path) << ": " << why << " (got " << v.kind_name()
           << ", expected " << e.dump() << ")";
  };
  if (e.is_object() && e.size() == 1 && e.contains("$float")) {
    if (v.kind() != Kind::floating) return fail("not a float");
    double d = v.get<double>();
    std::string m = e["$float"];
    bool ok = m == "nan"    ? std::isnan(d)
              : m == "inf"  ? d == INFINITY
              : m == "-inf" ? d == -INFINITY
              : m == "-0.0" ? d == 0 && std::signbit(d)
                            : false;
    return ok ? ::testing::AssertionSuccess() : fail("wrong special float");
  }
  if (e.is_object() && e.size() == 1 && e.contains("$bigint")) {
    if (v.kind() == Kind::big_integer) {
      return v.get<BigInteger>().digits == e["$bigint"].get<std::string>()
                 ? ::testing::AssertionSuccess()
                 : fail("wrong digits");
    }
    // The README allows the nearest double too.
    if (v.kind() == Kind::floating &&
        v.get<double>() == std::strtod(e["$bigint"].get<std::string>().c_str(), nullptr)) {
      return ::testing::AssertionSuccess();
    }
    return fail("not a big integer");
  }
  switch (e.type()) {
    case Json::value_t::null:
      return v.is_null() ? ::testing::AssertionSuccess() : fail("not null");
    case Json::value_t::boolean:
      return v == Value(e.get<bool>()) ? ::testing::AssertionSuccess() : fail("wrong bool");
    case Json::value_t::number_integer:
      return v == Value(e.get<std::int64_t>()) ? ::testing::AssertionSuccess()
                                               : fail("wrong integer");
    case Json::value_t::number_unsigned:
      return v == Value(e.get<std::uint64_t>()) ? ::testing::AssertionSuccess()
                                                : fail("wrong integer");
    case Json::value_t::number_float:
      return v.kind() == Kind::floating && v.get<double>() == e.get<double>() &&
                     std::signbit(v.get<double>()) == std::signbit(e.get<double>())
                 ? ::testing::AssertionSuccess()
                 : fail("wrong float");
    case Json::value_t::string:
      return v == Value(e.get<std::string>()) ? ::testing::AssertionSuccess()
                                              : fail("wrong string");
    case Json::value_t::array: {
      if (!v.is_array() || v.size() != e.size()) return fail("not an array of that size");
      for (std::size_t i = 0; i < e.size(); ++i) {
        auto r = matches(v.as_array()[i], e[i], fmt::format("{}[{}]", path, i));
        if (!r) return r;
      }
      return ::testing::AssertionSuccess();
    }
    case Json::value_t::object: {
      if (!v.is_object() || v.size() != e.size()) return fail("not an object with those keys");
      auto it = v.as_object().begin();
      for (const auto& [key, item] : e.items()) {
        if (it->first != key)
          return fail(fmt::format("key '{}' where '{}' was expected", it->first, key));
        auto r = matches(it->second, item, path.empty() ? key : path + "." + key);
        if (!r) return r;
        ++it;
      }
      return ::testing::AssertionSuccess();
    }
    default:
      return fail("unexpected JSON in the conformance file");
  }
}

std::vector<std::string> keys_of(const Args& a) {
  std::vector<std::string> k;
  for (const auto& [key, v] : a)
    k.push_back(key);
  return k;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string without_non_ascii(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x80) out += c;
  }
  return out;
}

// The file's placeholder for "the line with its invalid bytes replaced or escaped".
bool is_placeholder(const Json& invalid) {
  return invalid.size() == 1 && invalid[0].is_string() &&
         invalid[0].get<std::string>().starts_with("<");
}

// Re-encodes an accepted message. When the message is the whole line, holds the same keys in
// the same order as the re-encoding (the way appose-python writes them) and the line is ASCII,
// the bytes must be identical.
void check_reencoding(const std::string& direction, const Args& message, const std::string& line,
                      bool whole_line) {
  std::string again;
  if (direction == "request") {
    again = encode_request(to_request(message));
    LineContents back = split_line(again);
    ASSERT_EQ(back.messages.size(), 1U) << again;
    Request a = to_request(message);
    Request b = to_request(back.messages[0]);
    EXPECT_EQ(a.task, b.task);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.script, b.script);
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.queue, b.queue);
    if (keys_of(back.messages[0]) == keys_of(message) && whole_line && is_ascii(line)) {
      EXPECT_EQ(again, line) << "same keys in the same order must give the same bytes";
    }
    return;
  }
  Response r = to_response(message);
  if (!r.task && r.type != ResponseType::HELLO) return;  // nothing a worker would write
  again = encode_response(r);
  LineContents back = split_line(again);
  ASSERT_EQ(back.messages.size(), 1U) << again;
  Response b = to_response(back.messages[0]);
  EXPECT_EQ(r.type, b.type);
  EXPECT_EQ(r.task, b.task);
  EXPECT_EQ(r.message, b.message);
  EXPECT_EQ(r.current, b.current);
  EXPECT_EQ(r.maximum, b.maximum);
  EXPECT_EQ(r.outputs, b.outputs);
  EXPECT_EQ(r.error, b.error);
  if (keys_of(back.messages[0]) == keys_of(message) && whole_line && is_ascii(line)) {
    EXPECT_EQ(again, line) << "same keys in the same order must give the same bytes";
  }
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, Line) {
  ASSERT_NE(GetParam(), "conformance_file_missing")
      << "tests/conformance/messages.jsonl was not found when the tests were listed "
         "(APPOSE_CONFORMANCE_DIR, set by ctest)";
  std::filesystem::path file = std::filesystem::path(test::conformance_dir()) / "messages.jsonl";
  std::vector<Json> cases = load_cases(file);
  std::vector<std::string> names = names_of(cases);
  auto found = std::find(names.begin(), names.end(), GetParam());
  ASSERT_NE(found, names.end()) << GetParam() << " is no longer in " << file;
  const Json& c = cases[static_cast<std::size_t>(found - names.begin())];
  SCOPED_TRACE(c.dump());

  const std::string direction = c.at("direction");
  const std::string line = c.contains("line") ? c["line"].get<std::string>()
                                              : hex_decode(c.at("line_hex").get<std::string>());
  LineContents contents = split_line(line);
  EXPECT_EQ(contents.notes.size(), contents.invalid.size()) << "one note per invalid piece";

  // What the service (or worker) ends up with.
  std::vector<Args> accepted;
  std::vector<std::string> invalid = contents.invalid;
  for (const Args& m : contents.messages) {
    try {
      if (direction == "request") {
        (void)to_request(m);
      } else {
        (void)to_response(m);
      }
      accepted.push_back(m);
    } catch (const ProtocolError&) {
      invalid.push_back(write(Value(m)));
    }
  }

  if (c.value("skip", false)) {
    EXPECT_TRUE(contents.messages.empty());
    EXPECT_TRUE(contents.invalid.empty());
    EXPECT_TRUE(contents.notes.empty());
    return;
  }

  const Json& expected_invalid = c.at("invalid");
  if (is_placeholder(expected_invalid)) {
    // Either behaviour the README allows: the line recorded as invalid with the bad bytes
    // replaced (appose-cpp's choice), or the message decoded with replacement characters.
    if (accepted.empty()) {
      ASSERT_EQ(invalid.size(), 1U);
      EXPECT_NE(invalid[0].find("\xEF\xBF\xBD"), std::string::npos);
      EXPECT_EQ(without_non_ascii(invalid[0]), without_non_ascii(line));
    } else {
      EXPECT_TRUE(invalid.empty());
      EXPECT_NE(write(Value(accepted[0])).find("\\ufffd"), std::string::npos);
    }
    return;
  }

  const Json& expected = c.at("messages");
  ASSERT_EQ(accepted.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(matches(Value(accepted[i]), expected[i], ""));
  }
  ASSERT_EQ(invalid.size(), expected_invalid.size());
  for (std::size_t i = 0; i < invalid.size(); ++i) {
    EXPECT_EQ(invalid[i], expected_invalid[i].get<std::string>());
  }
  bool whole_line = accepted.size() == 1 && invalid.empty();
  for (const Args& m : accepted)
    check_reencoding(direction, m, line, whole_line);
}

INSTANTIATE_TEST_SUITE_P(Messages, Conformance, ::testing::ValuesIn(listed_case_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(ConformanceFile, IsPresentAndCoversBothDirections) {
  std::filesystem::path file = std::filesystem::path(test::conformance_dir()) / "messages.jsonl";
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  std::vector<Json> cases = load_cases(file);
  ASSERT_FALSE(cases.empty());
  std::set<std::string> directions;
  for (const Json& c : cases)
    directions.insert(c.at("direction").get<std::string>());
  EXPECT_EQ(directions, (std::set<std::string>{"request", "response"}));
  // The listed tests and the file agree (a stale listing would silently skip cases).
  EXPECT_EQ(names_of(cases), listed_case_names());
}

// The completion case with Appose objects, resolved against real blocks: the file holds
// block names that do not exist here, so they are swapped for fresh ones of the same size.
TEST(ConformanceFile, NestedApposeTypesResolve) {
  std::vector<Json> cases =
      load_cases(std::filesystem::path(test::conformance_dir()) / "messages.jsonl");
  auto it = std::find_if(cases.begin(), cases.end(), [](const Json& c) {
    return c.value("name", std::string()) == "completion-nested-appose-types";
  });
  if (it == cases.end()) GTEST_SKIP() << "case completion-nested-appose-types is gone";
  std::string line = (*it)["line"];
  SharedMemory img = SharedMemory::create(96);
  SharedMemory raw = SharedMemory::create(16384);
  auto swap = [&](std::string_view from, const std::string& to) {
    auto pos = line.find(from);
    ASSERT_NE(pos, std::string::npos);
    line.replace(pos, from.size(), to);
  };
  swap("psm_4812f794", img.name());
  swap("psm_0a1b2c3d", raw.name());
  Response r = to_response(split_line(line).messages.at(0));
  Args out = resolve(r.outputs, [](std::string n) { return WorkerObject(std::move(n)); });
  NDArray a = out.at("img").get<NDArray>();
  EXPECT_EQ(a.dtype(), DType::float32);
  EXPECT_EQ(a.shape().c_dims(), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(a.shm().name(), img.name());
  EXPECT_EQ(out.at("raw").get<SharedMemory>().rsize(), 16384U);
  EXPECT_EQ(out.at("list").at(1).get<WorkerObject>().var_name(), "_appose_auto_0");
  EXPECT_TRUE(out.at("other").is_object());
}

}  // namespace
}  // namespace appose::detail::codec
