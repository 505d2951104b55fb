#include "platform/stderr.hpp"

#include <unistd.h>

namespace appose::detail::platform {

void write_stderr(std::string_view text) noexcept {
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, text.data(), text.size());
}

}  // namespace appose::detail::platform
