#include "appose/value.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <unordered_map>

#include "util/utf8.hpp"

namespace appose {

namespace detail {

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Transparent, so that lookups by string_view do not build a std::string.
struct KeyIndex {
  std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> positions;
};

}  // namespace detail

namespace {

// Below this size a linear scan beats hashing (and costs no memory); above it, decoding a
// large object must stay linear rather than quadratic.
constexpr std::size_t kIndexThreshold = 32;

// Keys listed in an error message; beyond this the list is cut short.
constexpr std::size_t kKeysInMessage = 20;

// Strings quoted in error messages are cut to this many bytes.
constexpr std::size_t kPreviewBytes = 40;

constexpr double kTwoPow63 = 9223372036854775808.0;
constexpr double kTwoPow64 = 18446744073709551616.0;

std::string_view article(std::string_view noun) {
  if (noun.empty()) return "a ";
  if (noun.starts_with("nd")) return "an ";  // "an ndarray": the letter is read "en"
  switch (noun.front()) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return "an ";
    default:
      return "a ";
  }
}

// "a string", "an int", but plain "null"; phrases that bring their own article stay as given.
std::string with_article(std::string_view noun) {
  if (noun == "null" || noun.starts_with("a ") || noun.starts_with("an ")) {
    return std::string(noun);
  }
  return fmt::format("{}{}", article(noun), noun);
}

// Cuts at a UTF-8 boundary so the message stays valid UTF-8.
std::string truncated(std::string_view s) {
  if (s.size() <= kPreviewBytes) return std::string(s);
  return fmt::format("{}...", detail::utf8::cut(s, kPreviewBytes));
}

// A short rendering of a value for error messages: enough to recognise it, never huge.
std::string preview(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      return {};
    case Value::Kind::boolean:
      return std::get<bool>(v.variant()) ? " (true)" : " (false)";
    case Value::Kind::integer:
      return fmt::format(" ({})", std::get<std::int64_t>(v.variant()));
    case Value::Kind::unsigned_integer:
      return fmt::format(" ({})", std::get<std::uint64_t>(v.variant()));
    case Value::Kind::floating:
      return fmt::format(" ({})", std::get<double>(v.variant()));
    case Value::Kind::big_integer:
      return fmt::format(" ({})", truncated(std::get<BigInteger>(v.variant()).digits));
    case Value::Kind::string:
      return fmt::format(" (\"{}\")", truncated(std::get<std::string>(v.variant())));
    case Value::Kind::array:
      return fmt::format(" with {} elements", v.size());
    case Value::Kind::object:
      return fmt::format(" with {} keys", v.size());
    case Value::Kind::worker_object:
      return fmt::format(" ({})", std::get<WorkerObject>(v.variant()).var_name());
    case Value::Kind::ndarray:
    case Value::Kind::shared_memory:
      return {};
  }
  return {};
}

Json shm_json(const SharedMemory& shm) {
  if (!shm) throw TypeError("an empty SharedMemory handle has no wire form");
  Json j = Json::object();
  j["appose_type"] = "shm";
  j["name"] = shm.name();
  j["rsize"] = static_cast<std::uint64_t>(shm.rsize());
  // A region's fields as given, in the wire's order (docs/protocol.md).
  const ShmRegion& region = shm.region();
  if (region.offset) j["offset"] = static_cast<std::uint64_t>(*region.offset);
  if (region.length) j["length"] = static_cast<std::uint64_t>(*region.length);
  if (region.managed) j["managed"] = *region.managed;
  return j;
}

Json ndarray_json(const NDArray& a) {
  if (!a) throw TypeError("an empty NDArray handle has no wire form");
  Json j = Json::object();
  j["appose_type"] = "ndarray";
  j["dtype"] = std::string(dtype_name(a.dtype()));
  Json shape = Json::array();
  for (std::uint64_t d : a.shape().c_dims())
    shape.push_back(d);
  j["shape"] = std::move(shape);
  j["shm"] = shm_json(a.shm());
  return j;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Args

Args::Args() noexcept = default;

Args::Args(std::initializer_list<value_type> init) {
  items_.reserve(init.size());
  for (const auto& [key, value] : init)
    insert_or_assign(key, value);
}

Args::Args(const Args& other) : items_(other.items_) {
  reindex();
}

Args& Args::operator=(const Args& other) {
  if (this != &other) {
    items_ = other.items_;
    reindex();
  }
  return *this;
}

Args::Args(Args&& other) noexcept = default;
Args& Args::operator=(Args&& other) noexcept = default;
Args::~Args() = default;

std::ptrdiff_t Args::index_of(std::string_view key) const noexcept {
  if (index_) {
    auto it = index_->positions.find(key);
    return it == index_->positions.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
  }
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].first == key) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

void Args::reindex() {
  if (items_.size() < kIndexThreshold) {
    index_.reset();
    return;
  }
  if (!index_) index_ = std::make_unique<detail::KeyIndex>();
  index_->positions.clear();
  index_->positions.reserve(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i)
    index_->positions.emplace(items_[i].first, i);
}

Value& Args::operator[](std::string_view key) {
  if (Value* v = find(key)) return *v;
  return insert_or_assign(std::string(key), Value());
}

Value& Args::at(std::string_view key) {
  return const_cast<Value&>(std::as_const(*this).at(key));
}

const Value& Args::at(std::string_view key) const {
  if (const Value* v = find(key)) return *v;
  if (items_.empty()) throw Error(fmt::format("no key '{}': the object is empty", key));
  std::string keys;
  std::size_t shown = std::min(items_.size(), kKeysInMessage);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) keys += ", ";
    keys += items_[i].first;
  }
  if (shown < items_.size()) keys += fmt::format(", ... ({} keys in all)", items_.size());
  throw Error(fmt::format("no key '{}'; keys: {}", key, keys));
}

Value* Args::find(std::string_view key) noexcept {
  std::ptrdiff_t i = index_of(key);
  return i < 0 ? nullptr : &items_[static_cast<std::size_t>(i)].second;
}

const Value* Args::find(std::string_view key) const noexcept {
  std::ptrdiff_t i = index_of(key);
  return i < 0 ? nullptr : &items_[static_cast<std::size_t>(i)].second;
}

Value& Args::insert_or_assign(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  items_.emplace_back(std::move(key), std::move(value));
  if (index_) {
    index_->positions.emplace(items_.back().first, items_.size() - 1);
  } else if (items_.size() >= kIndexThreshold) {
    reindex();
  }
  return items_.back().second;
}

bool Args::erase(std::string_view key) {
  std::ptrdiff_t i = index_of(key);
  if (i < 0) return false;
  items_.erase(items_.begin() + i);
  // Positions after the erased one shift, so the index is rebuilt (erase is linear anyway).
  if (index_) reindex();
  return true;
}

void Args::clear() noexcept {
  items_.clear();
  index_.reset();
}

Json Args::to_json() const {
  Json j = Json::object();
  for (const auto& [key, value] : items_)
    j[key] = value.to_json();
  return j;
}

bool operator==(const Args& a, const Args& b) {
  return a.items_ == b.items_;
}

// ---------------------------------------------------------------------------------------------
// Value

Value::Value(const Json& json) {
  switch (json.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      break;
    case Json::value_t::boolean:
      v_ = json.get<bool>();
      break;
    case Json::value_t::number_integer:
      v_ = json.get<std::int64_t>();
      break;
    case Json::value_t::number_unsigned:
      // nlohmann stores every non-negative integer as unsigned; Value keeps those that fit
      // int64 as `integer` so that equal numbers have one representation.
      *this = Value(json.get<std::uint64_t>());
      break;
    case Json::value_t::number_float:
      v_ = json.get<double>();
      break;
    case Json::value_t::string:
      v_ = json.get<std::string>();
      break;
    case Json::value_t::array: {
      Array a;
      a.reserve(json.size());
      for (const Json& item : json)
        a.emplace_back(item);
      v_ = std::move(a);
      break;
    }
    case Json::value_t::object: {
      Args o;
      for (const auto& [key, item] : json.items())
        o.insert_or_assign(key, Value(item));
      v_ = std::move(o);
      break;
    }
    case Json::value_t::binary:
      throw TypeError("JSON binary values have no Appose equivalent");
  }
}

std::string_view Value::kind_name() const noexcept {
  switch (kind()) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::unsigned_integer:
      return "unsigned int";
    case Kind::floating:
      return "float";
    case Kind::big_integer:
      return "big integer";
    case Kind::string:
      return "string";
    case Kind::array:
      return "array";
    case Kind::object:
      return "object";
    case Kind::ndarray:
      return "ndarray";
    case Kind::shared_memory:
      return "shared_memory";
    case Kind::worker_object:
      return "worker_object";
  }
  return "unknown";
}

void Value::type_error(std::string_view wanted) const {
  std::string hint;
  if (wanted == "ndarray" && kind() == Kind::worker_object) {
    // The usual cause: a Python script returned a NumPy array, which the worker cannot encode.
    hint =
        ". A NumPy array does not travel by itself (the worker kept it and sent a reference): "
        "return an appose.NDArray, e.g. `out = appose.NDArray(str(a.dtype), list(a.shape)); "
        "out.ndarray()[:] = a` and then `task.outputs['result'] = out` (see docs/values.md)";
  }
  throw TypeError(fmt::format("expected {} but the value is {}{}{}", with_article(wanted),
                              with_article(kind_name()), preview(*this), hint));
}

std::int64_t Value::get_int64() const {
  switch (kind()) {
    case Kind::integer:
      return std::get<std::int64_t>(v_);
    case Kind::unsigned_integer:
    case Kind::big_integer:
      type_error("an int that fits in 64 bits (value out of range)");
    case Kind::floating: {
      double d = std::get<double>(v_);
      if (!std::isfinite(d) || std::trunc(d) != d) type_error("an int (or an integral float)");
      if (d < -kTwoPow63 || d >= kTwoPow63) {
        type_error("an int that fits in 64 bits (value out of range)");
      }
      return static_cast<std::int64_t>(d);
    }
    default:
      type_error("int");
  }
}

std::uint64_t Value::get_uint64() const {
  switch (kind()) {
    case Kind::integer: {
      std::int64_t i = std::get<std::int64_t>(v_);
      if (i < 0) type_error("a non-negative int (value out of range)");
      return static_cast<std::uint64_t>(i);
    }
    case Kind::unsigned_integer:
      return std::get<std::uint64_t>(v_);
    case Kind::big_integer:
      type_error("an int that fits in 64 bits (value out of range)");
    case Kind::floating: {
      double d = std::get<double>(v_);
      if (!std::isfinite(d) || std::trunc(d) != d) type_error("an int (or an integral float)");
      if (d < 0 || d >= kTwoPow64) type_error("a non-negative int (value out of range)");
      return static_cast<std::uint64_t>(d);
    }
    default:
      type_error("int");
  }
}

double Value::get_double() const {
  switch (kind()) {
    case Kind::integer:
      return static_cast<double>(std::get<std::int64_t>(v_));
    case Kind::unsigned_integer:
      return static_cast<double>(std::get<std::uint64_t>(v_));
    case Kind::floating:
      return std::get<double>(v_);
    case Kind::big_integer:
      // strtod rounds correctly and gives +-HUGE_VAL (infinity) beyond the double range,
      // which is what Python's float(int) would refuse; the nearest double is more useful.
      return std::strtod(std::get<BigInteger>(v_).digits.c_str(), nullptr);
    default:
      type_error("number");
  }
}

Array& Value::as_array() {
  return const_cast<Array&>(std::as_const(*this).as_array());
}

const Array& Value::as_array() const {
  return get_ref<Array>("array");
}

Args& Value::as_object() {
  if (is_null()) v_ = Args{};
  return const_cast<Args&>(std::as_const(*this).as_object());
}

const Args& Value::as_object() const {
  return get_ref<Args>("object");
}

const Value& Value::at(std::size_t i) const {
  const Array& a = as_array();
  if (i >= a.size()) {
    throw Error(fmt::format("index {} is out of range: the array has {} elements", i, a.size()));
  }
  return a[i];
}

std::size_t Value::size() const noexcept {
  if (const auto* a = std::get_if<Array>(&v_)) return a->size();
  if (const auto* o = std::get_if<Args>(&v_)) return o->size();
  return 0;
}

Json Value::to_json() const {
  switch (kind()) {
    case Kind::null:
      return nullptr;
    case Kind::boolean:
      return std::get<bool>(v_);
    case Kind::integer:
      return std::get<std::int64_t>(v_);
    case Kind::unsigned_integer:
      return std::get<std::uint64_t>(v_);
    case Kind::floating:
      return std::get<double>(v_);
    case Kind::big_integer:
      return get_double();
    case Kind::string:
      return std::get<std::string>(v_);
    case Kind::array: {
      Json j = Json::array();
      for (const Value& item : std::get<Array>(v_))
        j.push_back(item.to_json());
      return j;
    }
    case Kind::object:
      return std::get<Args>(v_).to_json();
    case Kind::ndarray:
      return ndarray_json(std::get<NDArray>(v_));
    case Kind::shared_memory:
      return shm_json(std::get<SharedMemory>(v_));
    case Kind::worker_object: {
      Json j = Json::object();
      j["appose_type"] = "worker_object";
      j["var_name"] = std::get<WorkerObject>(v_).var_name();
      return j;
    }
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b) {
  // std::variant's == compares doubles with ==, so NaN != NaN and int vs double (different
  // alternatives) are unequal, which is the documented semantics.
  return a.v_ == b.v_;
}

}  // namespace appose
