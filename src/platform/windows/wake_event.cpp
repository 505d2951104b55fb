// The wake event on Windows: a manual-reset event that is set once and never reset, so that it
// stays signalled for every wait that includes it.

#include "platform/wake_event.hpp"

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

WakeEvent::WakeEvent() {
  // Not inheritable (null attributes): a child must not hold our cancel event.
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) throw Error("cannot create a wake-up event", win32::last_error());
  handle_ = reinterpret_cast<std::intptr_t>(event);
}

WakeEvent::~WakeEvent() {
  ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
}

void WakeEvent::set() noexcept {
  if (set_.exchange(true)) return;
  // The last error is kept, as errno is on POSIX: set() may run between a failing call and
  // the GetLastError() that reads its cause.
  const DWORD saved = ::GetLastError();
  ::SetEvent(reinterpret_cast<HANDLE>(handle_));
  ::SetLastError(saved);
}

}  // namespace appose::detail::platform
