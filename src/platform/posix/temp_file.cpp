#include "platform/temp_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "appose/error.hpp"
#include "platform/posix/unique_fd.hpp"

namespace appose::detail::platform {

std::string write_private_temp_file(std::string_view prefix, std::string_view content,
                                    std::string_view what) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  std::string path = fmt::format("{}/{}XXXXXX", dir, prefix);
  // mkostemp creates the file exclusively, mode 0600.
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd.valid()) {
    throw Error(fmt::format("cannot write {} to {}", what, dir),
                std::error_code(errno, std::generic_category()));
  }
  while (!content.empty()) {
    ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::error_code ec(errno, std::generic_category());
      std::remove(path.c_str());
      throw Error(fmt::format("cannot write {} to {}", what, path), ec);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return path;
}

}  // namespace appose::detail::platform
