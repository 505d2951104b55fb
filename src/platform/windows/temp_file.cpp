#include "platform/temp_file.hpp"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <system_error>
#include <vector>

#include "appose/error.hpp"
#include "platform/windows/win32.hpp"
#include "util/random.hpp"

namespace appose::detail::platform {

namespace {

/// Random hex digits after the prefix: 64 bits, so that a taken name is a near impossibility
/// (CREATE_NEW refuses one all the same, and the next name is tried).
constexpr std::size_t kSuffixDigits = 16;
constexpr int kAttempts = 16;

/// A security descriptor whose protected DACL lets only this process's user in (full
/// access), in place of the temporary directory's inherited ACL, which on some systems lets
/// other users read.
class OwnerOnly {
 public:
  /// Sets `ec` if the user's SID or the descriptor cannot be had.
  explicit OwnerOnly(std::error_code& ec) {
    HANDLE token = nullptr;
    if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) {
      ec = win32::last_error();
      return;
    }
    const win32::UniqueHandle owned(token);
    DWORD size = 0;
    ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
    user_.resize(size);
    if (size == 0 || !::GetTokenInformation(token, TokenUser, user_.data(), size, &size)) {
      ec = win32::last_error();
      return;
    }
    PSID sid = reinterpret_cast<TOKEN_USER*>(user_.data())->User.Sid;
    acl_.resize(sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) + ::GetLengthSid(sid));
    auto* acl = reinterpret_cast<ACL*>(acl_.data());
    if (!::InitializeAcl(acl, static_cast<DWORD>(acl_.size()), ACL_REVISION) ||
        !::AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, sid) ||
        !::InitializeSecurityDescriptor(&descriptor_, SECURITY_DESCRIPTOR_REVISION) ||
        !::SetSecurityDescriptorDacl(&descriptor_, TRUE, acl, FALSE) ||
        !::SetSecurityDescriptorControl(&descriptor_, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
      ec = win32::last_error();
      return;
    }
    attributes_.lpSecurityDescriptor = &descriptor_;
  }
  OwnerOnly(const OwnerOnly&) = delete;
  OwnerOnly& operator=(const OwnerOnly&) = delete;

  SECURITY_ATTRIBUTES* attributes() noexcept { return &attributes_; }

 private:
  std::vector<unsigned char> user_;  ///< TOKEN_USER, which the SID points into
  std::vector<unsigned char> acl_;
  SECURITY_DESCRIPTOR descriptor_{};
  SECURITY_ATTRIBUTES attributes_{sizeof(SECURITY_ATTRIBUTES), nullptr, FALSE};
};

std::wstring temp_directory(std::error_code& ec) {
  std::array<wchar_t, MAX_PATH + 1> buf{};
  const DWORD n = ::GetTempPathW(static_cast<DWORD>(buf.size()), buf.data());
  if (n == 0 || n > buf.size()) {
    ec = n == 0 ? win32::last_error() : std::make_error_code(std::errc::filename_too_long);
    return {};
  }
  return std::wstring(buf.data(), n);  // ends with a backslash
}

}  // namespace

std::string write_private_temp_file(std::string_view prefix, std::string_view content,
                                    std::string_view what) {
  std::error_code ec;
  const std::wstring dir = temp_directory(ec);
  if (ec) throw Error(fmt::format("cannot write {} to the temporary directory", what), ec);
  const std::string dir_utf8 = win32::to_utf8(dir);
  OwnerOnly security(ec);
  if (ec) {
    throw Error(
        fmt::format("cannot write {} to {}: its access rights cannot be set", what, dir_utf8), ec);
  }
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::wstring path =
        dir + win32::to_wide(prefix) + win32::to_wide(detail::random_hex(kSuffixDigits));
    win32::UniqueHandle file(::CreateFileW(path.c_str(), GENERIC_WRITE, 0, security.attributes(),
                                           CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!file.valid()) {
      ec = win32::last_error();
      if (ec == std::errc::file_exists) continue;
      throw Error(fmt::format("cannot write {} to {}", what, dir_utf8), ec);
    }
    const std::string path_utf8 = win32::to_utf8(path);
    if (auto write_ec = win32::write_all(file.get(), content.data(), content.size())) {
      file.reset();
      ::DeleteFileW(path.c_str());
      throw Error(fmt::format("cannot write {} to {}", what, path_utf8), write_ec);
    }
    file.reset();
    return path_utf8;
  }
  throw Error(fmt::format("cannot write {} to {}: {} random names in a row were taken", what,
                          dir_utf8, kAttempts),
              ec);
}

}  // namespace appose::detail::platform
