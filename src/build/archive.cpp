// Unpacking the build tools' release archives with libarchive, refusing entries that would land
// outside the staging directory.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "appose/error.hpp"
#include "build/download.hpp"

namespace appose::detail {

namespace {

namespace fs = std::filesystem;

struct ReadDeleter {
  void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const noexcept { archive_write_free(a); }
};

/// Calls `f` with each component of the '/'-separated `path`, skipping empty ones and ".";
/// stops early when `f` returns false, and returns false then.
template <typename F>
bool each_component(std::string_view path, F&& f) {
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
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
  return each_component(name, [](std::string_view part) { return part != ".."; });
}

/// Whether the symlink entry `name` (already known to stay inside) pointing at `target` leads
/// to a place inside. Judged on the text alone, so a `..` is allowed only before the first
/// ordinary component: those climb through the real directories holding the link (libarchive
/// refuses to extract through symlinks), whereas a later `..` could climb out of a directory
/// that is itself a link (`d -> .`, `e -> d/d/..`), which the text cannot tell.
bool link_stays_inside(std::string_view name, std::string_view target) {
  if (!target.empty() && target.front() == '/') return false;
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

}  // namespace

void extract_archive(const fs::path& archive, const fs::path& dest) {
  const auto fail = [&](struct archive* a) {
    const char* why = archive_error_string(a);
    return BuildException(fmt::format("cannot unpack {}: {}", archive.string(),
                                      why != nullptr ? why : "unknown libarchive error"));
  };
  const auto refuse = [&](std::string_view name, std::string_view what) {
    return BuildException(fmt::format("refusing to unpack {}: entry \"{}\" would {} outside {}",
                                      archive.string(), name, what, dest.string()));
  };

  // libarchive refuses to extract through any symlink on the way, the directories above the
  // staging directory included: those are resolved here, once.
  std::error_code ec;
  const fs::path root = fs::canonical(dest, ec);
  if (ec) {
    throw BuildException(
        fmt::format("cannot unpack {} into {}: {}", archive.string(), dest.string(), ec.message()));
  }

  std::unique_ptr<struct archive, ReadDeleter> in(archive_read_new());
  std::unique_ptr<struct archive, WriteDeleter> out(archive_write_disk_new());
  if (!in || !out)
    throw BuildException(fmt::format("cannot unpack {}: out of memory", archive.string()));
  archive_read_support_filter_all(in.get());
  archive_read_support_format_all(in.get());
  if (archive_read_open_filename(in.get(), archive.c_str(), 64 * 1024) != ARCHIVE_OK) {
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

    const char* raw = archive_entry_pathname(entry);
    if (raw == nullptr) raw = archive_entry_pathname_utf8(entry);
    if (raw == nullptr) {
      throw BuildException(
          fmt::format("cannot unpack {}: an entry has no readable name", archive.string()));
    }
    const std::string name = raw;
    if (!stays_inside(name)) throw refuse(name, "be written");

    if (const char* hardlink = archive_entry_hardlink(entry)) {
      const std::string target = hardlink;
      if (!stays_inside(target)) throw refuse(name, fmt::format("link to \"{}\",", target));
      archive_entry_set_hardlink(entry, (root / target).c_str());
    } else if (archive_entry_filetype(entry) == AE_IFLNK) {
      const char* symlink = archive_entry_symlink(entry);
      const std::string target = symlink != nullptr ? symlink : "";
      if (!link_stays_inside(name, target)) {
        throw refuse(name, fmt::format("link to \"{}\",", target));
      }
    }
    archive_entry_set_pathname(entry, (root / name).c_str());
    // A set-id bit on a downloaded tool would hand the tool's rights to whoever runs it.
    archive_entry_set_perm(entry, static_cast<mode_t>(archive_entry_perm(entry) &
                                                      ~static_cast<mode_t>(S_ISUID | S_ISGID)));

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
