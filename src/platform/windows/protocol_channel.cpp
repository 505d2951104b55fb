// Windows protocol channel: private, non-inheritable duplicates of the standard input and
// output handles, so that neither this process's prints nor its children reach them.

#include "platform/protocol_channel.hpp"

#include <fcntl.h>
#include <io.h>

#include <cstdio>
#include <mutex>
#include <system_error>
#include <utility>

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"
#include "util/line_reader.hpp"

namespace appose::detail::platform {

namespace {

using win32::UniqueHandle;

/// A private copy of `standard` that no child process inherits.
UniqueHandle private_copy(DWORD standard, std::error_code& ec) {
  const HANDLE original = ::GetStdHandle(standard);
  if (original == nullptr || original == INVALID_HANDLE_VALUE) {
    ec = original == nullptr ? std::make_error_code(std::errc::bad_file_descriptor)
                             : win32::last_error();
    return {};
  }
  HANDLE copy = nullptr;
  if (!::DuplicateHandle(::GetCurrentProcess(), original, ::GetCurrentProcess(), &copy, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
    ec = win32::last_error();
    return {};
  }
  return UniqueHandle(copy);
}

/// Points C runtime descriptor `fd` at the null device, opened with `flags`.
void point_at_null(int fd, int flags) noexcept {
  const int null_fd = ::_wopen(L"NUL", flags | _O_BINARY);
  if (null_fd < 0) return;
  ::_dup2(null_fd, fd);
  ::_close(null_fd);
}

/// Points stdin at the null device and stdout at stderr (or the null device), for the C runtime
/// (descriptors 0 and 1, and so stdio and the C++ streams) and for the process's standard
/// handles (which child processes are given) alike, so that only the private copies lead to
/// the host.
void shield_stdio() noexcept {
  // The originals stay open until _dup2 replaces descriptors 0 and 1 (which closes them), and
  // may not be the descriptors' handles at all (SetStdHandle by someone else): in either case
  // no process started from here on may inherit them.
  for (DWORD standard : {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE}) {
    const HANDLE original = ::GetStdHandle(standard);
    if (original != nullptr && original != INVALID_HANDLE_VALUE) {
      ::SetHandleInformation(original, HANDLE_FLAG_INHERIT, 0);
    }
  }
  std::fflush(stdout);
  point_at_null(0, _O_RDONLY);
  // Descriptor 2 is not open (-2 from _fileno) when the process has no stderr: then _dup2
  // fails and stdout goes to the null device, never to the protocol.
  if (::_dup2(2, 1) != 0) point_at_null(1, _O_WRONLY);
  // _dup2 moves the standard handles along only in console programs; set them for every kind.
  // The C runtime's handles are inheritable (it made them so), as standard handles must be.
  ::SetStdHandle(STD_INPUT_HANDLE, reinterpret_cast<HANDLE>(::_get_osfhandle(0)));
  ::SetStdHandle(STD_OUTPUT_HANDLE, reinterpret_cast<HANDLE>(::_get_osfhandle(1)));
  // Line buffering would be the POSIX answer, but msvcrt treats _IOLBF as full buffering: an
  // unbuffered stdout is the way for prints to reach the host as they are written. msvcrt
  // still hands each printf to the OS in one piece (it buffers one call temporarily).
  std::setvbuf(stdout, nullptr, _IONBF, 0);
}

}  // namespace

struct ProtocolChannel::State {
  UniqueHandle in, out;
  /// Serialises writers: a pipe may take a large write in pieces, and another thread's line
  /// must not land inside it.
  std::mutex write_mu;
  LineReader lines;
};

ProtocolChannel ProtocolChannel::take_stdio(bool shield) {
  std::error_code ec;
  UniqueHandle in = private_copy(STD_INPUT_HANDLE, ec);
  UniqueHandle out = in.valid() ? private_copy(STD_OUTPUT_HANDLE, ec) : UniqueHandle();
  if (!in.valid() || !out.valid()) {
    throw Error("cannot duplicate the standard input and output handles for the protocol", ec);
  }
  auto state = std::make_unique<State>();
  state->in = std::move(in);
  state->out = std::move(out);
  if (shield) shield_stdio();
  // No CRLF translation and no end at Ctrl-Z for whatever still reads or writes through the C
  // runtime (the operations' prints, or the protocol streams themselves without shielding).
  // After shield_stdio(): _dup2 gives descriptor 1 the mode of descriptor 2.
  ::_setmode(0, _O_BINARY);
  ::_setmode(1, _O_BINARY);
  return ProtocolChannel(std::move(state));
}

ProtocolChannel::ProtocolChannel() noexcept = default;
ProtocolChannel::ProtocolChannel(std::unique_ptr<State> state) noexcept
    : state_(std::move(state)) {}
ProtocolChannel::ProtocolChannel(ProtocolChannel&& other) noexcept = default;
ProtocolChannel& ProtocolChannel::operator=(ProtocolChannel&& other) noexcept = default;
ProtocolChannel::~ProtocolChannel() = default;

std::optional<std::string_view> ProtocolChannel::read_line() {
  if (!state_) return std::nullopt;
  HANDLE in = state_->in.get();
  // A read error ends the input just as the end does (see the header).
  return state_->lines.next([in](char* into, std::size_t room) {
    std::error_code ec;
    return win32::read_some(in, into, room, ec);
  });
}

bool ProtocolChannel::line_ready() noexcept {
  return !state_ || state_->lines.ready();
}

bool ProtocolChannel::write_line(std::string line) {
  line.push_back('\n');
  return write_lines(line);
}

bool ProtocolChannel::write_lines(std::string_view lines) {
  if (!state_) return false;
  std::lock_guard lock(state_->write_mu);
  // A reader that is gone fails the write (ERROR_NO_DATA): Windows has no SIGPIPE.
  return !win32::write_all(state_->out.get(), lines.data(), lines.size());
}

}  // namespace appose::detail::platform
