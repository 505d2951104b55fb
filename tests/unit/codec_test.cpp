// The codec: the JSON writer and reader over appose::Value, split_line, requests and
// responses, and resolve() against real shared-memory blocks.

#include "codec.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/same_value.hpp"

namespace appose::detail::codec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = Value::Kind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Response response(ResponseType type, std::optional<std::string> task = std::nullopt) {
  Response r;
  r.type = type;
  r.task = std::move(task);
  return r;
}

template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

using test::same_value;

// Independent of the codec's own decoder, so that the tests do not grade it with itself.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1FU) : n == 3 ? (c & 0x0FU) : (c & 0x07U);
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (d & 0x3FU);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST(Write, ScalarsAndContainers) {
  EXPECT_EQ(write(Value()), "null");
  EXPECT_EQ(write(Value(true)), "true");
  EXPECT_EQ(write(Value(false)), "false");
  EXPECT_EQ(write(Value(-42)), "-42");
  EXPECT_EQ(write(Value(std::numeric_limits<std::int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(write(Value(std::numeric_limits<std::uint64_t>::max())), "18446744073709551615");
  EXPECT_EQ(write(Value(Array{})), "[]");
  EXPECT_EQ(write(Value(Args{})), "{}");
  EXPECT_EQ(write(Value(Args{{"a", Array{1, Args{}, Array{}}}, {"b", "x"}})),
            R"({"a":[1,{},[]],"b":"x"})");
}

TEST(Write, EscapesLikePythonEnsureAscii) {
  std::string all_controls;
  for (char c = 0; c < 0x20; ++c)
    all_controls += c;
  all_controls += "\x7f/\"\\";
  // The text Python's json.dumps(ensure_ascii=True) gives for the same string.
  EXPECT_EQ(write(Value(all_controls)),
            R"("\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f)"
            R"(\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c)"
            R"(\u001d\u001e\u001f\u007f/\"\\")");
  EXPECT_EQ(write(Value("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\xA7\x8A \xC2\x80\xE2\x80\xA8")),
            R"("h\u00e9llo \u2713 \ud83e\uddca \u0080\u2028")");
  EXPECT_EQ(write(Value("\xF4\x8F\xBF\xBF")), R"("\udbff\udfff")");  // U+10FFFF
  EXPECT_EQ(write(Value(std::string("a\0b", 3))), R"("a\u0000b")");
  // Keys are strings too.
  EXPECT_EQ(write(Value(Args{{"\xC3\xA9\n", 1}})), R"({"\u00e9\n":1})");
}

TEST(Write, RefusesInvalidUtf8NamingThePath) {
  for (std::string bad : {"\xff", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xC3", "abc\xE2\x82", "\x80"}) {
    EXPECT_THROW((void)write(Value(bad)), ProtocolError) << fmt::format("{:?}", bad);
  }
  Request r{.task = "t", .type = RequestType::EXECUTE, .script = "s", .inputs = {}, .queue = {}};
  r.inputs["names"] = Array{"ok", "bad\xff"};
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)encode_request(r); }),
              HasSubstr("inputs.names[1]"));
  Value bad_key = Args{{"k\xfe", 1}};
  EXPECT_THROW((void)write(bad_key), ProtocolError);
}

struct DoubleCase {
  double value;
  const char* python_repr;
};

TEST(Write, DoublesMatchPythonRepr) {
  // repr() of each value in CPython 3.11.
  const DoubleCase cases[] = {
      {1.0, "1.0"},
      {-2.5, "-2.5"},
      {100.0, "100.0"},
      {0.1, "0.1"},
      {0.30000000000000004, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1e-4, "0.0001"},
      {1e-5, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {0.00012345, "0.00012345"},
      {1e15, "1000000000000000.0"},
      {1234567890123456.0, "1234567890123456.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {1e16, "1e+16"},
      {1.2345678901234568e+17, "1.2345678901234568e+17"},
      {123456780000000.0, "123456780000000.0"},
      {1e22, "1e+22"},
      {1e100, "1e+100"},
      {9223372036854775808.0, "9.223372036854776e+18"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {5e-324, "5e-324"},
      {-5e-324, "-5e-324"},
      {1.5e300, "1.5e+300"},
      {123.456, "123.456"},
      {6.02214076e23, "6.02214076e+23"},
  };
  for (const auto& c : cases) {
    std::string text = write(Value(c.value));
    EXPECT_EQ(text, c.python_repr);
    Value back = parse(text);
    ASSERT_EQ(back.kind(), Kind::floating) << text;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(back.get<double>()),
              std::bit_cast<std::uint64_t>(c.value))
        << text;
  }
}

TEST(Write, NonFinitePolicy) {
  Value info = Args{{"loss", kNaN}, {"best", kInf}, {"worst", -kInf}};
  EXPECT_EQ(write(info), R"({"loss":NaN,"best":Infinity,"worst":-Infinity})");
  EXPECT_TRUE(has_non_finite(info));
  EXPECT_FALSE(has_non_finite(Value(Args{{"a", Array{1.0, 2, "NaN"}}})));
  EXPECT_TRUE(has_non_finite(Value(Array{Array{1.0, Array{-kInf}}})));

  WriteOptions refuse{.non_finite = NonFinite::refuse, .float16_arrays = true};
  Request r{.task = "t1", .type = RequestType::EXECUTE, .script = "s", .inputs = {}, .queue = {}};
  r.inputs["info"] = info;
  std::string m = message_of<ProtocolError>([&] { (void)encode_request(r, refuse); });
  EXPECT_THAT(m, HasSubstr("NaN at inputs.info.loss"));
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)write(Value(kInf), refuse); }),
              HasSubstr("Infinity at the top level"));
  EXPECT_THAT(message_of<ProtocolError>([&] {
                (void)write(Value(Array{1.0, -kInf}), refuse);
              }),
              HasSubstr("-Infinity at [1]"));
  EXPECT_EQ(write(Value(Array{1.5}), refuse), "[1.5]");

  Response u = response(ResponseType::UPDATE, "t1");
  u.info = info;
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)encode_response(u, refuse); }),
              HasSubstr("info.loss"));
}

TEST(Write, BigIntegersVerbatim) {
  EXPECT_EQ(write(Value(BigInteger{"1180591620717411303424"})), "1180591620717411303424");
  EXPECT_EQ(write(Value(BigInteger{"-1208925819614629174706175"})), "-1208925819614629174706175");
  for (const char* bad : {"", "-", "12a", "007", "1e5", " 1", "+1"}) {
    EXPECT_THROW((void)write(Value(BigInteger{bad})), ProtocolError) << bad;
  }
}

TEST(Write, ApposeObjectsInWireForm) {
  NDArray a(DType::uint16, Shape::f_order({5, 3}));
  SharedMemory s = SharedMemory::create(10);
  Value v = Args{{"a", a}, {"s", s}, {"w", WorkerObject("_appose_auto_1")}};
  EXPECT_EQ(write(v),
            fmt::format(R"({{"a":{{"appose_type":"ndarray","dtype":"uint16","shape":[3,5],)"
                        R"("shm":{{"appose_type":"shm","name":"{}","rsize":30}}}},)"
                        R"("s":{{"appose_type":"shm","name":"{}","rsize":10}},)"
                        R"("w":{{"appose_type":"worker_object","var_name":"_appose_auto_1"}}}})",
                        a.shm().name(), s.name()));
  // Same text as the nlohmann wire form.
  EXPECT_EQ(write(v), v.to_json().dump());
  EXPECT_THROW((void)write(Value(NDArray())), ProtocolError);
  EXPECT_THROW((void)write(Value(SharedMemory())), ProtocolError);
}

TEST(Write, DepthLimit) {
  Value deep;
  for (int i = 0; i < 512; ++i)
    deep = Array{std::move(deep)};
  std::string text = write(deep);
  EXPECT_TRUE(same_value(parse(text), deep));
  Value deeper = Array{deep};
  EXPECT_THROW((void)write(deeper), ProtocolError);
}

// ---------------------------------------------------------------------------------------------
// Reader

TEST(Parse, Scalars) {
  EXPECT_TRUE(parse("null").is_null());
  EXPECT_EQ(parse(" true "), Value(true));
  EXPECT_EQ(parse("\t\r\nfalse\n"), Value(false));
  EXPECT_EQ(parse("\"x\""), Value("x"));
  EXPECT_EQ(parse("0"), Value(0));
  EXPECT_EQ(parse("-0"), Value(0));  // Python reads -0 as the int 0
  EXPECT_EQ(parse("-0.0").kind(), Kind::floating);
  EXPECT_TRUE(std::signbit(parse("-0.0").get<double>()));
  EXPECT_EQ(parse("1E2"), Value(100.0));
  EXPECT_EQ(parse("1e-2"), Value(0.01));
  EXPECT_EQ(parse("2.5e+3"), Value(2500.0));
}

TEST(Parse, IntegersKeepTheirExactValue) {
  EXPECT_EQ(parse("9223372036854775807"), Value(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(parse("-9223372036854775808"), Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(parse("9223372036854775808").kind(), Kind::unsigned_integer);
  EXPECT_EQ(parse("18446744073709551615"), Value(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_EQ(parse("18446744073709551616"), Value(BigInteger{"18446744073709551616"}));
  EXPECT_EQ(parse("-9223372036854775809"), Value(BigInteger{"-9223372036854775809"}));
  EXPECT_EQ(parse("1180591620717411303424"), Value(BigInteger{"1180591620717411303424"}));
  std::string huge = "-" + std::string(5000, '7');
  EXPECT_EQ(parse(huge), Value(BigInteger{huge}));
  EXPECT_EQ(write(parse(huge)), huge);
}

TEST(Parse, DoublesAreExactAndOutOfRangeFollowsPython) {
  EXPECT_EQ(parse("5e-324").get<double>(), 5e-324);
  EXPECT_EQ(parse("1.7976931348623157e+308").get<double>(), 1.7976931348623157e+308);
  EXPECT_EQ(parse("0.1").get<double>(), 0.1);
  EXPECT_EQ(parse("1e400").get<double>(), kInf);
  EXPECT_EQ(parse("-1e400").get<double>(), -kInf);
  EXPECT_EQ(parse("1e-400").get<double>(), 0.0);
  EXPECT_TRUE(std::signbit(parse("-1e-400").get<double>()));
  EXPECT_EQ(parse("2.4703282292062328e-324").get<double>(), 5e-324);  // rounds up to min subnormal
  EXPECT_EQ(parse("0." + std::string(400, '0') + "1e400").get<double>(), 0.1);
}

TEST(Parse, PythonNonFiniteTokens) {
  EXPECT_TRUE(std::isnan(parse("NaN").get<double>()));
  EXPECT_EQ(parse("Infinity").get<double>(), kInf);
  EXPECT_EQ(parse("-Infinity").get<double>(), -kInf);
  Value v = parse(R"({"loss":NaN,"best":Infinity,"worst":-Infinity})");
  EXPECT_TRUE(std::isnan(v.at("loss").get<double>()));
  for (const char* bad : {"nan", "inf", "-NaN", "+Infinity", "Infinit", "-Inf", "NaNa"}) {
    EXPECT_THROW((void)parse(bad), ProtocolError) << bad;
  }
}

TEST(Parse, RejectsMalformedJsonWithOffset) {
  for (const char* bad :
       {"",           " ",        "01",      "1.",          ".5",        "-",
        "+1",         "1e",       "1e+",     "[1,]",        "[1 2]",     "{\"a\" 1}",
        "{\"a\":1,}", "{a:1}",    "{'a':1}", "\"abc",       "[",         "{",
        "tru",        "nul",      "\"\\x\"", "\"\\u12g4\"", "\"\\u12\"", "1 2",
        "[]]",        "\"a\tb\"", "\"\x01\""}) {
    EXPECT_THROW((void)parse(bad), ProtocolError) << fmt::format("{:?}", std::string(bad));
  }
  EXPECT_THAT(message_of<ProtocolError>([] { (void)parse(R"({"a":1,"b":tru})"); }),
              HasSubstr("byte 11"));
  EXPECT_THAT(message_of<ProtocolError>([] { (void)parse("[1] x"); }), HasSubstr("byte 4"));
}

TEST(Parse, StringEscapesAndUnicode) {
  EXPECT_EQ(parse(R"("\"\\\/\b\f\n\r\t")"), Value("\"\\/\b\f\n\r\t"));
  EXPECT_EQ(parse(R"("\u0000")"), Value(std::string("\0", 1)));
  EXPECT_EQ(parse(R"("h\u00e9llo \u2713 \ud83e\uddca")"), Value("héllo ✓ 🧊"));
  EXPECT_EQ(parse(R"("\uD83E\uDDCA")"), Value("🧊"));
  EXPECT_EQ(parse("\"héllo 🧊\""), Value("héllo 🧊"));
  // UTF-8 cannot hold lone surrogates (Python's json accepts them): U+FFFD instead.
  EXPECT_EQ(parse(R"("a\ud800b")"), Value("a\xEF\xBF\xBD"
                                          "b"));
  EXPECT_EQ(parse(R"("\udc00")"), Value("\xEF\xBF\xBD"));
  EXPECT_EQ(parse(R"("\ud800\u0041")"), Value("\xEF\xBF\xBD"
                                              "A"));
  EXPECT_EQ(parse(R"("\ud800\ud800\udc00")"), Value("\xEF\xBF\xBD\xF0\x90\x80\x80"));
  EXPECT_EQ(parse("\"\x7f\""), Value("\x7f"));
}

TEST(Parse, RejectsInvalidUtf8Strictly) {
  for (std::string bad : {"\xff", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xE0\x9F\xBF",
                          "\xED\xA0\x80", "\xED\xBF\xBF", "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80",
                          "\xF5\x80\x80\x80", "\xC3", "\xE2\x82", "\x80", "\xBF"}) {
    EXPECT_THROW((void)parse("\"" + bad + "\""), ProtocolError) << fmt::format("{:?}", bad);
  }
  EXPECT_THAT(message_of<ProtocolError>([] { (void)parse("{\"k\":\"ab\xff\"}"); }),
              HasSubstr("byte 8"));
  // Largest and smallest code points of each length are fine.
  EXPECT_EQ(parse("\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"")
                .get<std::string>()
                .size(),
            18U);
}

TEST(Parse, ObjectsKeepOrderAndLastValueOfRepeatedKey) {
  Value v = parse(R"({"b":1,"a":2,"b":3})");
  ASSERT_EQ(v.size(), 2U);
  EXPECT_EQ(v.as_object().begin()->first, "b");
  EXPECT_EQ(v.at("b"), Value(3));
  EXPECT_EQ(write(v), R"({"b":3,"a":2})");
  // appose_type objects stay plain objects.
  Value shm = parse(R"({"appose_type":"shm","name":"psm_x","rsize":8})");
  EXPECT_TRUE(shm.is_object());
}

TEST(Parse, DepthLimitIsAnErrorNotACrash) {
  std::string ok = std::string(512, '[') + std::string(512, ']');
  EXPECT_NO_THROW((void)parse(ok));
  std::string too_deep = std::string(513, '[') + std::string(513, ']');
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)parse(too_deep); }), HasSubstr("512"));
  std::string objects;
  for (int i = 0; i < 600; ++i)
    objects += "{\"a\":";
  EXPECT_THROW((void)parse(objects), ProtocolError);
  EXPECT_THROW((void)parse(std::string(1000000, '[')), ProtocolError);
  LineContents c = split_line(std::string(100000, '{'));
  EXPECT_TRUE(c.messages.empty());
  EXPECT_EQ(c.invalid.size(), 1U);
}

// ---------------------------------------------------------------------------------------------
// Round trips of random values

class RandomValues {
 public:
  explicit RandomValues(std::uint64_t seed) : rng_(seed) {}

  Value value(int depth) {
    int pick = static_cast<int>(rng_() % (depth > 0 ? 10U : 8U));
    switch (pick) {
      case 0:
        return nullptr;
      case 1:
        return rng_() % 2 == 0;
      case 2:
        return static_cast<std::int64_t>(rng_());
      case 3:
        return rng_() | (std::uint64_t{1} << 63U);
      case 4:
        return number();
      case 5:
        return big_integer();
      case 6:
      case 7:
        return text();
      case 8: {
        Array a;
        auto n = rng_() % 6;
        for (std::uint64_t i = 0; i < n; ++i)
          a.push_back(value(depth - 1));
        return a;
      }
      default: {
        Args o;
        auto n = rng_() % 6;
        for (std::uint64_t i = 0; i < n; ++i)
          o.insert_or_assign(text(), value(depth - 1));
        return o;
      }
    }
  }

  double number() {
    switch (rng_() % 8) {
      case 0:
        return kNaN;
      case 1:
        return rng_() % 2 == 0 ? kInf : -kInf;
      case 2:
        return rng_() % 2 == 0 ? 0.0 : -0.0;
      case 3:  // subnormal
        return std::bit_cast<double>(rng_() & 0x800FFFFFFFFFFFFFULL);
      default: {
        double d = std::bit_cast<double>(rng_());
        return std::isfinite(d) ? d : 1.5;
      }
    }
  }

  BigInteger big_integer() {
    std::string digits = rng_() % 2 == 0 ? "-" : "";
    digits += static_cast<char>('1' + rng_() % 9);
    auto n = 20 + rng_() % 40;
    for (std::uint64_t i = 0; i < n; ++i)
      digits += static_cast<char>('0' + rng_() % 10);
    return {digits};
  }

  std::string text() {
    std::string s;
    auto n = rng_() % 12;
    for (std::uint64_t i = 0; i < n; ++i) {
      char32_t cp = 0;
      switch (rng_() % 5) {
        case 0:
          cp = static_cast<char32_t>(rng_() % 0x80);
          break;
        case 1:
          cp = static_cast<char32_t>(0x80 + rng_() % (0x800 - 0x80));
          break;
        case 2:
          cp = static_cast<char32_t>(0x800 + rng_() % (0x10000 - 0x800));
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          break;
        case 3:
          cp = static_cast<char32_t>(0x10000 + rng_() % (0x110000 - 0x10000));
          break;
        default:
          cp = static_cast<char32_t>(0x20 + rng_() % 0x5F);
      }
      append(s, cp);
    }
    return s;
  }

  static void append(std::string& s, char32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

TEST(RoundTrip, RandomValuesSurviveWriteAndParse) {
  RandomValues gen(20240607);
  for (int i = 0; i < 3000; ++i) {
    Value v = gen.value(4);
    std::string text = write(v);
    ASSERT_TRUE(valid_utf8(text));
    for (char c : text)
      ASSERT_LT(static_cast<unsigned char>(c), 0x80U) << text;
    Value back = parse(text);
    ASSERT_TRUE(same_value(v, back)) << text;
    ASSERT_EQ(write(back), text);
  }
}

TEST(RoundTrip, RandomMessagesSurviveGluing) {
  RandomValues gen(77);
  for (int i = 0; i < 300; ++i) {
    std::vector<Args> sent;
    std::string line;
    auto n = 1 + gen.rng()() % 4;
    for (std::uint64_t k = 0; k < n; ++k) {
      Value v = gen.value(3);
      Args m;
      m["task"] = fmt::format("t{}", k);
      m["payload"] = v;
      line += write(Value(m));
      sent.push_back(std::move(m));
    }
    LineContents c = split_line(line);
    ASSERT_EQ(c.messages.size(), sent.size()) << line;
    ASSERT_TRUE(c.invalid.empty());
    for (std::size_t k = 0; k < sent.size(); ++k) {
      ASSERT_TRUE(same_value(Value(c.messages[k]), Value(sent[k]))) << line;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Large inputs

#ifdef NDEBUG
constexpr double kLargeBudget = 1.0;  // seconds
#else
constexpr double kLargeBudget = 30.0;  // unoptimised and sanitizer builds
#endif

// CPU time of this thread: other builds and tests sharing the machine do not count against the
// budget, the work (page faults included) does.
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(Large, FiftyMegabyteString) {
  std::string payload;
  payload.reserve(50'000'000);
  for (std::size_t i = 0; payload.size() < 50'000'000; ++i) {
    payload += i % 97 == 0 ? "caf\xC3\xA9 " : "abcdefghij";
  }
  std::string line =
      R"({"outputs":{"s":")" + payload + R"("},"task":"t","responseType":"COMPLETION"})";
  double start = cpu_seconds();
  LineContents c = split_line(line);
  double elapsed = cpu_seconds() - start;
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_EQ(c.messages[0].at("outputs").at("s").get<std::string>(), payload);
  EXPECT_LT(elapsed, kLargeBudget);
  std::string again = write(Value(c.messages[0]));
  EXPECT_EQ(parse(again), Value(c.messages[0]));
}

TEST(Large, FiftyMegabyteArray) {
  std::string line = R"({"outputs":{"a":[)";
  line.reserve(50'000'100);
  std::size_t count = 0;
  while (line.size() < 50'000'000) {
    if (count > 0) line += ',';
    line += count % 2 == 0 ? "0.1234567890123" : "1234567";
    ++count;
  }
  line += R"(]},"task":"t","responseType":"COMPLETION"})";
  double start = cpu_seconds();
  LineContents c = split_line(line);
  double elapsed = cpu_seconds() - start;
  ASSERT_EQ(c.messages.size(), 1U);
  const Array& a = c.messages[0].at("outputs").at("a").as_array();
  ASSERT_EQ(a.size(), count);
  EXPECT_EQ(a[0], Value(0.1234567890123));
  EXPECT_EQ(a[1], Value(1234567));
  EXPECT_LT(elapsed, kLargeBudget);
}

// ---------------------------------------------------------------------------------------------
// split_line beyond the conformance vectors

std::vector<std::string> keys_of(const Args& a) {
  std::vector<std::string> k;
  for (const auto& [key, v] : a)
    k.push_back(key);
  return k;
}

TEST(SplitLine, BlankAndWhitespace) {
  for (const char* blank : {"", " ", "\t\t", "\r", " \r\n", "\v\f"}) {
    LineContents c = split_line(blank);
    EXPECT_TRUE(c.messages.empty());
    EXPECT_TRUE(c.invalid.empty());
    EXPECT_TRUE(c.notes.empty());
  }
  LineContents c = split_line("  {\"a\":1}\t {} \r");
  EXPECT_EQ(c.messages.size(), 2U);
  EXPECT_TRUE(c.invalid.empty());
}

TEST(SplitLine, GarbageAroundAndBetween) {
  LineContents c = split_line("x {\"a\":1} y{\"b\":2}z");
  ASSERT_EQ(c.messages.size(), 2U);
  EXPECT_THAT(keys_of(c.messages[1]), ElementsAre("b"));
  EXPECT_THAT(c.invalid, ElementsAre("x", "y", "z"));
  EXPECT_EQ(c.notes.size(), 3U);
  EXPECT_THAT(c.notes[0], HasSubstr("outside any JSON object"));

  // A line with no object is recorded whole, indentation included.
  c = split_line("    at Foo.bar(Foo.java:12)  ");
  EXPECT_THAT(c.invalid, ElementsAre("    at Foo.bar(Foo.java:12)  "));
}

TEST(SplitLine, BrokenObjectsDoNotYieldNestedOnes) {
  LineContents c = split_line(R"({"a":{"task":"t1","responseType":"LAUNCH"})");
  EXPECT_TRUE(c.messages.empty());
  ASSERT_EQ(c.invalid.size(), 1U);
  EXPECT_THAT(c.notes[0], HasSubstr("end of line"));

  c = split_line(R"({"a":1,{"task":"t1","responseType":"LAUNCH"}})");
  EXPECT_TRUE(c.messages.empty());

  // A Python dict printed by a script: not JSON, but the object after it is recovered.
  c = split_line(R"({'a': 1}{"task":"t1","responseType":"LAUNCH"})");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("{'a': 1}"));
}

TEST(SplitLine, ArraysAreNotMessagesEvenWithObjectsInside) {
  LineContents c = split_line(R"([{"task":"t1","responseType":"LAUNCH"}])");
  EXPECT_TRUE(c.messages.empty());
  EXPECT_THAT(c.invalid, ElementsAre(R"([{"task":"t1","responseType":"LAUNCH"}])"));
  EXPECT_THAT(c.notes[0], HasSubstr("array"));

  // Brackets that are not JSON do not hide an object.
  c = split_line(R"([INFO] {"task":"t1","responseType":"LAUNCH"})");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("[INFO]"));
  c = split_line(R"([{"task":"t1","responseType":"LAUNCH"})");
  EXPECT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("["));
}

TEST(SplitLine, InvalidUtf8) {
  // Outside objects: replaced in the record, objects kept.
  LineContents c = split_line("\xff\xfe{\"a\":1}");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_THAT(c.invalid, ElementsAre("\xEF\xBF\xBD\xEF\xBF\xBD"));

  // Inside an object's string: the object is rejected whole, never altered, and an object
  // nested in it is not taken for a message.
  c = split_line("{\"a\":\"x\xff\",\"b\":{\"task\":\"t1\",\"responseType\":\"LAUNCH\"}}");
  EXPECT_TRUE(c.messages.empty());
  ASSERT_EQ(c.invalid.size(), 1U);
  EXPECT_EQ(c.invalid[0],
            "{\"a\":\"x\xEF\xBF\xBD\",\"b\":{\"task\":\"t1\",\"responseType\":\"LAUNCH\"}}");
  EXPECT_THAT(c.notes[0], HasSubstr("invalid UTF-8"));

  // A broken object glued to a good one loses only itself.
  c = split_line("{\"k\xC0\xAF\":1}{\"task\":\"t2\",\"responseType\":\"LAUNCH\"}");
  ASSERT_EQ(c.messages.size(), 1U);
  EXPECT_EQ(c.messages[0].at("task"), Value("t2"));
  EXPECT_THAT(c.invalid, ElementsAre("{\"k\xEF\xBF\xBD\xEF\xBF\xBD\":1}"));
}

TEST(SplitLine, ScalarsAreNotMessages) {
  for (const char* line : {"42", "\"text\"", "null", "true", "NaN"}) {
    LineContents c = split_line(line);
    EXPECT_TRUE(c.messages.empty());
    EXPECT_THAT(c.invalid, ElementsAre(line));
  }
}

TEST(SplitLine, NeverThrowsOnRandomBytes) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\":,\\ ntrufalsNI0123456789.-eE\xff\xC3\xA9\x01";
  for (int i = 0; i < 5000; ++i) {
    std::string line;
    auto n = rng() % 60;
    for (std::uint64_t k = 0; k < n; ++k) {
      line += rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    LineContents c;
    ASSERT_NO_THROW(c = split_line(line));
    EXPECT_EQ(c.invalid.size(), c.notes.size());
    for (const auto& s : c.invalid)
      ASSERT_TRUE(valid_utf8(s)) << fmt::format("{:?}", line);
    for (const auto& s : c.notes)
      ASSERT_TRUE(valid_utf8(s));
    for (const auto& m : c.messages)
      ASSERT_NO_THROW((void)write(Value(m)));
  }
}

TEST(SplitLine, PathologicalLinesStayFast) {
  std::vector<std::string> lines = {
      std::string(1'000'000, '{'),
      std::string(1'000'000, '['),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "{\"a\":";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "{x";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "[1,";
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < 1'000'000)
          s += "[{}";
        return s;
      }(),
      "{\"" + std::string(1'000'000, 'a'),
  };
  for (const std::string& line : lines) {
    double start = cpu_seconds();
    LineContents c = split_line(line);
    double elapsed = cpu_seconds() - start;
    EXPECT_LT(elapsed, kLargeBudget) << line.substr(0, 20);
    EXPECT_FALSE(c.invalid.empty());
  }
}

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

TEST(PostTwelve, Float16ArraysAreRefusedForReadersThatCannotDecodeThem) {
  NDArray half(DType::float16, {2});
  Args inputs{{"img", Array{Value(half)}}};
  EXPECT_THAT(write(Value(inputs)), HasSubstr(R"("dtype":"float16")"));
  WriteOptions java;
  java.float16_arrays = false;
  EXPECT_THAT(message_of<ProtocolError>([&] { (void)write(Value(inputs), java); }),
              HasSubstr("float16 array at img[0]"));
  EXPECT_THAT(write(Value(NDArray(DType::float32, {2})), java), HasSubstr("float32"));
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
