#pragma once

/// \file
/// The exception hierarchy of appose. Every exception the library throws derives from
/// appose::Error, so one catch clause covers the library; messages name the resource involved
/// (block name, pid, path) and say what to do about it.

#include <stdexcept>
#include <string>
#include <system_error>

#include "appose/export.hpp"

namespace appose {

/// Base of every exception thrown by appose.
///
/// When the failure came from the operating system, code() holds the errno value (as a
/// std::generic_category / std::system_category code); otherwise it is empty.
class APPOSE_EXPORT Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  Error(const std::string& what, std::error_code code)
      : std::runtime_error(what + ": " + code.message()), code_(code) {}

  /// The operating-system error behind this failure, if any.
  [[nodiscard]] std::error_code code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

/// A value did not have the type the caller asked for (Value::get<T>(), NDArray::span<T>()).
class APPOSE_EXPORT TypeError : public Error {
 public:
  using Error::Error;
};

/// A protocol line or value could not be decoded or encoded.
class APPOSE_EXPORT ProtocolError : public Error {
 public:
  using Error::Error;
};

/// Building an environment failed; the message includes the tool's stderr.
class APPOSE_EXPORT BuildException : public Error {
 public:
  using Error::Error;
};

}  // namespace appose
