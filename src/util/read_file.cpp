#include "util/read_file.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "appose/error.hpp"
#include "util/fs_util.hpp"
#include "util/utf8.hpp"

namespace appose::detail {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  // Through rdbuf(), not istreambuf_iterator: GCC 12 at -O1 (the sanitizer builds) warns of a
  // null dereference inside the iterator, and warnings are errors.
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

std::string read_text_file(const std::filesystem::path& path) {
  std::optional<std::string> raw = read_file(path);
  if (!raw) {
    throw BuildException(fmt::format("cannot read {}: check that the file exists and is readable",
                                     detail::utf8_string(path)));
  }
  if (!utf8::is_valid(*raw)) {
    throw BuildException(
        fmt::format("{} is not UTF-8 text; save it as UTF-8", detail::utf8_string(path)));
  }
  return normalize_newlines(*raw);
}

std::string normalize_newlines(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      out += raw[i];
    }
  }
  return out;
}

}  // namespace appose::detail
