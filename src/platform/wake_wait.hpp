#pragma once

// Waiting on two wake events at once, for a thread whose only job is to react to one of them
// (the download's cancel waker: it turns a CancelState into curl_multi_wakeup(), which works on
// every system, where curl could wait on an eventfd on POSIX only). Implementations:
// platform/posix/wake_wait.cpp (poll() on both descriptors), platform/windows/wake_wait.cpp
// (WaitForMultipleObjects on both event handles).

#include "platform/wake_event.hpp"

namespace appose::detail::platform {

/// Blocks, without polling, until `first` or `second` is set. Returns true when `first` is set
/// (whether or not `second` is too), false when only `second` is. Throws appose::Error when the
/// system wait fails.
bool wait_either(const WakeEvent& first, const WakeEvent& second);

}  // namespace appose::detail::platform
