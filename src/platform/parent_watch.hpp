#pragma once

// A worker must not outlive its host, however the host ends (SIGKILL and crashes included):
// it watches the host and kills itself when the host is gone. Implementation:
// platform/posix/parent_watch.cpp (the host's exit descriptor: a pidfd on Linux, a kqueue on
// macOS) and platform/windows/parent_watch.cpp (a handle on the host process).

#include <memory>
#include <optional>

namespace appose::detail::platform {

/// Watches the host from a thread of its own and kills this process (SIGKILL) as soon as the
/// host has died. Move-only; destroying it stops the watch.
class ParentWatch {
 public:
  /// Watches nothing.
  ParentWatch() noexcept;
  /// Starts watching. `named_host` is the host's process id as the host itself announced it
  /// (APPOSE_PARENT_PID): an appose-cpp service, which gives the worker a process group of its
  /// own, so when this process leads its group the whole group goes with it. Without it the
  /// host is the parent process, whose group this process may share: then only this process
  /// goes. Ids up to 1 name no host: nothing is watched. If the host is gone already, this
  /// process is killed before the constructor returns. Where the OS cannot watch a process
  /// without polling, the host is looked at four times a second.
  explicit ParentWatch(std::optional<long> named_host);
  /// Takes over `other`'s watch; `other` watches nothing afterwards.
  ParentWatch(ParentWatch&& other) noexcept;
  /// Stops this watch and takes over `other`'s.
  ParentWatch& operator=(ParentWatch&& other) noexcept;
  ParentWatch(const ParentWatch&) = delete;
  ParentWatch& operator=(const ParentWatch&) = delete;
  /// Stops the watch and waits for its thread.
  ~ParentWatch();

 private:
  /// The host, the watching thread and what wakes it, in each platform's own types; it stays
  /// put while the thread uses it.
  struct State;

  std::unique_ptr<State> state_;
};

}  // namespace appose::detail::platform
