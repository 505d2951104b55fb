#include "envbuild/fs_ops.hpp"

#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "appose/error.hpp"
#include "util/fs_util.hpp"
#include "util/random.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

void write_file_atomic(const fs::path& path, std::string_view text) {
  // A random suffix: two writers (processes or threads) never share a temporary file.
  fs::path tmp = path;
  tmp += fmt::format(".tmp{}", random_hex(8));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw BuildException(fmt::format("cannot write {}", detail::utf8_string(tmp)));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) throw BuildException(fmt::format("cannot write {}", detail::utf8_string(tmp)));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw BuildException(
        fmt::format("cannot write {}: {}", detail::utf8_string(path), ec.message()));
  }
}

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    throw BuildException(fmt::format("cannot delete {}: {}; delete it by hand",
                                     detail::utf8_string(dir), ec.message()));
  }
}

}  // namespace appose::detail
