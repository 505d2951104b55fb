#pragma once

// Diagnostics that must reach the host whole: written straight to the standard error stream,
// past the C and C++ stream buffers, which user code may have redirected or may be filling
// from other threads. Implementation: platform/posix/stderr.cpp.

#include <string_view>

namespace appose::detail::platform {

/// Writes `text` to standard error with one unbuffered write. Failures are ignored: there is
/// nowhere left to report them.
void write_stderr(std::string_view text) noexcept;

}  // namespace appose::detail::platform
