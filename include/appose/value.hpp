#pragma once

/// \file
/// appose::Value: the values that travel as task inputs and outputs. Plain JSON (null, bool,
/// integers, doubles, strings, arrays, objects) plus the Appose objects NDArray, SharedMemory
/// and WorkerObject at any depth, which nlohmann's json cannot hold (they own live mappings
/// or refer to a service).
///
/// Ownership: a Value holding an NDArray or SharedMemory holds a handle to the block, so the
/// block stays mapped (and, if this process owns it, stays linked) while the Value exists.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "appose/error.hpp"
#include "appose/export.hpp"
#include "appose/ndarray.hpp"
#include "appose/shared_memory.hpp"
#include "appose/worker_object.hpp"

namespace appose {

/// Plain JSON, insertion-ordered as the peers write it.
using Json = nlohmann::ordered_json;

class Value;
/// A JSON array of Values.
using Array = std::vector<Value>;

namespace detail {
struct KeyIndex;
}

/// An integer too large for 64 bits (Python writes them freely), kept exactly as its decimal
/// digits (with a leading '-' if negative) so that it round-trips unchanged.
struct BigInteger {
  std::string digits;
  friend bool operator==(const BigInteger&, const BigInteger&) = default;
};

/// Insertion-ordered map from string to Value: task inputs and outputs, and JSON objects.
/// Lookups are by key; iteration follows insertion order. Keys are unique.
class APPOSE_EXPORT Args {
 public:
  using value_type = std::pair<std::string, Value>;
  using iterator = std::vector<value_type>::iterator;
  using const_iterator = std::vector<value_type>::const_iterator;

  Args() noexcept;
  /// `Args{{"data", ndarray}, {"gamma", 2.2}}`. A repeated key keeps its last value.
  Args(std::initializer_list<value_type> init);
  /// Copies rebuild the key index of large objects.
  Args(const Args& other);
  Args& operator=(const Args& other);
  Args(Args&& other) noexcept;
  Args& operator=(Args&& other) noexcept;
  ~Args();

  /// The value under `key`, inserting null if absent (so `inputs["x"] = 5` works).
  Value& operator[](std::string_view key);
  /// The value under `key`; throws appose::Error naming the key and the keys present.
  [[nodiscard]] Value& at(std::string_view key);
  [[nodiscard]] const Value& at(std::string_view key) const;
  /// The value under `key`, or nullptr.
  [[nodiscard]] Value* find(std::string_view key) noexcept;
  [[nodiscard]] const Value* find(std::string_view key) const noexcept;
  [[nodiscard]] bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  /// Sets `key` to `value`, keeping its position if it exists.
  Value& insert_or_assign(std::string key, Value value);
  /// Removes `key`; returns whether it was present.
  bool erase(std::string_view key);
  void clear() noexcept;

  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept;
  // Defined after Value (see size()).
  iterator begin() noexcept;
  iterator end() noexcept;
  const_iterator begin() const noexcept;
  const_iterator end() const noexcept;

  /// The wire form (Appose objects become their `appose_type` objects).
  [[nodiscard]] Json to_json() const;

  /// Equal when they hold the same keys in the same order with equal values.
  friend APPOSE_EXPORT bool operator==(const Args& a, const Args& b);

 private:
  [[nodiscard]] std::ptrdiff_t index_of(std::string_view key) const noexcept;
  void reindex();

  std::vector<value_type> items_;
  // Small objects are searched linearly; large ones (a 100k-key dict decoded from a worker)
  // get a hash index so that decoding stays linear. Held by pointer so that every Value (an
  // Args is one of its alternatives) stays small: a decoded array of millions of numbers pays
  // for sizeof(Value) per element.
  std::unique_ptr<detail::KeyIndex> index_;
};

namespace detail {
template <typename T>
concept value_integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                        !std::same_as<T, char8_t> && !std::same_as<T, char16_t> &&
                        !std::same_as<T, char32_t> && !std::same_as<T, wchar_t>;
template <typename T>
concept value_char = std::same_as<T, char> || std::same_as<T, wchar_t> ||
    std::same_as<T, char8_t> || std::same_as<T, char16_t> || std::same_as<T, char32_t>;
template <typename T>
struct is_vector : std::false_type {};
template <typename T, typename A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <typename T>
struct is_string_map : std::false_type {};
template <typename T, typename C, typename A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};
}  // namespace detail

/// One value of a task's inputs or outputs. See the file comment.
class APPOSE_EXPORT Value {
 public:
  /// What a Value holds.
  enum class Kind : std::uint8_t {
    null,
    boolean,
    integer,           ///< std::int64_t
    unsigned_integer,  ///< std::uint64_t above INT64_MAX (smaller ones are `integer`)
    floating,          ///< double (NaN and infinities included)
    big_integer,       ///< BigInteger: beyond 64 bits
    string,            ///< UTF-8
    array,
    object,
    ndarray,
    shared_memory,
    worker_object,
  };

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  Value(bool b) noexcept : v_(b) {}  // NOLINT
  template <detail::value_integer T>
  Value(T i) noexcept {  // NOLINT
    if constexpr (std::is_signed_v<T>) {
      v_ = static_cast<std::int64_t>(i);
    } else if (static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(INT64_MAX)) {
      v_ = static_cast<std::int64_t>(i);
    } else {
      v_ = static_cast<std::uint64_t>(i);
    }
  }
  /// A character is neither a number nor a string here (it would silently become `true`
  /// through the bool constructor): write "x" for a string.
  template <detail::value_char T>
  Value(T) = delete;
  template <std::floating_point T>
  Value(T d) noexcept : v_(static_cast<double>(d)) {}   // NOLINT
  Value(const char* s) : v_(std::string(s)) {}          // NOLINT
  Value(std::string s) noexcept : v_(std::move(s)) {}   // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}     // NOLINT
  Value(BigInteger b) noexcept : v_(std::move(b)) {}    // NOLINT
  Value(Array a) noexcept : v_(std::move(a)) {}         // NOLINT
  Value(Args o) noexcept : v_(std::move(o)) {}          // NOLINT
  Value(NDArray a) noexcept : v_(std::move(a)) {}       // NOLINT
  Value(SharedMemory s) noexcept : v_(std::move(s)) {}  // NOLINT
  Value(WorkerObject w) noexcept : v_(std::move(w)) {}  // NOLINT
  /// From plain JSON. Objects with an `appose_type` stay plain objects: attaching a block is
  /// the codec's job, not a conversion's.
  Value(const Json& json);  // NOLINT
  /// From a vector of anything convertible to Value.
  template <typename T>
  requires(!std::same_as<T, Value> && std::constructible_from<Value, const T&>)
      Value(const std::vector<T>& items)
      : v_(Array(items.begin(), items.end())) {}  // NOLINT
  /// From a string-keyed map of anything convertible to Value (in the map's order).
  template <typename T, typename C, typename A>
  requires std::constructible_from<Value, const T&> Value(
      const std::map<std::string, T, C, A>& items)
      : v_(Args{}) {  // NOLINT
    auto& obj = std::get<Args>(v_);
    for (const auto& [k, v] : items)
      obj.insert_or_assign(k, Value(v));
  }

  [[nodiscard]] Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  /// A short name of the kind, for error messages ("string", "ndarray", ...).
  [[nodiscard]] std::string_view kind_name() const noexcept;
  [[nodiscard]] bool is_null() const noexcept { return kind() == Kind::null; }
  [[nodiscard]] bool is_number() const noexcept {
    auto k = kind();
    return k == Kind::integer || k == Kind::unsigned_integer || k == Kind::floating ||
           k == Kind::big_integer;
  }
  [[nodiscard]] bool is_string() const noexcept { return kind() == Kind::string; }
  [[nodiscard]] bool is_array() const noexcept { return kind() == Kind::array; }
  [[nodiscard]] bool is_object() const noexcept { return kind() == Kind::object; }

  /// Converts to T, throwing appose::TypeError (naming both types) when it cannot.
  /// T may be: bool; any integer type (range-checked; integral doubles accepted); float/double;
  /// std::string; Json; Array; Args; NDArray; SharedMemory; WorkerObject; BigInteger;
  /// Value; std::vector<U> and std::map<std::string, U> of any of those.
  template <typename T>
  [[nodiscard]] T get() const;

  /// The array inside; throws appose::TypeError if this is not an array.
  [[nodiscard]] Array& as_array();
  [[nodiscard]] const Array& as_array() const;
  /// The object inside; throws appose::TypeError if this is not an object. A null Value
  /// becomes an empty object first (non-const only), so `v["k"] = 1` works on a fresh Value.
  [[nodiscard]] Args& as_object();
  [[nodiscard]] const Args& as_object() const;
  /// Object member access (see as_object()).
  Value& operator[](std::string_view key) { return as_object()[key]; }
  [[nodiscard]] const Value& at(std::string_view key) const { return as_object().at(key); }
  /// Array element access, bounds-checked.
  [[nodiscard]] const Value& at(std::size_t i) const;
  [[nodiscard]] bool contains(std::string_view key) const noexcept {
    return is_object() && std::get<Args>(v_).contains(key);
  }
  /// Elements of an array or members of an object; 0 for anything else.
  [[nodiscard]] std::size_t size() const noexcept;

  /// The wire form as plain JSON: Appose objects become their `appose_type` objects; big
  /// integers become the nearest double (Json cannot hold more than 64 bits).
  [[nodiscard]] Json to_json() const;

  /// Direct access to the storage, for visitors.
  [[nodiscard]] const auto& variant() const noexcept { return v_; }

  /// Deep equality. Doubles compare by value (so NaN != NaN, as in IEEE 754); an integer and a
  /// double are never equal (they are different JSON tokens).
  friend APPOSE_EXPORT bool operator==(const Value& a, const Value& b);

 private:
  // Scalars that need range checks or formatting live out of line.
  [[nodiscard]] std::int64_t get_int64() const;
  [[nodiscard]] std::uint64_t get_uint64() const;
  [[nodiscard]] double get_double() const;
  [[noreturn]] void type_error(std::string_view wanted) const;

  template <typename T>
  [[nodiscard]] const T& get_ref(std::string_view wanted) const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    type_error(wanted);
  }

  std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, BigInteger, std::string,
               Array, Args, NDArray, SharedMemory, WorkerObject>
      v_;
};

// Out of the class: std::vector's members are constexpr in C++20, and Clang instantiates a
// constexpr function where it is first used, when Value was still incomplete. libc++ (Apple's
// library) then refuses std::pair<std::string, Value> with an incomplete Value, where
// libstdc++ lets it pass: scripts/check_headers_libcxx.sh compiles every header with both.
inline std::size_t Args::size() const noexcept {
  return items_.size();
}
inline bool Args::empty() const noexcept {
  return items_.empty();
}
inline Args::iterator Args::begin() noexcept {
  return items_.begin();
}
inline Args::iterator Args::end() noexcept {
  return items_.end();
}
inline Args::const_iterator Args::begin() const noexcept {
  return items_.begin();
}
inline Args::const_iterator Args::end() const noexcept {
  return items_.end();
}

template <typename T>
T Value::get() const {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, Value>) {
    return *this;
  } else if constexpr (std::is_same_v<U, bool>) {
    return get_ref<bool>("bool");
  } else if constexpr (detail::value_integer<U>) {
    if constexpr (std::is_signed_v<U>) {
      std::int64_t i = get_int64();
      if (i < static_cast<std::int64_t>(std::numeric_limits<U>::min()) ||
          i > static_cast<std::int64_t>(std::numeric_limits<U>::max())) {
        type_error("a smaller integer type (value out of range)");
      }
      return static_cast<U>(i);
    } else {
      std::uint64_t u = get_uint64();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<U>::max())) {
        type_error("a smaller integer type (value out of range)");
      }
      return static_cast<U>(u);
    }
  } else if constexpr (std::is_floating_point_v<U>) {
    return static_cast<U>(get_double());
  } else if constexpr (std::is_same_v<U, std::string>) {
    return get_ref<std::string>("string");
  } else if constexpr (std::is_same_v<U, Json>) {
    return to_json();
  } else if constexpr (std::is_same_v<U, Array>) {
    return get_ref<Array>("array");
  } else if constexpr (std::is_same_v<U, Args>) {
    return get_ref<Args>("object");
  } else if constexpr (std::is_same_v<U, NDArray>) {
    return get_ref<NDArray>("ndarray");
  } else if constexpr (std::is_same_v<U, SharedMemory>) {
    return get_ref<SharedMemory>("shared_memory");
  } else if constexpr (std::is_same_v<U, WorkerObject>) {
    return get_ref<WorkerObject>("worker_object");
  } else if constexpr (std::is_same_v<U, BigInteger>) {
    return get_ref<BigInteger>("big_integer");
  } else if constexpr (detail::is_vector<U>::value) {
    const Array& a = get_ref<Array>("array");
    U out;
    out.reserve(a.size());
    for (const Value& v : a)
      out.push_back(v.get<typename U::value_type>());
    return out;
  } else if constexpr (detail::is_string_map<U>::value) {
    const Args& o = get_ref<Args>("object");
    U out;
    for (const auto& [k, v] : o)
      out.emplace(k, v.template get<typename U::mapped_type>());
    return out;
  } else {
    static_assert(!sizeof(U*), "Value::get<T>(): unsupported T");
  }
}

}  // namespace appose
