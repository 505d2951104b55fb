// Both wake events are manual-reset event handles (platform/windows/wake_event.cpp), signalled
// once set and never reset: one WaitForMultipleObjects on the two.

#include "platform/wake_wait.hpp"

#include <array>

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"

namespace appose::detail::platform {

bool wait_either(const WakeEvent& first, const WakeEvent& second) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the handle is stored as an integer by design.
  const std::array<HANDLE, 2> handles{reinterpret_cast<HANDLE>(first.native_handle()),
                                      reinterpret_cast<HANDLE>(second.native_handle())};
  const DWORD r =
      ::WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE, INFINITE);
  if (r == WAIT_FAILED) throw Error("cannot wait for a wake-up event", win32::last_error());
  // WAIT_OBJECT_0 names the lowest index signalled: `first` when both are.
  return r == WAIT_OBJECT_0 || first.is_set();
}

}  // namespace appose::detail::platform
