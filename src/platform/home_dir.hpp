#pragma once

// The user's home directory, where the peers keep their environments by default. Internal.

#include <string>

namespace appose::detail::platform {

/// Where Python's Path.home() points, since the peers keep their environments there. POSIX:
/// $HOME if set and not empty; else the home directory the user database gives for this user
/// (a service account started without HOME still has one). Windows: %USERPROFILE%, else
/// %HOMEDRIVE%%HOMEPATH%, else the profile directory of this user. Empty when none says.
std::string home_dir();

}  // namespace appose::detail::platform
