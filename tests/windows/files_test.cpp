// Files on Windows, under Wine: byte files with the OS's errors (platform/windows/file.cpp),
// private temporary files (temp_file.cpp) and the cross-process build lock (dir_lock.cpp).
// Children are this program again (test_child.hpp).

#include <gtest/gtest.h>

#include <aclapi.h>
#include <appose/error.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "platform/dir_lock.hpp"
#include "platform/file.hpp"
#include "platform/temp_file.hpp"
#include "platform/wake_event.hpp"
#include "test_child.hpp"
#include "util/random.hpp"

namespace fs = std::filesystem;
namespace win32 = appose::detail::platform::win32;
using appose::detail::platform::DirLock;
using appose::detail::platform::File;
using appose::test::win::Child;
using appose::test::win::start_child;
using appose::test::win::unique_name;
using appose::test::win::UniqueHandle;
using namespace std::chrono_literals;

namespace {

/// A fresh directory under the temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir()
      : path(fs::temp_directory_path() /
             fs::u8path("appose-w\u00efn-" + appose::detail::random_hex(12))) {
    fs::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  const fs::path path;
};

std::string read_file(const fs::path& path) {
  std::error_code ec;
  File in = File::open_read(path, ec);
  EXPECT_FALSE(ec) << ec.message();
  std::string out;
  char buf[65536];
  while (std::size_t n = in.read(buf, sizeof buf, ec))
    out.append(buf, n);
  EXPECT_FALSE(ec) << ec.message();
  return out;
}

/// Bytes a text mode would change: CR LF, a lone LF, Ctrl-Z, NUL; and more than one read's
/// worth.
std::string binary_content() {
  std::string content("a\r\nb\nc\x1a\x00d", 9);
  while (content.size() < (3u << 20))
    content += content;
  return content;
}

/// A path as UTF-8, the library's encoding (u8string() is std::u8string in C++20).
std::string utf8(const fs::path& path) {
  return win32::to_utf8(path.wstring());
}

UniqueHandle named_event(const std::string& name) {
  return UniqueHandle(
      ::OpenEventW(SYNCHRONIZE | EVENT_MODIFY_STATE, FALSE, win32::to_wide(name).c_str()));
}

/// Locks `args[0]`, sets the event `args[1]`, then holds the lock until the event `args[2]`.
int hold_lock(const std::vector<std::string>& args) {
  DirLock lock(fs::u8path(args.at(0)));
  ::SetEvent(named_event(args.at(1)).get());
  return ::WaitForSingleObject(named_event(args.at(2)).get(), 30000) == WAIT_OBJECT_0 ? 0 : 5;
}

/// Another process holding the lock of a directory until release().
class LockHolder {
 public:
  explicit LockHolder(const fs::path& dir)
      : locked_name_(unique_name("locked")),
        release_name_(unique_name("release")),
        locked_(::CreateEventW(nullptr, TRUE, FALSE, locked_name_.c_str())),
        release_(::CreateEventW(nullptr, TRUE, FALSE, release_name_.c_str())),
        child_(start_child("hold-lock", {utf8(dir), win32::to_utf8(locked_name_),
                                         win32::to_utf8(release_name_)})) {}
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;
  ~LockHolder() {
    release();
    if (child_.wait(10s) < 0) ::TerminateProcess(child_.process.get(), 1);
  }
  /// Whether the child holds the lock (within 10 s).
  bool locked() const { return ::WaitForSingleObject(locked_.get(), 10000) == WAIT_OBJECT_0; }
  void release() { ::SetEvent(release_.get()); }
  /// The child's exit code once it has let go.
  long finished() const { return child_.wait(10s); }

 private:
  std::wstring locked_name_, release_name_;
  UniqueHandle locked_, release_;
  Child child_;
};

}  // namespace

int appose::test::win::child_main(std::string_view mode, const std::vector<std::string>& args) {
  if (mode == "hold-lock") return hold_lock(args);
  return 99;
}

TEST(File, CreateNewRefusesAnExistingFile) {
  TempDir dir;
  const fs::path path = dir.path / "f\u00fcle.bin";
  std::error_code ec;
  File first = File::create_new(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(first.is_open());
  EXPECT_FALSE(first.write_all("first", 5));
  EXPECT_FALSE(first.close());
  File second = File::create_new(path, ec);
  EXPECT_EQ(ec, std::errc::file_exists) << ec.message();
  EXPECT_FALSE(second.is_open());
  EXPECT_EQ(read_file(path), "first");  // untouched
}

TEST(File, WriteAndReadRoundTripByteForByte) {
  TempDir dir;
  const fs::path path = dir.path / "round-trip.bin";
  const std::string content = binary_content();
  std::error_code ec;
  File out = File::create_new(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(out.write_all(content.data(), content.size()));
  EXPECT_FALSE(out.close());
  EXPECT_FALSE(out.is_open());
  EXPECT_FALSE(out.close());  // closing twice is harmless
  EXPECT_EQ(fs::file_size(path), content.size());
  EXPECT_TRUE(read_file(path) == content);
}

TEST(File, AMovedFileKeepsItsHandle) {
  TempDir dir;
  std::error_code ec;
  File a = File::create_new(dir.path / "moved", ec);
  ASSERT_FALSE(ec);
  File b(std::move(a));
  EXPECT_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move): moved-from is closed
  EXPECT_FALSE(b.write_all("x", 1));
  File c;
  c = std::move(b);
  EXPECT_FALSE(c.write_all("y", 1));
  EXPECT_FALSE(c.close());
  EXPECT_EQ(read_file(dir.path / "moved"), "xy");
}

TEST(File, ErrorsCarryTheOsError) {
  TempDir dir;
  std::error_code ec;
  File missing = File::open_read(dir.path / "missing", ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_FALSE(missing.is_open());

  File nowhere = File::create_new(dir.path / "no-such-dir" / "f", ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_FALSE(nowhere.is_open());

  // Writing to a file opened for reading: the OS refuses (ERROR_ACCESS_DENIED).
  {
    File made = File::create_new(dir.path / "read-only", ec);
    ASSERT_FALSE(ec);
  }
  File reader = File::open_read(dir.path / "read-only", ec);
  ASSERT_FALSE(ec);
  const std::error_code write_ec = reader.write_all("x", 1);
  EXPECT_EQ(write_ec, std::errc::permission_denied) << write_ec.message();
  EXPECT_FALSE(write_ec.message().empty());

  // A directory cannot be opened as a file; the Win32 error is kept with its system message.
  File directory = File::open_read(dir.path, ec);
  EXPECT_TRUE(ec);
  EXPECT_FALSE(directory.is_open());
}

namespace {

/// The DACL of `path`: its ACEs as (allowed?, SID string), and whether it is protected.
struct Dacl {
  bool is_protected = false;
  std::vector<std::pair<bool, std::wstring>> aces;
};

std::wstring sid_string(PSID sid) {
  DWORD size = 0;
  DWORD domain_size = 0;
  SID_NAME_USE use{};
  ::LookupAccountSidW(nullptr, sid, nullptr, &size, nullptr, &domain_size, &use);
  std::wstring name(size, L'\0'), domain(domain_size, L'\0');
  if (!::LookupAccountSidW(nullptr, sid, name.data(), &size, domain.data(), &domain_size, &use)) {
    return L"?";
  }
  name.resize(size);
  return name;
}

Dacl dacl_of(const fs::path& path) {
  Dacl out;
  PACL acl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                              nullptr, &acl, nullptr, &sd) != ERROR_SUCCESS) {
    return out;
  }
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  ::GetSecurityDescriptorControl(sd, &control, &revision);
  out.is_protected = (control & SE_DACL_PROTECTED) != 0;
  for (DWORD i = 0; acl != nullptr && i < acl->AceCount; ++i) {
    void* ace = nullptr;
    if (!::GetAce(acl, i, &ace)) continue;
    const auto* header = static_cast<ACE_HEADER*>(ace);
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    out.aces.emplace_back(header->AceType == ACCESS_ALLOWED_ACE_TYPE,
                          sid_string(reinterpret_cast<PSID>(&allowed->SidStart)));
  }
  ::LocalFree(sd);
  return out;
}

bool under_wine() {
  return ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr;
}

std::string utf8(const std::wstring& text) {
  return win32::to_utf8(text);
}

std::wstring current_user() {
  HANDLE token = nullptr;
  ::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token);
  const UniqueHandle owned(token);
  std::vector<unsigned char> buf(1024);
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, buf.data(), static_cast<DWORD>(buf.size()), &size);
  return sid_string(reinterpret_cast<TOKEN_USER*>(buf.data())->User.Sid);
}

}  // namespace

TEST(TempFile, TwoCallsGiveTwoPrivateFilesWithTheContent) {
  const std::string content = binary_content().substr(0, 100000);
  const std::string a =
      appose::detail::platform::write_private_temp_file("appose-test-", content, "a test file");
  const std::string b =
      appose::detail::platform::write_private_temp_file("appose-test-", content, "a test file");
  const fs::path pa = fs::u8path(a), pb = fs::u8path(b);
  EXPECT_NE(a, b);
  EXPECT_EQ(utf8(pa.parent_path() / ""), utf8(fs::temp_directory_path() / ""));
  EXPECT_EQ(utf8(pa.filename()).rfind("appose-test-", 0), 0u) << a;
  EXPECT_TRUE(read_file(pa) == content);
  EXPECT_TRUE(read_file(pb) == content);

  // Only this user: one ACE, allowing, for the user, and not inheriting the directory's. Wine
  // keeps no security descriptor here: it turns ours into a Unix mode and reports a DACL made
  // from that mode (SYSTEM and the owner), so there only "no one else" can be checked (a
  // readable-by-others mode would show as an ACE for Everyone or Users).
  const Dacl dacl = dacl_of(pa);
  const std::wstring user = current_user();
  for (const auto& [allowed, who] : dacl.aces) {
    if (allowed) {
      EXPECT_TRUE(who == user || (under_wine() && who == L"SYSTEM")) << utf8(who);
    }
  }
  if (!under_wine()) {
    EXPECT_TRUE(dacl.is_protected);
    ASSERT_EQ(dacl.aces.size(), 1u);
    EXPECT_TRUE(dacl.aces[0].first);
    EXPECT_EQ(dacl.aces[0].second, user);
  }
  fs::remove(pa);
  fs::remove(pb);
}

TEST(TempFile, AnUnusableDirectorySaysWhatCouldNotBeWrittenWhere) {
  TempDir dir;
  const std::wstring missing = (dir.path / "gone").wstring() + L"\\";
  const auto old_tmp = win32::env_var(L"TMP");
  ::SetEnvironmentVariableW(L"TMP", missing.c_str());
  try {
    appose::detail::platform::write_private_temp_file("appose-test-", "x", "the init script");
    ADD_FAILURE() << "no error";
  } catch (const appose::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write the init script to"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("gone"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory) << e.code().message();
  }
  ::SetEnvironmentVariableW(L"TMP", old_tmp ? old_tmp->c_str() : nullptr);
}

TEST(DirLock, ASecondProcessWaitsUntilTheFirstReleases) {
  TempDir root;
  const fs::path dir = root.path / "env";
  LockHolder holder(dir);
  ASSERT_TRUE(holder.locked());
  std::promise<void> waiting;
  std::atomic<bool> acquired{false};
  auto taker = std::async(std::launch::async, [&] {
    DirLock lock(dir, [&] { waiting.set_value(); });
    acquired = true;
  });
  ASSERT_EQ(waiting.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(taker.wait_for(300ms), std::future_status::timeout);
  EXPECT_FALSE(acquired);
  holder.release();
  EXPECT_EQ(holder.finished(), 0);
  ASSERT_EQ(taker.wait_for(10s), std::future_status::ready);
  taker.get();
  EXPECT_TRUE(acquired);
}

TEST(DirLock, AWaitIsCanceledByTheEventWithABuildException) {
  TempDir root;
  const fs::path dir = root.path / "env";
  LockHolder holder(dir);
  ASSERT_TRUE(holder.locked());
  appose::detail::platform::WakeEvent cancel;
  // Set once the wait has begun: the overlapped request is pending, and must be withdrawn.
  EXPECT_THROW(
      {
        try {
          DirLock lock(
              dir, [&] { cancel.set(); }, &cancel);
        } catch (const appose::BuildException& e) {
          EXPECT_NE(std::string(e.what()).find("canceled while waiting"), std::string::npos)
              << e.what();
          throw;
        }
      },
      appose::BuildException);
  // The canceled request holds nothing: once the holder is gone the lock is free at once.
  holder.release();
  EXPECT_EQ(holder.finished(), 0);
  auto again = std::async(std::launch::async, [&] { DirLock lock(dir); });
  EXPECT_EQ(again.wait_for(10s), std::future_status::ready);
}

TEST(DirLock, AnEventSetBeforehandCancelsOnlyAWait) {
  TempDir root;
  appose::detail::platform::WakeEvent cancel;
  cancel.set();
  // Uncontended: no wait, so no cancel.
  { DirLock lock(root.path / "free", {}, &cancel); }
  LockHolder holder(root.path / "held");
  ASSERT_TRUE(holder.locked());
  EXPECT_THROW(DirLock(root.path / "held", {}, &cancel), appose::BuildException);
}

namespace {

/// Whether this system deletes an open file's name at once (POSIX semantics), as the lock's
/// destructor asks; where it cannot, the lock file stays (dir_lock.cpp).
bool posix_delete_supported(const fs::path& dir) {
  const fs::path probe = dir / "posix-delete-probe";
  UniqueHandle h(::CreateFileW(probe.c_str(), GENERIC_WRITE | DELETE, 0, nullptr, CREATE_NEW,
                               FILE_ATTRIBUTE_NORMAL, nullptr));
  FILE_DISPOSITION_INFO_EX disposition{FILE_DISPOSITION_FLAG_DELETE |
                                       FILE_DISPOSITION_FLAG_POSIX_SEMANTICS};
  const bool ok = ::SetFileInformationByHandle(h.get(), static_cast<FILE_INFO_BY_HANDLE_CLASS>(21),
                                               &disposition, sizeof disposition) != FALSE;
  h.reset();
  std::error_code ec;
  fs::remove(probe, ec);
  return ok;
}

}  // namespace

TEST(DirLock, TheLockFileIsBesideTheDirectoryAndGoesWithTheLockWhereTheSystemCan) {
  TempDir root;
  const fs::path file = root.path / ".env.appose-lock";
  const bool deletes = posix_delete_supported(root.path);
  {
    DirLock lock(root.path / "env");
    EXPECT_TRUE(fs::exists(file));
    EXPECT_FALSE(fs::exists(root.path / "env"));
  }
  // Wine cannot delete with POSIX semantics (ERROR_INVALID_PARAMETER): there the file stays,
  // and the next lock reuses it.
  EXPECT_EQ(fs::exists(file), !deletes) << (deletes ? "left behind" : "deleted the old way");
  { DirLock again(root.path / "env"); }
}

TEST(DirLock, ALockFileLeftBehindIsReused) {
  TempDir root;
  const fs::path stale = root.path / ".env.appose-lock";
  { std::ofstream(stale).put('\n'); }
  DirLock lock(root.path / "env");
  EXPECT_TRUE(fs::exists(stale));
}

TEST(DirLock, OneHolderAtATimeWhileTheFileComesAndGoes) {
  TempDir root;
  const fs::path dir = root.path / "contended";
  // Each DirLock opens its own handle, and LockFileEx treats handles as separate holders, as it
  // would separate processes. Holders delete the file as they leave while others wait on it.
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> entries{0};
  std::atomic<int> waits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        DirLock lock(dir, [&] { ++waits; });
        if (inside.fetch_add(1) != 0) ++overlaps;
        ++entries;
        std::this_thread::sleep_for(200us);
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(entries.load(), 4 * 25);
  EXPECT_GT(waits.load(), 0);  // the waiting path really ran
  if (posix_delete_supported(root.path)) {
    EXPECT_TRUE(fs::is_empty(root.path));
  }
}
