#pragma once

// What the two POSIX watchers share (signals.cpp on Linux, signals_macos.cpp on macOS);
// signals_posix.cpp defines it, with block_interrupts().

#include <csignal>

namespace appose::cli {

/// SIGINT and SIGTERM: the signals block_interrupts() blocks and the watchers report.
sigset_t interrupt_set();

}  // namespace appose::cli
