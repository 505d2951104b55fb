#include "envbuild/install.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <system_error>

#include "appose/error.hpp"
#include "envbuild/build_lock.hpp"
#include "envbuild/conda_platform.hpp"
#include "envbuild/download.hpp"
#include "platform/env_var.hpp"
#include "platform/process.hpp"
#include "util/fs_util.hpp"
#include "util/random.hpp"

namespace fs = std::filesystem;

namespace appose::detail {

namespace {

// The versions appose-python 0.12 and appose-java 0.12 install.
constexpr const char* kPixiVersion = "v0.58.0";
constexpr const char* kUvVersion = "0.9.5";

std::optional<std::string> env(const char* name) {
  std::optional<std::string> v = platform::env_var(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
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
  for (const fs::path& relative : release_executables(kind, kHostOs)) {
    if (!fs::is_regular_file(unpacked / relative, ec)) continue;
    std::vector<fs::path> files;
    // uv's companions (uvx, uvw) sit beside it, when the release has them.
    if (kind == ToolKind::uv) {
      for (const char* extra : {"uvx", "uvw"}) {
        const fs::path companion =
            (unpacked / relative).parent_path() / executable_name(extra, kHostOs);
        if (fs::is_regular_file(companion, ec)) files.push_back(companion);
      }
    }
    files.push_back(unpacked / relative);
    return files;
  }
  // The Linux and macOS uv tarballs hold a uv-<triple>/ folder.
  if (kind == ToolKind::uv) {
    for (fs::directory_iterator it(unpacked, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (it->is_directory() && detail::utf8_string(it->path().filename()).rfind("uv-", 0) == 0) {
        return unpacked_executables(kind, it->path());
      }
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

std::string release_asset(ToolKind kind, HostOs os, std::string_view cpu) {
  // pixi and uv name their releases by Rust target triples; only x86_64 and aarch64 are
  // installed here (the peers' list).
  if (kind == ToolKind::micromamba) {
    // micromamba's releases are named by conda's platform names.
    const char* conda = conda_platform(os, cpu);
    return conda != nullptr ? conda : "";
  }
  if (cpu != "x86_64" && cpu != "aarch64") return "";
  const char* name = kind == ToolKind::pixi ? "pixi" : "uv";
  switch (os) {
    case HostOs::gnu_linux:
      // pixi's static musl build runs on every distribution; uv's gnu build is what the peers
      // take.
      return fmt::format("{}-{}-unknown-linux-{}.tar.gz", name, cpu,
                         kind == ToolKind::pixi ? "musl" : "gnu");
    case HostOs::macos:
      return fmt::format("{}-{}-apple-darwin.tar.gz", name, cpu);
    case HostOs::windows:
      return fmt::format("{}-{}-pc-windows-msvc.zip", name, cpu);
    case HostOs::other:
      break;
  }
  return "";
}

std::vector<fs::path> release_executables(ToolKind kind, HostOs os) {
  const std::string exe = executable_name(tool_name(kind), os);
  switch (kind) {
    case ToolKind::pixi:
    case ToolKind::uv:
      return {exe};
    case ToolKind::micromamba:
      // A conda package: Library\bin on Windows, bin elsewhere.
      return {os == HostOs::windows ? fs::path("Library") / "bin" / exe : fs::path("bin") / exe};
  }
  return {};
}

ToolRelease tool_release(ToolKind kind) {
  ToolRelease r;
  const bool publishes_checksum = kind != ToolKind::micromamba;
  if (auto url = env(url_env_var(kind))) {
    r.url = *url;
  } else {
    const std::string a = release_asset(kind, kHostOs, kHostCpu);
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
      how, tool_env_var(kind), detail::utf8_string(tool_cache_path(kind, root)), tool_name(kind),
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
  platform::DirLock lock = lock_dir(tool_dir, {}, cancel);
  if (platform::executable_problem(detail::utf8_string(target)).empty()) return target;

  const ToolRelease release = tool_release(kind);
  const std::string title = fmt::format("Downloading {}", tool_name(kind));
  Staging staging{root / fmt::format(".{}.staging-{}-{}", tool_name(kind),
                                     platform::current_process_id(), random_hex(8))};
  fs::create_directories(staging.dir / "unpacked", ec);
  if (ec) {
    throw BuildException(
        fmt::format("cannot create {}: {}", detail::utf8_string(staging.dir), ec.message()));
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
    throw BuildException(fmt::format("cannot create {}: {}",
                                     detail::utf8_string(target.parent_path()), ec.message()));
  }
  for (const fs::path& f : files) {
    fs::permissions(f, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add, ec);
    // rename(2) within one file system: the executable appears whole or not at all.
    fs::rename(f, target.parent_path() / f.filename(), ec);
    if (ec) {
      throw BuildException(fmt::format("cannot install {} into {}: {}",
                                       detail::utf8_string(f.filename()),
                                       detail::utf8_string(target.parent_path()), ec.message()));
    }
  }
  return target;
}

}  // namespace appose::detail
