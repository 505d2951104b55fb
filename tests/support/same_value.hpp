#pragma once

// Deep equality for round trips, shared by the unit tests and the fuzz targets (header-only:
// the fuzz targets link neither GoogleTest nor the test support library).

#include <appose/value.hpp>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace appose::test {

/// Like Value's operator==, which follows IEEE 754 (NaN != NaN, 0.0 == -0.0), except that the
/// wire keeps NaN as NaN and -0.0 as -0.0: a round trip must give back the same double bit for
/// bit, any NaN standing for every NaN (the wire has one NaN token). Object keys must come back
/// in the same order.
inline bool same_value(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::floating: {
      double x = a.get<double>();
      double y = b.get<double>();
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y);
    }
    case Value::Kind::array: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same_value(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::object: {
      const Args& x = a.as_object();
      const Args& y = b.as_object();
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->first != j->first || !same_value(i->second, j->second)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

}  // namespace appose::test
