#pragma once

// ASCII case folding, for the names and keys the protocols define as case-insensitive ASCII
// (builder names, file names, URL schemes, hex digests): unlike std::tolower, it ignores the
// locale, so a Turkish "I" cannot change what a name means.

#include <string>
#include <string_view>

namespace appose::detail {

/// `text` with A-Z turned into a-z; every other byte (UTF-8 included) unchanged.
std::string ascii_lower(std::string_view text);

}  // namespace appose::detail
