#include "host/python_bootstrap.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include "generated/python_bootstrap_py.hpp"

namespace appose::detail {

namespace {

// The program, python_bootstrap.py (compiled in as bytes at configure time; see
// src/CMakeLists.txt), runs before anything else is imported: moves the protocol to private
// descriptors, points fd 0 at /dev/null and fd 1 (and sys.stdout) at stderr, so that prints, C
// libraries writing to fd 1, and child processes (os.system, subprocess, multiprocessing) can
// neither corrupt the protocol nor read requests. Then binds module-level print/input in
// appose.python_worker to the private channel. The worker's own code is unchanged: module globals
// shadow the builtins for that module alone. If the installed worker does not read with input() and
// write with print(), the plain stdin/stdout contract is restored and a note goes to stderr.
//
// With the private channel the bootstrap also runs the init script itself (appose-python only
// warns when it fails, and later tasks fail with unrelated errors): at the same point as the
// worker would, right after its Worker is made and before any request is read, exporting the
// same names; if it fails, every task fails with its traceback behind @INIT_FAILED@ (which
// TaskImpl::handle() recognises). And it drops the worker's three start-up lines warning that
// importing numpy in a task hangs on Windows: this library runs on Linux only.
constexpr std::string_view kSource(embedded::python_bootstrap_py,
                                   sizeof embedded::python_bootstrap_py);

std::string base64(const std::string& in) {
  static constexpr std::array<char, 64> table = {
      'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
      'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
      'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
      'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '/'};
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                      static_cast<unsigned char>(in[i + 2]);
    out += table[n >> 18 & 63];
    out += table[n >> 12 & 63];
    out += table[n >> 6 & 63];
    out += table[n & 63];
  }
  if (std::size_t rest = in.size() - i; rest != 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += table[n >> 18 & 63];
    out += table[n >> 12 & 63];
    out += rest == 2 ? table[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

const std::string& python_bootstrap_source() {
  static const std::string source = [] {
    // The marker is spelled once, in python_bootstrap.hpp, for both sides.
    std::string text(kSource);
    const std::string_view placeholder = "@INIT_FAILED@";
    for (auto at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at)) {
      text.replace(at, placeholder.size(), kInitFailedPrefix);
      at += std::string_view(kInitFailedPrefix).size();
    }
    return text;
  }();
  return source;
}

std::vector<std::string> python_bootstrap_args() {
  return {"-c", "import sys,base64;exec(base64.b64decode(sys.argv.pop(1)))",
          base64(python_bootstrap_source())};
}

}  // namespace appose::detail
