#pragma once

// Fetching the build tools' release archives over HTTP(S) with libcurl, and unpacking them with
// libarchive. Internal.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace appose::detail {

class CancelState;

struct DownloadOptions {
  /// Called as bytes arrive: (received, total); total is 0 while the length is unknown.
  /// Called on the downloading thread, at most every 64 KiB or 100 ms, and once at the end.
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Stops the transfer when it fires (CancelState::cancel() from any thread).
  const CancelState* cancel = nullptr;
  /// Connection set-up limit.
  std::chrono::seconds connect_timeout{30};
  /// A transfer that moves fewer than 1 byte/s for this long is abandoned (a stalled server).
  /// curl averages the rate over the last few seconds, so a server that sent a burst and then
  /// fell silent is given up to about 5 s more.
  std::chrono::seconds stall_timeout{60};
  /// The whole transfer, connection included, must end within this (0: no limit). A server
  /// that trickles a byte now and then never stalls; a configuration fetched while a builder is
  /// set up must still fail at a predictable point.
  std::chrono::seconds total_timeout{0};
  /// At most this many redirects.
  long max_redirects = 10;
  /// Expected SHA-256 (64 lowercase hex digits), checked after the transfer when given.
  std::optional<std::string> sha256;
};

/// Downloads `url` into `dest` (written through a temporary file beside it and renamed, so
/// `dest` exists only when complete). Follows redirects; proxies come from the environment
/// (http_proxy, https_proxy, no_proxy, as curl reads them); fails on HTTP status >= 400, on a
/// body shorter than its Content-Length, on a stalled transfer, on a checksum mismatch, and on
/// cancel — always with a BuildException naming the URL and what went wrong, and never leaving
/// a partial file.
void download_file(const std::string& url, const std::filesystem::path& dest,
                   const DownloadOptions& options);

/// Downloads `url` into memory (at most `max_bytes`), for small texts: checksum files, and
/// Builder::url() configuration files. Same failures as download_file().
std::string download_text(const std::string& url, const DownloadOptions& options,
                          std::size_t max_bytes = 16 * 1024 * 1024);

/// `$<name>` read as a positive whole number of seconds, else `fallback`: how a user on a slow
/// link (and the tests) change Appose's download limits, e.g. `$APPOSE_DOWNLOAD_TIMEOUT`.
std::chrono::seconds timeout_from_env(const char* name, std::chrono::seconds fallback);

/// The SHA-256 of a file, as 64 lowercase hex digits.
std::string sha256_file(const std::filesystem::path& file);

/// Unpacks the archive `archive` (tar.gz, tar.bz2, zip; the format is detected from the
/// content) into the existing directory `dest`, which should be a fresh staging directory: on
/// failure its contents are undefined and the caller discards it. Entries with absolute paths,
/// `..` components, or links that lead outside `dest` are refused, naming the entry; corrupt or
/// truncated archives fail too; both with a BuildException. Regular files keep their permission
/// bits (so executables stay executable), minus set-id bits.
void extract_archive(const std::filesystem::path& archive, const std::filesystem::path& dest);

}  // namespace appose::detail
