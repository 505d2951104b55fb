#include "platform/stderr.hpp"

#include <algorithm>

#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

void write_stderr(std::string_view text) noexcept {
  // The standard handle, not the C runtime's descriptor 2: user code may have redirected the
  // latter, and a program without a console has no descriptor 2 at all.
  const HANDLE err = ::GetStdHandle(STD_ERROR_HANDLE);
  if (err == nullptr || err == INVALID_HANDLE_VALUE) return;
  DWORD wrote = 0;
  ::WriteFile(err, text.data(), static_cast<DWORD>(std::min<std::size_t>(text.size(), MAXDWORD)),
              &wrote, nullptr);
}

}  // namespace appose::detail::platform
