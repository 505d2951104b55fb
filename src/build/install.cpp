#include "build/install.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "appose/error.hpp"
#include "build/download.hpp"
#include "platform/dir_lock.hpp"
#include "random.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

// The versions appose-python 0.12 and appose-java 0.12 install.
constexpr const char* kPixiVersion = "v0.58.0";
constexpr const char* kUvVersion = "0.9.5";

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

const char* url_env_var(ToolKind kind) {
  switch (kind) {
    case ToolKind::pixi:
      return "APPOSE_PIXI_URL";
    case ToolKind::uv:
      return "APPOSE_UV_URL";
    case ToolKind::micromamba:
      return "APPOSE_MICROMAMBA_URL";
  }
  return "";
}

/// The release asset for this platform, or empty when the tool has none.
std::string asset(ToolKind kind) {
#if defined(__linux__) && defined(__x86_64__)
  const char* triple_gnu = "x86_64-unknown-linux-gnu";
  const char* triple_musl = "x86_64-unknown-linux-musl";
  const char* conda = "linux-64";
#elif defined(__linux__) && defined(__aarch64__)
  const char* triple_gnu = "aarch64-unknown-linux-gnu";
  const char* triple_musl = "aarch64-unknown-linux-musl";
  const char* conda = "linux-aarch64";
#elif defined(__APPLE__) && defined(__aarch64__)
  const char* triple_gnu = "aarch64-apple-darwin";
  const char* triple_musl = "aarch64-apple-darwin";
  const char* conda = "osx-arm64";
#elif defined(__APPLE__)
  const char* triple_gnu = "x86_64-apple-darwin";
  const char* triple_musl = "x86_64-apple-darwin";
  const char* conda = "osx-64";
#else
  const char* triple_gnu = nullptr;
  const char* triple_musl = nullptr;
  const char* conda = nullptr;
#endif
  switch (kind) {
    case ToolKind::pixi:
      return triple_musl ? fmt::format("pixi-{}.tar.gz", triple_musl) : "";
    case ToolKind::uv:
      return triple_gnu ? fmt::format("uv-{}.tar.gz", triple_gnu) : "";
    case ToolKind::micromamba:
      return conda ? conda : "";
  }
  return "";
}

/// The first token of a checksum file ("<hex>  <file name>"), if it is a SHA-256.
std::string parse_sha256(const std::string& text, const std::string& url) {
  std::size_t b = text.find_first_not_of(" \t\r\n");
  std::size_t e = b == std::string::npos ? b : text.find_first_of(" \t\r\n*", b);
  std::string hex = b == std::string::npos ? "" : text.substr(b, e - b);
  bool ok = hex.size() == 64;
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok = false;
  }
  if (!ok) throw BuildException(fmt::format("{} holds no SHA-256 checksum", url));
  return hex;
}

/// The unpacked files to install, relative to the staging directory: the executable last.
std::vector<fs::path> unpacked_executables(ToolKind kind, const fs::path& unpacked) {
  std::error_code ec;
  auto is_file = [&](const fs::path& p) { return fs::is_regular_file(p, ec); };
  switch (kind) {
    case ToolKind::pixi:
      if (is_file(unpacked / "pixi")) return {unpacked / "pixi"};
      break;
    case ToolKind::micromamba:
      if (is_file(unpacked / "bin" / "micromamba")) return {unpacked / "bin" / "micromamba"};
      break;
    case ToolKind::uv: {
      // The Linux and macOS tarballs hold a uv-<triple>/ folder; the Windows zip does not.
      fs::path dir = unpacked;
      if (!is_file(dir / "uv")) {
        for (fs::directory_iterator it(unpacked, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
          if (it->is_directory() && it->path().filename().string().rfind("uv-", 0) == 0) {
            dir = it->path();
            break;
          }
        }
      }
      if (is_file(dir / "uv")) {
        std::vector<fs::path> files;
        if (is_file(dir / "uvx")) files.push_back(dir / "uvx");
        files.push_back(dir / "uv");
        return files;
      }
      break;
    }
  }
  return {};
}

/// Removes the staging directory however install_tool() leaves.
struct Staging {
  fs::path dir;
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

ToolRelease tool_release(ToolKind kind) {
  ToolRelease r;
  const bool publishes_checksum = kind != ToolKind::micromamba;
  if (auto url = env(url_env_var(kind))) {
    r.url = *url;
  } else {
    const std::string a = asset(kind);
    if (a.empty()) {
      throw BuildException(fmt::format(
          "{} has no release for this platform; install it yourself and point ${} at it",
          tool_name(kind), tool_env_var(kind)));
    }
    switch (kind) {
      case ToolKind::pixi:
        r.url = fmt::format("https://github.com/prefix-dev/pixi/releases/download/{}/{}",
                            kPixiVersion, a);
        break;
      case ToolKind::uv:
        r.url =
            fmt::format("https://github.com/astral-sh/uv/releases/download/{}/{}", kUvVersion, a);
        break;
      case ToolKind::micromamba:
        r.url = fmt::format("https://micro.mamba.pm/api/micromamba/{}/latest", a);
        break;
    }
  }
  if (publishes_checksum) r.sha256_url = r.url + ".sha256";
  return r;
}

std::string tool_missing_advice(ToolKind kind, const fs::path& root) {
  const char* how = "";
  switch (kind) {
    case ToolKind::pixi:
      how = "install pixi with its standalone installer or from conda-forge";
      break;
    case ToolKind::uv:
      how = "install uv (`pip install uv`, or its standalone installer)";
      break;
    case ToolKind::micromamba:
      how = "install micromamba with its standalone installer or from conda-forge";
      break;
  }
  return fmt::format(
      "{0}, then point ${1} or the builder's executable() at it, put it on PATH, or copy it to "
      "{2}; or let Appose download {3} again once the release is reachable (${4} names a "
      "mirror of it)",
      how, tool_env_var(kind), tool_cache_path(kind, root).string(), tool_name(kind),
      url_env_var(kind));
}

fs::path install_tool(
    ToolKind kind, const fs::path& root,
    const std::function<void(std::string_view, std::int64_t, std::int64_t)>& progress,
    const CancelState* cancel) {
  const fs::path target = tool_cache_path(kind, root);
  const fs::path tool_dir = target.parent_path().parent_path();  // <root>/.uv
  std::error_code ec;
  fs::create_directories(root, ec);
  // Two hosts missing the same tool download it once: the second finds it installed.
  DirLock lock(tool_dir, {}, cancel);
  if (::access(target.c_str(), X_OK) == 0) return target;

  const ToolRelease release = tool_release(kind);
  const std::string title = fmt::format("Downloading {}", tool_name(kind));
  Staging staging{root /
                  fmt::format(".{}.staging-{}-{}", tool_name(kind), ::getpid(), random_hex(8))};
  fs::create_directories(staging.dir / "unpacked", ec);
  if (ec) {
    throw BuildException(fmt::format("cannot create {}: {}", staging.dir.string(), ec.message()));
  }

  DownloadOptions options;
  options.cancel = cancel;
  options.stall_timeout = timeout_from_env("APPOSE_DOWNLOAD_TIMEOUT", std::chrono::seconds(60));
  if (release.sha256_url) {
    options.sha256 =
        parse_sha256(download_text(*release.sha256_url, options, 4096), *release.sha256_url);
  }
  options.progress = [&](std::int64_t got, std::int64_t total) {
    if (progress) progress(title, got, total);
  };
  const fs::path archive = staging.dir / "download";
  download_file(release.url, archive, options);
  extract_archive(archive, staging.dir / "unpacked");

  const std::vector<fs::path> files = unpacked_executables(kind, staging.dir / "unpacked");
  if (files.empty()) {
    throw BuildException(
        fmt::format("the {} release from {} does not hold the {} executable "
                    "where it should",
                    tool_name(kind), release.url, tool_name(kind)));
  }
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    throw BuildException(
        fmt::format("cannot create {}: {}", target.parent_path().string(), ec.message()));
  }
  for (const fs::path& f : files) {
    fs::permissions(f, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add, ec);
    // rename(2) within one file system: the executable appears whole or not at all.
    fs::rename(f, target.parent_path() / f.filename(), ec);
    if (ec) {
      throw BuildException(fmt::format("cannot install {} into {}: {}", f.filename().string(),
                                       target.parent_path().string(), ec.message()));
    }
  }
  return target;
}

}  // namespace appose::detail
