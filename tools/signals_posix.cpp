// The signal mask, the same on Linux and macOS; the watchers are in signals.cpp (Linux) and
// signals_macos.cpp.

#include "signals_posix.hpp"

#include <pthread.h>

#include "signals.hpp"

namespace appose::cli {

sigset_t interrupt_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void block_interrupts() {
  sigset_t set = interrupt_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace appose::cli
