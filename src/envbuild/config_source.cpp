#include "envbuild/config_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "appose/error.hpp"
#include "envbuild/download.hpp"
#include "util/ascii.hpp"
#include "util/utf8.hpp"

namespace appose::detail {

bool is_url(std::string_view source) {
  std::size_t i = 0;
  while (i < source.size() && std::isalpha(static_cast<unsigned char>(source[i])) != 0)
    ++i;
  return i >= 3 && source.substr(i, 3) == "://";
}

std::string url_file_name(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    url.remove_prefix(scheme_end + 3);
    // The authority (host, port, user) is no file name.
    const auto slash = url.find('/');
    url.remove_prefix(slash == std::string_view::npos ? url.size() : slash);
  }
  return std::string(url.substr(url.rfind('/') + 1));
}

std::optional<NamedScheme> scheme_from_file_name(std::string_view name) {
  const std::string lower = ascii_lower(name);
  const std::string_view n = lower;
  if (n == "pixi.toml") return NamedScheme{Scheme::pixi_toml(), true};
  if (n == "pyproject.toml") return NamedScheme{Scheme::pyproject_toml(), true};
  if (n.ends_with(".yml") || n.ends_with(".yaml")) {
    return NamedScheme{Scheme::environment_yml(), n.starts_with("environment")};
  }
  if (n.ends_with(".txt"))
    return NamedScheme{Scheme::requirements_txt(), n.starts_with("requirements")};
  return std::nullopt;
}

std::string fetch_configuration(const std::string& url, const CancelState* cancel) {
  const std::string lower = ascii_lower(std::string_view(url).substr(0, 8));
  if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
    throw BuildException(fmt::format(
        "cannot fetch the configuration at {}: Appose fetches configurations over http and "
        "https only; for a file on this machine, use file() with its path",
        url));
  }
  DownloadOptions options;
  options.cancel = cancel;
  options.stall_timeout = timeout_from_env("APPOSE_DOWNLOAD_TIMEOUT", std::chrono::seconds(60));
  options.total_timeout = timeout_from_env("APPOSE_URL_TIMEOUT", std::chrono::seconds(120));
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  std::string text;
  try {
    text = download_text(url, options, kMaxConfigurationBytes);
  } catch (const BuildException& e) {
    // download_text names the URL and the HTTP status; say what was being fetched.
    throw BuildException(fmt::format("cannot fetch the configuration: {}", e.what()));
  }
  if (!utf8::is_valid(text)) {
    throw BuildException(fmt::format(
        "cannot use the configuration at {}: it is not UTF-8 text (is the address a web page or "
        "an archive rather than the file itself?)",
        url));
  }
  // Kept byte for byte, CRLF included: appose-python decodes the response without universal
  // newlines (unlike its file()), and appose.json must hold what it holds.
  return text;
}

}  // namespace appose::detail
