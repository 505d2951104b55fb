// Unpacking the build tools' release archives with libarchive, refusing entries that would land
// outside the staging directory.

#include <archive.h>
#include <archive_entry.h>

#include <fmt/format.h>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "appose/error.hpp"
#include "envbuild/download.hpp"
#include "util/fs_util.hpp"

namespace appose::detail {

namespace {

/// The set-user-id and set-group-id bits of an archive entry's mode, as the tar and zip formats
/// define them (octal 04000 and 02000, whatever the host's own values).
constexpr unsigned kTarSetIdBits = 04000 | 02000;

namespace fs = std::filesystem;

struct ReadDeleter {
  void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const noexcept { archive_write_free(a); }
};

/// Where a backslash separates path components too (Windows): an entry "..\\x" climbs there.
constexpr bool kBackslashSeparates = fs::path::preferred_separator == '\\';

/// Calls `f` with each component of the '/'-separated `path` (also '\\'-separated where
/// kBackslashSeparates), skipping empty ones and "."; stops early when `f` returns false, and
/// returns false then.
template <typename F>
bool each_component(std::string_view path, F&& f) {
  const std::string_view separators = kBackslashSeparates ? "/\\" : "/";
  while (!path.empty()) {
    const std::size_t slash = path.find_first_of(separators);
    const std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (!f(part)) return false;
  }
  return true;
}

/// Whether the archive path `name` stays below the directory it is unpacked into.
bool stays_inside(std::string_view name) {
  if (name.empty() || name.front() == '/') return false;
  // "C:x", "\\server\\share" and "x:stream" all leave the directory (or write elsewhere) on
  // Windows.
  if (kBackslashSeparates && (name.front() == '\\' || name.find(':') != std::string_view::npos)) {
    return false;
  }
  return each_component(name, [](std::string_view part) { return part != ".."; });
}

/// Whether the symlink entry `name` (already known to stay inside) pointing at `target` leads
/// to a place inside. Judged on the text alone, so a `..` is allowed only before the first
/// ordinary component: those climb through the real directories holding the link (libarchive
/// refuses to extract through symlinks), whereas a later `..` could climb out of a directory
/// that is itself a link (`d -> .`, `e -> d/d/..`), which the text cannot tell.
bool link_stays_inside(std::string_view name, std::string_view target) {
  if (!target.empty() && target.front() == '/') return false;
  if (kBackslashSeparates && !target.empty() &&
      (target.front() == '\\' || target.find(':') != std::string_view::npos)) {
    return false;
  }
  long depth = -1;  // the link's own directory
  each_component(name, [&](std::string_view) {
    ++depth;
    return true;
  });
  bool descended = false;
  return each_component(target, [&](std::string_view part) {
    if (part != "..") {
      descended = true;
      ++depth;
      return true;
    }
    if (descended || depth == 0) return false;
    --depth;
    return true;
  });
}

// libarchive takes native paths: char on POSIX, wchar_t (UTF-16) on Windows, where the narrow
// functions would read the ANSI code page. Overloads on fs::path::value_type pick the right one.
[[maybe_unused]] int open_file(struct archive* a, const char* path) {
  return archive_read_open_filename(a, path, 64 * 1024);
}
[[maybe_unused]] int open_file(struct archive* a, const wchar_t* path) {
  return archive_read_open_filename_w(a, path, 64 * 1024);
}
[[maybe_unused]] void set_pathname(struct archive_entry* e, const char* path) {
  archive_entry_set_pathname(e, path);
}
[[maybe_unused]] void set_pathname(struct archive_entry* e, const wchar_t* path) {
  archive_entry_copy_pathname_w(e, path);
}
[[maybe_unused]] void set_hardlink(struct archive_entry* e, const char* path) {
  archive_entry_set_hardlink(e, path);
}
[[maybe_unused]] void set_hardlink(struct archive_entry* e, const wchar_t* path) {
  archive_entry_copy_hardlink_w(e, path);
}

}  // namespace

void extract_archive(const fs::path& archive, const fs::path& dest) {
  const auto fail = [&](struct archive* a) {
    const char* why = archive_error_string(a);
    return BuildException(fmt::format("cannot unpack {}: {}", detail::utf8_string(archive),
                                      why != nullptr ? why : "unknown libarchive error"));
  };
  const auto refuse = [&](std::string_view name, std::string_view what) {
    return BuildException(fmt::format("refusing to unpack {}: entry \"{}\" would {} outside {}",
                                      detail::utf8_string(archive), name, what,
                                      detail::utf8_string(dest)));
  };

  // libarchive refuses to extract through any symlink on the way, the directories above the
  // staging directory included: those are resolved here, once.
  std::error_code ec;
  const fs::path root = fs::canonical(dest, ec);
  if (ec) {
    throw BuildException(fmt::format("cannot unpack {} into {}: {}", detail::utf8_string(archive),
                                     detail::utf8_string(dest), ec.message()));
  }

  std::unique_ptr<struct archive, ReadDeleter> in(archive_read_new());
  std::unique_ptr<struct archive, WriteDeleter> out(archive_write_disk_new());
  if (!in || !out)
    throw BuildException(
        fmt::format("cannot unpack {}: out of memory", detail::utf8_string(archive)));
  archive_read_support_filter_all(in.get());
  archive_read_support_format_all(in.get());
  if (open_file(in.get(), archive.c_str()) != ARCHIVE_OK) {
    throw fail(in.get());
  }
  // No ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: every path handed to the writer is made absolute
  // below (prefixed with `root`, after the check above), which that flag would refuse. The other
  // two flags stay as a second line of defence behind that check.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS);

  for (;;) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw fail(in.get());

    // Windows reads the multibyte name in the ANSI code page: ask for UTF-8 there first.
    const char* raw =
        kBackslashSeparates ? archive_entry_pathname_utf8(entry) : archive_entry_pathname(entry);
    if (raw == nullptr) {
      raw =
          kBackslashSeparates ? archive_entry_pathname(entry) : archive_entry_pathname_utf8(entry);
    }
    if (raw == nullptr) {
      throw BuildException(fmt::format("cannot unpack {}: an entry has no readable name",
                                       detail::utf8_string(archive)));
    }
    const std::string name = raw;
    if (!stays_inside(name)) throw refuse(name, "be written");

    if (const char* hardlink = archive_entry_hardlink(entry)) {
      const std::string target = hardlink;
      if (!stays_inside(target)) throw refuse(name, fmt::format("link to \"{}\",", target));
      set_hardlink(entry, (root / utf8_path(target)).c_str());
    } else if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* symlink = archive_entry_symlink(entry);
      const std::string target = symlink != nullptr ? symlink : "";
      if (!link_stays_inside(name, target)) {
        throw refuse(name, fmt::format("link to \"{}\",", target));
      }
    }
    set_pathname(entry, (root / utf8_path(name)).c_str());
    // A set-id bit on a downloaded tool would hand the tool's rights to whoever runs it.
    const auto perm = archive_entry_perm(entry);
    archive_entry_set_perm(entry,
                           static_cast<std::remove_const_t<decltype(perm)>>(perm & ~kTarSetIdBits));

    r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN) throw fail(out.get());
    for (;;) {
      const void* block = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      r = archive_read_data_block(in.get(), &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) throw fail(in.get());
      if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_WARN) {
        throw fail(out.get());
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) throw fail(out.get());
  }
  // Directory permissions and times are applied here, after their contents were written.
  if (archive_write_close(out.get()) < ARCHIVE_WARN) throw fail(out.get());
  if (archive_read_close(in.get()) < ARCHIVE_WARN) throw fail(in.get());
}

}  // namespace appose::detail
