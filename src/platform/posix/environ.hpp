#pragma once

// This process's environment block, for the POSIX code that copies or lists it. A program sees
// it as `environ`; on macOS a shared library cannot (only the program's link defines the
// symbol), and _NSGetEnviron() gives it instead.

#if defined(__APPLE__)
#include <crt_externs.h>
#else
extern char** environ;
#endif

namespace appose::detail::platform {

/// The process's environment: NAME=value strings, null-terminated; null when empty.
inline char** process_environ() noexcept {
#if defined(__APPLE__)
  return *::_NSGetEnviron();
#else
  return ::environ;
#endif
}

}  // namespace appose::detail::platform
