#include "wire/resolve.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "wire/describe.hpp"

namespace appose::detail::codec {

namespace {

using WorkerObjectFactory = std::function<WorkerObject(std::string var_name)>;

/// Walks a decoded value, replacing `appose_type` objects in place and keeping the path to
/// the current one for error messages (`outputs.img.shm`).
class Resolver {
 public:
  explicit Resolver(const WorkerObjectFactory& make_worker_object)
      : make_worker_object_(make_worker_object) {}

  void value(Value& v) {
    if (v.is_array()) {
      Array& a = v.as_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        path_.push_back(fmt::format("[{}]", i));
        value(a[i]);
        path_.pop_back();
      }
      return;
    }
    if (!v.is_object()) return;
    Args& o = v.as_object();
    if (const Value* type = o.find("appose_type"); type != nullptr && type->is_string()) {
      const auto& name = std::get<std::string>(type->variant());
      if (name == "shm") {
        v = Value(shm(o));
        return;
      }
      if (name == "ndarray") {
        v = Value(ndarray(o));
        return;
      }
      if (name == "worker_object" && make_worker_object_) {
        v = Value(make_worker_object_(string_field(o, "worker_object", "var_name")));
        return;
      }
    }
    members(o);
  }

  void members(Args& o) {
    for (auto& [key, item] : o) {
      path_.push_back(key);
      value(item);
      path_.pop_back();
    }
  }

 private:
  [[nodiscard]] std::string where() const {
    std::string s;
    for (const std::string& seg : path_) {
      if (!s.empty() && !seg.starts_with('[')) s += '.';
      s += seg;
    }
    return s.empty() ? std::string("the top level") : s;
  }

  [[noreturn]] void malformed(std::string_view type, std::string_view problem) const {
    throw ProtocolError(fmt::format("malformed '{}' object at {}: {}", type, where(), problem));
  }

  std::string string_field(const Args& o, std::string_view type, std::string_view key) const {
    const Value* v = o.find(key);
    if (v == nullptr) malformed(type, fmt::format("no '{}'", key));
    if (!v->is_string())
      malformed(type, fmt::format("'{}' is {}, not a string", key, describe(*v)));
    return std::get<std::string>(v->variant());
  }

  std::uint64_t size_field(const Value* v, std::string_view type, std::string_view key) const {
    if (v == nullptr) malformed(type, fmt::format("no '{}'", key));
    try {
      return v->get<std::uint64_t>();
    } catch (const TypeError&) {
      malformed(type,
                fmt::format("'{}' must be a non-negative integer, not {}", key, describe(*v)));
    }
  }

  std::size_t optional_size(const Args& o, std::string_view key) const {
    std::uint64_t n = size_field(o.find(key), "shm", key);
    if (n > std::numeric_limits<std::size_t>::max()) {
      malformed("shm", fmt::format("'{}' is too large", key));
    }
    return static_cast<std::size_t>(n);
  }

  SharedMemory shm(const Args& o) const {
    std::string name = string_field(o, "shm", "name");
    const std::size_t rsize = optional_size(o, "rsize");
    // After 0.12 a reference may name a region of the block (docs/protocol.md).
    ShmRegion region;
    if (o.find("offset") != nullptr) region.offset = optional_size(o, "offset");
    if (o.find("length") != nullptr) region.length = optional_size(o, "length");
    if (const Value* managed = o.find("managed")) {
      if (managed->kind() != Value::Kind::boolean) {
        malformed("shm", fmt::format("'managed' is {}, not a boolean", describe(*managed)));
      }
      region.managed = std::get<bool>(managed->variant());
    }
    SharedMemory block = SharedMemory::attach(name, rsize);
    try {
      return block.with_region(region);
    } catch (const Error& e) {
      malformed("shm", e.what());
    }
  }

  NDArray ndarray(Args& o) {
    std::string dtype_text = string_field(o, "ndarray", "dtype");
    std::optional<DType> dtype = parse_dtype(dtype_text);
    if (!dtype) malformed("ndarray", fmt::format("unknown dtype '{}'", dtype_text));
    const Value* shape = o.find("shape");
    if (shape == nullptr) malformed("ndarray", "no 'shape'");
    if (!shape->is_array()) malformed("ndarray", "'shape' is not an array");
    std::vector<std::uint64_t> dims;
    for (const Value& d : shape->as_array())
      dims.push_back(size_field(&d, "ndarray", "shape"));
    Value* block = o.find("shm");
    if (block == nullptr) malformed("ndarray", "no 'shm'");
    path_.emplace_back("shm");
    value(*block);
    path_.pop_back();
    if (block->kind() != Value::Kind::shared_memory) {
      malformed("ndarray", "'shm' is not an 'shm' object");
    }
    return NDArray(*dtype, Shape(std::move(dims)), std::get<SharedMemory>(block->variant()));
  }

  const WorkerObjectFactory& make_worker_object_;
  std::vector<std::string> path_;
};

}  // namespace

Value resolve(Value value,
              const std::function<WorkerObject(std::string var_name)>& make_worker_object) {
  Resolver(make_worker_object).value(value);
  return value;
}

Args resolve(Args args,
             const std::function<WorkerObject(std::string var_name)>& make_worker_object) {
  Resolver(make_worker_object).members(args);
  return args;
}

}  // namespace appose::detail::codec
