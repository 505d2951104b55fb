// appose::Value and appose::Args: construction, conversion (get<T>), equality, the wire form
// (to_json), insertion order, large objects, and the lifetime of blocks held in a Value.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "appose/value.hpp"
#include "support/message_of.hpp"

namespace appose {
namespace {

using ::testing::HasSubstr;
using Kind = Value::Kind;

static_assert(std::is_nothrow_move_constructible_v<Value>,
              "vectors of Value must move, not copy, when they grow");
static_assert(std::is_nothrow_move_constructible_v<Args>);
// A char would otherwise become a bool; a string literal must stay a string.
static_assert(!std::is_constructible_v<Value, char>);
static_assert(!std::is_constructible_v<Value, char32_t>);
static_assert(std::is_constructible_v<Value, const char*>);
static_assert(std::is_constructible_v<Value, signed char>);

using appose::test::message_of;

TEST(Value, DefaultIsNull) {
  Value v;
  EXPECT_TRUE(v.is_null());
  EXPECT_EQ(v.kind(), Kind::null);
  EXPECT_EQ(Value(nullptr), v);
  EXPECT_EQ(v.size(), 0U);
}

TEST(Value, ConstructsFromScalars) {
  EXPECT_EQ(Value(true).kind(), Kind::boolean);
  EXPECT_EQ(Value(static_cast<std::int8_t>(-5)).kind(), Kind::integer);
  EXPECT_EQ(Value(static_cast<short>(7)).kind(), Kind::integer);
  EXPECT_EQ(Value(42).kind(), Kind::integer);
  EXPECT_EQ(Value(42L).kind(), Kind::integer);
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).kind(), Kind::integer);
  EXPECT_EQ(Value(7U).kind(), Kind::integer);
  EXPECT_EQ(Value(std::uint64_t{9223372036854775807ULL}).kind(), Kind::integer);
  EXPECT_EQ(Value(std::uint64_t{9223372036854775808ULL}).kind(), Kind::unsigned_integer);
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).kind(), Kind::unsigned_integer);
  EXPECT_EQ(Value(2.5F).kind(), Kind::floating);
  EXPECT_EQ(Value(2.5).kind(), Kind::floating);
  EXPECT_EQ(Value("abc").kind(), Kind::string);
  EXPECT_EQ(Value(std::string("abc")).kind(), Kind::string);
  EXPECT_EQ(Value(std::string_view("abc")).kind(), Kind::string);
  EXPECT_EQ(Value(BigInteger{"1180591620717411303424"}).kind(), Kind::big_integer);
  EXPECT_EQ(Value(WorkerObject("_appose_auto_0")).kind(), Kind::worker_object);
  // Small unsigned and signed integers of equal value are one representation.
  EXPECT_EQ(Value(5U), Value(5));
  EXPECT_EQ(Value(std::uint64_t{5}), Value(std::int64_t{5}));
}

TEST(Value, ConstructsFromContainers) {
  Value a = Array{1, "two", 3.0, nullptr};
  ASSERT_EQ(a.kind(), Kind::array);
  EXPECT_EQ(a.size(), 4U);
  EXPECT_EQ(a.at(1).get<std::string>(), "two");

  Value v = std::vector<int>{1, 2, 3};
  EXPECT_EQ(v, (Value(Array{1, 2, 3})));
  Value vv = std::vector<std::vector<double>>{{1.0}, {2.0, 3.0}};
  EXPECT_EQ(vv.at(1).at(1).get<double>(), 3.0);
  Value vs = std::vector<std::string>{"a", "b"};
  EXPECT_EQ(vs.at(0), Value("a"));

  Value m = std::map<std::string, double>{{"b", 2.0}, {"a", 1.0}};
  ASSERT_EQ(m.kind(), Kind::object);
  // A std::map brings its own (sorted) order.
  std::vector<std::string> keys;
  for (const auto& [k, item] : m.as_object())
    keys.push_back(k);
  EXPECT_THAT(keys, ::testing::ElementsAre("a", "b"));

  Value o = Args{{"data", 1}, {"gamma", 2.2}};
  EXPECT_EQ(o.at("gamma").get<double>(), 2.2);
}

TEST(Value, KindNames) {
  EXPECT_EQ(Value().kind_name(), "null");
  EXPECT_EQ(Value(true).kind_name(), "bool");
  EXPECT_EQ(Value(1).kind_name(), "int");
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).kind_name(), "unsigned int");
  EXPECT_EQ(Value(1.5).kind_name(), "float");
  EXPECT_EQ(Value(BigInteger{"-1208925819614629174706175"}).kind_name(), "big integer");
  EXPECT_EQ(Value("s").kind_name(), "string");
  EXPECT_EQ(Value(Array{}).kind_name(), "array");
  EXPECT_EQ(Value(Args{}).kind_name(), "object");
  EXPECT_EQ(Value(WorkerObject("w")).kind_name(), "worker_object");
  NDArray a(DType::uint8, Shape{4});
  EXPECT_EQ(Value(a).kind_name(), "ndarray");
  EXPECT_EQ(Value(a.shm()).kind_name(), "shared_memory");
}

TEST(Args, InitializerListKeepsOrderAndLastValueOfRepeatedKey) {
  Args args{{"data", 1}, {"gamma", 2.2}, {"data", "again"}, {"alpha", true}};
  ASSERT_EQ(args.size(), 3U);
  std::vector<std::string> keys;
  for (const auto& [k, v] : args)
    keys.push_back(k);
  EXPECT_THAT(keys, ::testing::ElementsAre("data", "gamma", "alpha"));
  EXPECT_EQ(args.at("data"), Value("again"));
}

TEST(Args, SubscriptInsertsAndAssigns) {
  Args inputs;
  inputs["x"] = 5;
  inputs["y"] = "text";
  inputs["x"] = 6;
  ASSERT_EQ(inputs.size(), 2U);
  EXPECT_EQ(inputs.at("x").get<int>(), 6);
  EXPECT_EQ(inputs.begin()->first, "x");
  Value& fresh = inputs["z"];
  EXPECT_TRUE(fresh.is_null());
  EXPECT_EQ(inputs.size(), 3U);
}

TEST(Args, AtNamesMissingKeyAndThePresentOnes) {
  Args outputs{{"a", 1}, {"b", 2}};
  EXPECT_EQ(message_of<Error>([&] { (void)outputs.at("x"); }), "no key 'x'; keys: a, b");
  Args empty;
  EXPECT_THAT(message_of<Error>([&] { (void)empty.at("x"); }), HasSubstr("empty"));
  Args many;
  for (int i = 0; i < 100; ++i)
    many[std::to_string(i)] = i;
  std::string m = message_of<Error>([&] { (void)many.at("x"); });
  EXPECT_THAT(m, HasSubstr("100 keys in all"));
  EXPECT_LT(m.size(), 200U);
}

TEST(Args, FindContainsEraseClear) {
  Args a{{"a", 1}, {"b", 2}, {"c", 3}};
  EXPECT_TRUE(a.contains("b"));
  EXPECT_EQ(a.find("nope"), nullptr);
  ASSERT_NE(a.find("c"), nullptr);
  EXPECT_EQ(*a.find("c"), Value(3));
  EXPECT_TRUE(a.erase("b"));
  EXPECT_FALSE(a.erase("b"));
  EXPECT_FALSE(a.contains("b"));
  EXPECT_EQ(a.at("c"), Value(3));
  EXPECT_EQ(std::next(a.begin())->first, "c");
  a.insert_or_assign("a", 10);
  EXPECT_EQ(a.begin()->first, "a");
  EXPECT_EQ(a.at("a"), Value(10));
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.contains("a"));
}

TEST(Args, EqualityFollowsOrder) {
  Args ab{{"a", 1}, {"b", 2}};
  Args ba{{"b", 2}, {"a", 1}};
  EXPECT_EQ(ab, (Args{{"a", 1}, {"b", 2}}));
  EXPECT_NE(ab, ba);
}

TEST(Args, LargeObjectsStayFastAndConsistent) {
  constexpr int kKeys = 100000;
  auto start = std::chrono::steady_clock::now();
  Args big;
  for (int i = 0; i < kKeys; ++i)
    big.insert_or_assign("key" + std::to_string(i), i);
  for (int i = 0; i < kKeys; ++i) {
    const Value* v = big.find("key" + std::to_string(i));
    ASSERT_NE(v, nullptr);
    ASSERT_EQ(std::get<std::int64_t>(v->variant()), i);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  // Quadratic behaviour would take minutes here; linear takes well under a second even in a
  // sanitizer build.
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(big.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(big.begin()->first, "key0");

  // The index survives erasure (positions shift), reassignment and copies.
  EXPECT_TRUE(big.erase("key10"));
  EXPECT_FALSE(big.contains("key10"));
  EXPECT_EQ(big.at("key11"), Value(11));
  EXPECT_EQ(big.at("key99999"), Value(99999));
  big["key5"] = "five";
  Args copy = big;
  EXPECT_EQ(copy.at("key5"), Value("five"));
  EXPECT_EQ(copy.at("key77777"), Value(77777));
  copy["new"] = 1;
  EXPECT_EQ(std::prev(copy.end())->first, "new");
  EXPECT_FALSE(big.contains("new"));
  EXPECT_EQ(copy.size(), big.size() + 1);
}

TEST(ValueGet, Bool) {
  EXPECT_TRUE(Value(true).get<bool>());
  EXPECT_THROW((void)Value(1).get<bool>(), TypeError);
}

TEST(ValueGet, IntegersAreRangeChecked) {
  EXPECT_EQ(Value(300).get<int>(), 300);
  EXPECT_EQ(Value(-128).get<std::int8_t>(), -128);
  EXPECT_EQ(Value(255).get<std::uint8_t>(), 255);
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).get<std::uint64_t>(),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).get<std::int64_t>(),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_THAT(message_of<TypeError>([] { (void)Value(300).get<std::int8_t>(); }),
              HasSubstr("out of range"));
  EXPECT_THROW((void)Value(256).get<std::uint8_t>(), TypeError);
  EXPECT_THROW((void)Value(-1).get<unsigned>(), TypeError);
  EXPECT_THROW((void)Value(-1).get<std::uint64_t>(), TypeError);
  EXPECT_THROW((void)Value(std::numeric_limits<std::uint64_t>::max()).get<std::int64_t>(),
               TypeError);
  EXPECT_THROW((void)Value(BigInteger{"1180591620717411303424"}).get<std::uint64_t>(), TypeError);
  EXPECT_THROW((void)Value(true).get<int>(), TypeError);
  EXPECT_THROW((void)Value("1").get<int>(), TypeError);
}

TEST(ValueGet, IntegralDoublesConvertToIntegers) {
  EXPECT_EQ(Value(3.0).get<int>(), 3);
  EXPECT_EQ(Value(-2.0).get<std::int64_t>(), -2);
  EXPECT_EQ(Value(1e18).get<std::uint64_t>(), 1000000000000000000ULL);
  EXPECT_EQ(Value(9223372036854775808.0).get<std::uint64_t>(), 9223372036854775808ULL);
  EXPECT_THROW((void)Value(3.5).get<int>(), TypeError);
  EXPECT_THROW((void)Value(std::nan("")).get<int>(), TypeError);
  EXPECT_THROW((void)Value(INFINITY).get<std::int64_t>(), TypeError);
  EXPECT_THROW((void)Value(9223372036854775808.0).get<std::int64_t>(), TypeError);
  EXPECT_THROW((void)Value(1e300).get<std::uint64_t>(), TypeError);
  EXPECT_THROW((void)Value(-1.0).get<unsigned>(), TypeError);
  EXPECT_THROW((void)Value(1e10).get<int>(), TypeError);
}

TEST(ValueGet, DoublesFromEveryNumberKind) {
  EXPECT_EQ(Value(2.5).get<double>(), 2.5);
  EXPECT_EQ(Value(2.5).get<float>(), 2.5F);
  EXPECT_EQ(Value(-3).get<double>(), -3.0);
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).get<double>(), 18446744073709551616.0);
  EXPECT_EQ(Value(BigInteger{"1180591620717411303424"}).get<double>(), 1180591620717411303424.0);
  EXPECT_EQ(Value(BigInteger{"-1208925819614629174706175"}).get<double>(), -0x1p80);
  EXPECT_TRUE(std::isinf(Value(BigInteger{"1" + std::string(400, '0')}).get<double>()));
  EXPECT_TRUE(std::isnan(Value(std::nan("")).get<double>()));
  EXPECT_THROW((void)Value("2.5").get<double>(), TypeError);
  EXPECT_THROW((void)Value().get<double>(), TypeError);
}

TEST(ValueGet, TypeErrorNamesBothTypes) {
  EXPECT_EQ(message_of<TypeError>([] { (void)Value("abc").get<int>(); }),
            "expected an int but the value is a string (\"abc\")");
  EXPECT_EQ(message_of<TypeError>([] { (void)Value().get<std::string>(); }),
            "expected a string but the value is null");
  EXPECT_EQ(message_of<TypeError>([] {
              (void)Value(Array{1, 2}).get<Args>();
            }),
            "expected an object but the value is an array with 2 elements");
  EXPECT_EQ(message_of<TypeError>([] { (void)Value(1.5).get<NDArray>(); }),
            "expected an ndarray but the value is a float (1.5)");
  // Long strings are cut, at a UTF-8 boundary.
  std::string long_text = std::string(39, 'x') + "\xC3\xA9" + std::string(100, 'y');
  std::string m = message_of<TypeError>([&] { (void)Value(long_text).get<bool>(); });
  EXPECT_THAT(m, HasSubstr(std::string(39, 'x') + "...\")"));
}

TEST(ValueGet, StringsContainersAndAsIs) {
  Value s("héllo");
  EXPECT_EQ(s.get<std::string>(), "héllo");
  Value arr = Array{1, 2, 3};
  EXPECT_EQ(arr.get<Array>().size(), 3U);
  EXPECT_EQ(arr.get<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(arr.get<std::vector<double>>(), (std::vector<double>{1.0, 2.0, 3.0}));
  EXPECT_THROW((void)Value(Array{1, "x"}).get<std::vector<int>>(), TypeError);
  Value obj = Args{{"a", 1.5}, {"b", 2}};
  auto m = obj.get<std::map<std::string, double>>();
  EXPECT_EQ(m.at("a"), 1.5);
  EXPECT_EQ(m.at("b"), 2.0);
  EXPECT_EQ(obj.get<Args>().size(), 2U);
  EXPECT_EQ(obj.get<Value>(), obj);
  EXPECT_EQ(Value(BigInteger{"123456789012345678901234567890"}).get<BigInteger>().digits,
            "123456789012345678901234567890");
  EXPECT_EQ(Value(WorkerObject("_appose_auto_3")).get<WorkerObject>().var_name(), "_appose_auto_3");
  Json j = obj.get<Json>();
  EXPECT_EQ(j.dump(), R"({"a":1.5,"b":2})");
}

TEST(Value, ArrayAndObjectAccess) {
  Value fresh;
  fresh["k"] = 1;  // a null Value becomes an object on first member access
  EXPECT_TRUE(fresh.is_object());
  EXPECT_TRUE(fresh.contains("k"));
  EXPECT_FALSE(fresh.contains("other"));
  EXPECT_EQ(fresh.at("k"), Value(1));
  EXPECT_THROW((void)Value(1).as_object(), TypeError);
  EXPECT_THROW((void)Value(Args{}).as_array(), TypeError);
  Value n;
  EXPECT_THROW((void)std::as_const(n).as_object(), TypeError);
  Value arr = Array{1, 2};
  arr.as_array().push_back(3);
  EXPECT_EQ(arr.size(), 3U);
  EXPECT_THAT(message_of<Error>([&] { (void)arr.at(7); }), HasSubstr("index 7"));
  EXPECT_EQ(Value(5).size(), 0U);
  EXPECT_FALSE(Value(5).contains("k"));
}

TEST(Value, EqualityIsDeepAndStrict) {
  EXPECT_EQ(Value(Array{1, Args{{"a", Array{"x"}}}}), Value(Array{1, Args{{"a", Array{"x"}}}}));
  EXPECT_NE(Value(Array{1, Args{{"a", Array{"x"}}}}), Value(Array{1, Args{{"a", Array{"y"}}}}));
  EXPECT_NE(Value(1), Value(1.0));  // different JSON tokens
  EXPECT_NE(Value(1), Value(true));
  EXPECT_NE(Value(std::nan("")), Value(std::nan("")));
  EXPECT_EQ(Value(0.0), Value(-0.0));  // by value, as IEEE 754 compares them
  EXPECT_NE(Value(BigInteger{"1180591620717411303424"}), Value(1180591620717411303424.0));
  EXPECT_EQ(Value(BigInteger{"1180591620717411303424"}),
            Value(BigInteger{"1180591620717411303424"}));
  EXPECT_NE(Value(""), Value());
  EXPECT_EQ(Value(WorkerObject("w")), Value(WorkerObject("w")));
  EXPECT_NE(Value(WorkerObject("w")), Value(WorkerObject("v")));
}

TEST(Value, FromJsonMapsNumberTypes) {
  Json j =
      Json::parse(R"({"i":-5,"u":5,"big":18446744073709551615,"d":2.5,"s":"x","b":true,"n":null,)"
                  R"("a":[1,[2]],"o":{"z":1,"y":2}})");
  Value v(j);
  EXPECT_EQ(v.at("i").kind(), Kind::integer);
  EXPECT_EQ(v.at("u").kind(), Kind::integer);  // nlohmann stores it unsigned
  EXPECT_EQ(v.at("u"), Value(5));
  EXPECT_EQ(v.at("big").kind(), Kind::unsigned_integer);
  EXPECT_EQ(v.at("d").kind(), Kind::floating);
  EXPECT_EQ(v.at("s"), Value("x"));
  EXPECT_EQ(v.at("b"), Value(true));
  EXPECT_TRUE(v.at("n").is_null());
  EXPECT_EQ(v.at("a"), Value(Array{1, Array{2}}));
  EXPECT_EQ(v.at("o").as_object().begin()->first, "z");
  EXPECT_EQ(v.to_json(), j);
  EXPECT_EQ(v.to_json().dump(), j.dump());
  EXPECT_THROW(Value(Json::binary({1, 2})), TypeError);
}

TEST(Value, ToJsonGivesTheWireForm) {
  EXPECT_EQ(Value(BigInteger{"1180591620717411303424"}).to_json(), Json(1180591620717411303424.0));
  EXPECT_EQ(Value(WorkerObject("_appose_auto_0")).to_json().dump(),
            R"({"appose_type":"worker_object","var_name":"_appose_auto_0"})");
  NDArray a(DType::float32, Shape::f_order({4, 3, 2}));
  Json j = Value(a).to_json();
  EXPECT_EQ(j.dump(), fmt::format(R"({{"appose_type":"ndarray","dtype":"float32","shape":[2,3,4],)"
                                  R"("shm":{{"appose_type":"shm","name":"{}","rsize":96}}}})",
                                  a.shm().name()));
  EXPECT_EQ(Value(a.shm()).to_json().dump(),
            fmt::format(R"({{"appose_type":"shm","name":"{}","rsize":96}})", a.shm().name()));
  EXPECT_THROW((void)Value(NDArray()).to_json(), Error);
  EXPECT_THROW((void)Value(SharedMemory()).to_json(), Error);
  Args args{{"img", a}, {"n", 1}};
  EXPECT_EQ(args.to_json().at("img").at("appose_type"), "ndarray");
}

TEST(Value, HoldsApposeObjects) {
  NDArray a(DType::int32, Shape{2, 2});
  Value v = a;
  EXPECT_EQ(v.get<NDArray>(), a);
  EXPECT_THROW((void)v.get<SharedMemory>(), TypeError);
  Value s = a.shm();
  EXPECT_EQ(s.get<SharedMemory>(), a.shm());
  EXPECT_EQ(s, Value(a.shm()));
  EXPECT_NE(v, s);
}

TEST(Value, NDArrayInsideAValueKeepsItsBlockAlive) {
  std::string name;
  std::optional<Value> holder;
  {
    NDArray a(DType::float64, Shape{8});
    a.span<double>()[3] = 42.0;
    name = a.shm().name();
    holder = Value(Args{{"data", Array{a}}});
  }  // the caller's handle is gone; the Value still holds one
  {
    SharedMemory again = SharedMemory::attach(name, 64);
    EXPECT_EQ(reinterpret_cast<const double*>(again.data())[3], 42.0);
  }
  Value copy = *holder;
  holder.reset();
  EXPECT_NO_THROW((void)SharedMemory::attach(name, 64));  // the copy still holds it
  copy = Value();
  // The last handle went away with the Value: the block this process created is unlinked.
  EXPECT_THROW((void)SharedMemory::attach(name, 64), Error);
}

}  // namespace
}  // namespace appose
