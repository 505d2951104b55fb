#pragma once

// Where a configuration file comes from: a path or a URL (as the peers tell them apart), what
// its name says of its format, and fetching it over HTTP. Internal.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "envbuild/builder_config.hpp"
#include "envbuild/tool.hpp"

namespace appose::detail {

/// Whether a builder's source is a URL rather than a path: three or more letters, then "://",
/// as appose-python tells them apart (so that `C:\\x` and `./a:b` stay paths).
bool is_url(std::string_view source);

/// The last segment of a URL's path, its query and fragment dropped:
/// `https://h/x/environment.yml?raw=1#top` gives "environment.yml", `https://h` "".
std::string url_file_name(std::string_view url);

/// What a configuration file's name says of its format, case-insensitively: certain for
/// `pixi.toml`, `pyproject.toml`, `requirements*.txt` and `environment*.yml`/`.yaml`; a fallback
/// for other `*.txt` (requirements.txt) and `*.yml`/`*.yaml` (environment.yml) names; nullopt
/// for any other name. Only a certain name overrides the content's detection, so that the
/// scheme, which appose.json records, stays the one the peers detect for a file whose name and
/// content agree or whose name says little.
std::optional<NamedScheme> scheme_from_file_name(std::string_view name);

/// A configuration file is text a person writes: anything larger is not one.
constexpr std::size_t kMaxConfigurationBytes = 1024 * 1024;

/// Fetches the configuration at `url` (http or https only) for Builder::url(): at most
/// kMaxConfigurationBytes, redirects followed, a stall limit of $APPOSE_DOWNLOAD_TIMEOUT
/// seconds (60) and the whole fetch within $APPOSE_URL_TIMEOUT seconds (120). Returns the UTF-8
/// text as served (CRLF kept, as appose-python keeps it); throws BuildException naming the URL and
/// what failed (the HTTP status, which limit, the size).
std::string fetch_configuration(const std::string& url, const CancelState* cancel);

}  // namespace appose::detail
