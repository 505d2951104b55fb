#pragma once

// Private temporary files: a file only this user can read, under a name nobody else can have
// taken, for handing text to a child process by path (the service's init script).

#include <string>
#include <string_view>

namespace appose::detail::platform {

/// Creates a new file in the system's temporary directory, named `prefix` plus a unique suffix,
/// readable and writable by this user only, holding `content`; returns its path. The caller
/// removes it. Throws appose::Error, saying "cannot write <what> to <where>", when it cannot
/// (a partly written file is removed first).
std::string write_private_temp_file(std::string_view prefix, std::string_view content,
                                    std::string_view what);

}  // namespace appose::detail::platform
