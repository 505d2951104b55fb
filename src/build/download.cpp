// Downloading the build tools' release archives with libcurl, and the SHA-256 that checks them.

#include "build/download.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>

#include "appose/error.hpp"
#include "appose/version.hpp"
#include "build/tool.hpp"

namespace appose::detail {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Kept in step with project(VERSION) in CMakeLists.txt: servers see which client misbehaves.
constexpr const char* kUserAgent = "appose-cpp/" APPOSE_VERSION_STRING;
constexpr std::int64_t kProgressBytes = 64 * 1024;
constexpr std::chrono::milliseconds kProgressInterval{100};
/// How long curl_multi_poll() may sleep: curl shortens it for its own timers, and cancel wakes
/// it through the CancelState's eventfd, so this only bounds the damage of a missed wake-up.
constexpr int kPollMillis = 1000;

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

// ---------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4). A hundred lines here beat a crypto dependency for one checksum.

class Sha256 {
 public:
  void update(const unsigned char* data, std::size_t n) noexcept {
    total_ += n;
    if (used_ > 0) {
      const std::size_t take = std::min(n, buf_.size() - used_);
      std::copy_n(data, take, buf_.begin() + static_cast<std::ptrdiff_t>(used_));
      used_ += take;
      data += take;
      n -= take;
      if (used_ < buf_.size()) return;
      block(buf_.data());
      used_ = 0;
    }
    for (; n >= buf_.size(); data += buf_.size(), n -= buf_.size())
      block(data);
    std::copy_n(data, n, buf_.begin());
    used_ = n;
  }
  void update(std::string_view s) noexcept {
    // unsigned char and char may alias; the digest is over the bytes either way.
    update(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }

  /// Finishes the hash; the object is spent afterwards.
  std::string hex_digest() {
    const std::uint64_t bits = total_ * 8;
    buf_[used_++] = 0x80;
    if (used_ > 56) {
      std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(used_), buf_.end(), 0);
      block(buf_.data());
      used_ = 0;
    }
    std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(used_), buf_.begin() + 56, 0);
    for (int i = 0; i < 8; ++i)
      buf_[static_cast<std::size_t>(56 + i)] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    block(buf_.data());
    std::string out;
    out.reserve(64);
    for (std::uint32_t word : h_)
      out += fmt::format("{:08x}", word);
    return out;
  }

 private:
  void block(const unsigned char* p) noexcept {
    static constexpr std::array<std::uint32_t, 64> k = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::array<std::uint32_t, 64> w{};
    for (std::size_t i = 0; i < 16; ++i) {
      w[i] = static_cast<std::uint32_t>(p[4 * i]) << 24 |
             static_cast<std::uint32_t>(p[4 * i + 1]) << 16 |
             static_cast<std::uint32_t>(p[4 * i + 2]) << 8 |
             static_cast<std::uint32_t>(p[4 * i + 3]);
    }
    for (std::size_t i = 16; i < 64; ++i) {
      const std::uint32_t s0 =
          std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    std::uint32_t e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint32_t s1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + s1 + ch + k[i] + w[i];
      const std::uint32_t s0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = s0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<unsigned char, 64> buf_{};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

// ---------------------------------------------------------------------------------------------
// One transfer

/// curl_global_init() is not thread-safe and must run once per process; the first download
/// does it, whichever thread that is.
void init_curl() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw BuildException(fmt::format("cannot initialize libcurl: {}", curl_easy_strerror(result)));
  }
}

/// What the callbacks share with the thread driving the transfer: all of it belongs to one
/// download, so concurrent downloads share nothing.
struct Transfer {
  const DownloadOptions& options;
  int fd = -1;                     ///< the file being written, or
  std::string* text = nullptr;     ///< the memory being filled,
  std::size_t max_bytes = 0;       ///< up to this size
  const fs::path* file = nullptr;  ///< for messages about fd
  Sha256 hash;

  std::int64_t received = 0;
  std::int64_t reported = -1;
  Clock::time_point reported_at{};
  bool canceled = false;
  bool too_large = false;
  std::string write_failure;
  /// An exception from the progress callback, carried across libcurl's C frames.
  std::exception_ptr error;

  explicit Transfer(const DownloadOptions& o) : options(o) {}

  bool cancel_requested() const noexcept {
    return options.cancel != nullptr && options.cancel->canceled();
  }

  bool accept(const char* data, std::size_t n) {
    if (text != nullptr) {
      if (text->size() + n > max_bytes) {
        too_large = true;
        return false;
      }
      text->append(data, n);
    } else {
      for (std::size_t done = 0; done < n;) {
        const ssize_t w = ::write(fd, data + done, n - done);
        if (w < 0) {
          if (errno == EINTR) continue;
          write_failure =
              fmt::format("cannot write {}: {}", file->string(), last_error().message());
          return false;
        }
        done += static_cast<std::size_t>(w);
      }
    }
    if (options.sha256) hash.update(std::string_view(data, n));
    received += static_cast<std::int64_t>(n);
    return true;
  }

  void report(std::int64_t total) {
    if (!options.progress || received == reported) return;
    const Clock::time_point now = Clock::now();
    if (reported >= 0 && received - reported < kProgressBytes &&
        now - reported_at < kProgressInterval) {
      return;
    }
    reported = received;
    reported_at = now;
    options.progress(received, total);
  }
};

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  try {
    // A short count makes curl stop with CURLE_WRITE_ERROR; the reason stays in `t`.
    return t.accept(data, n) ? n : 0;
  } catch (...) {
    t.error = std::current_exception();
    return 0;
  }
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
                curl_off_t /*ulnow*/) {
  auto& t = *static_cast<Transfer*>(user);
  if (t.cancel_requested()) {
    t.canceled = true;
    return 1;
  }
  try {
    t.report(static_cast<std::int64_t>(dltotal));
  } catch (...) {
    t.error = std::current_exception();
    return 1;
  }
  return 0;
}

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};

/// Keeps the easy handle attached to the multi handle, and detaches it before either goes.
class Attached {
 public:
  Attached(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {}
  ~Attached() { curl_multi_remove_handle(multi_, easy_); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;

 private:
  CURLM* multi_;
  CURL* easy_;
};

template <typename T>
void set(CURL* h, CURLoption option, T value, const std::string& url) {
  const CURLcode rc = curl_easy_setopt(h, option, value);
  if (rc != CURLE_OK) {
    throw BuildException(fmt::format("cannot download {}: libcurl refused an option ({})", url,
                                     curl_easy_strerror(rc)));
  }
}

/// Runs the transfer to its end, feeding `t`; throws a BuildException saying what went wrong.
void transfer(const std::string& url, Transfer& t) {
  const DownloadOptions& options = t.options;
  const auto fail = [&](const std::string& reason) {
    return BuildException(fmt::format("cannot download {}: {}", url, reason));
  };
  if (t.cancel_requested()) throw fail("canceled");
  init_curl();

  // Declared first so that it outlives the handles that write into it.
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) throw fail("cannot create a libcurl handle");
  CURL* h = easy.get();

  set(h, CURLOPT_URL, url.c_str(), url);
  set(h, CURLOPT_ERRORBUFFER, errbuf.data(), url);
  // Other schemes (file://, ftp://, ...) have no business in a release URL, least of all
  // after a redirect the server chose.
  set(h, CURLOPT_PROTOCOLS_STR, "http,https", url);
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https", url);
  set(h, CURLOPT_FOLLOWLOCATION, 1L, url);
  set(h, CURLOPT_MAXREDIRS, options.max_redirects, url);
  set(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()), url);
  set(h, CURLOPT_LOW_SPEED_LIMIT, 1L, url);
  set(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()), url);
  if (options.total_timeout.count() > 0) {
    set(h, CURLOPT_TIMEOUT, static_cast<long>(options.total_timeout.count()), url);
  }
  // Signals belong to the host application; without this, curl's DNS timeouts use SIGALRM.
  set(h, CURLOPT_NOSIGNAL, 1L, url);
  set(h, CURLOPT_FAILONERROR, 1L, url);
  set(h, CURLOPT_USERAGENT, kUserAgent, url);
  set(h, CURLOPT_WRITEFUNCTION, &on_write, url);
  set(h, CURLOPT_WRITEDATA, static_cast<void*>(&t), url);
  set(h, CURLOPT_NOPROGRESS, 0L, url);
  set(h, CURLOPT_XFERINFOFUNCTION, &on_progress, url);
  set(h, CURLOPT_XFERINFODATA, static_cast<void*>(&t), url);
  // Refuses an announced oversize body before any of it arrives.
  if (t.text != nullptr) {
    set(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.max_bytes), url);
  }

  const Clock::time_point started = Clock::now();
  // The multi interface, unlike curl_easy_perform(), lets the cancel eventfd wake the wait at
  // once instead of at curl's next progress tick.
  if (curl_multi_add_handle(multi.get(), h) != CURLM_OK) throw fail("cannot start libcurl");
  Attached attached(multi.get(), h);
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) throw fail(curl_multi_strerror(mc));
    if (running == 0) break;
    if (t.cancel_requested()) {
      t.canceled = true;
      break;
    }
    curl_waitfd wake{};
    unsigned nfds = 0;
    if (options.cancel != nullptr) {
      wake.fd = options.cancel->fd();
      wake.events = CURL_WAIT_POLLIN;
      nfds = 1;
    }
    mc = curl_multi_poll(multi.get(), nfds > 0 ? &wake : nullptr, nfds, kPollMillis, nullptr);
    if (mc != CURLM_OK) throw fail(curl_multi_strerror(mc));
  }
  if (t.error) std::rethrow_exception(t.error);
  if (t.canceled) throw fail("canceled");

  CURLcode rc = CURLE_OK;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
    if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t length = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  const auto ended_early = [&] {
    return length >= 0 ? fmt::format("the transfer ended after {} of {} bytes", t.received, length)
                       : fmt::format("the transfer ended early, after {} bytes", t.received);
  };

  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_HTTP_RETURNED_ERROR:
      throw fail(fmt::format("HTTP {}", status));
    case CURLE_PARTIAL_FILE:
      throw fail(ended_early());
    case CURLE_FILESIZE_EXCEEDED:
      throw fail(fmt::format("the response is larger than {} bytes", t.max_bytes));
    case CURLE_TOO_MANY_REDIRECTS:
      throw fail(fmt::format("more than {} redirects", options.max_redirects));
    case CURLE_WRITE_ERROR:
      if (t.too_large) throw fail(fmt::format("the response is larger than {} bytes", t.max_bytes));
      if (!t.write_failure.empty()) throw fail(t.write_failure);
      break;
    case CURLE_OPERATION_TIMEDOUT: {
      // The connect timeout, the low-speed limit and the overall limit all end here: the
      // elapsed time tells the last apart, a connection that was made the second.
      // (curl's own total time is not final when it times out: this clock is, give or take
      // curl's timer granularity.)
      if (options.total_timeout.count() > 0 &&
          Clock::now() - started >= options.total_timeout - std::chrono::milliseconds(250)) {
        throw fail(fmt::format("it took longer than {} s in all (received {} bytes)",
                               options.total_timeout.count(), t.received));
      }
      curl_off_t connect_us = 0;
      curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
      if (connect_us > 0 || status != 0) {
        throw fail(fmt::format("the server stopped sending (no data for {} s)",
                               options.stall_timeout.count()));
      }
      break;
    }
    default:
      break;
  }
  if (rc != CURLE_OK) {
    throw fail(errbuf[0] != '\0' ? std::string(errbuf.data()) : curl_easy_strerror(rc));
  }
  // Belt and braces: FAILONERROR lets some authentication answers through.
  if (status >= 400) throw fail(fmt::format("HTTP {}", status));
  if (length >= 0 && t.received != length) throw fail(ended_early());

  if (options.progress) options.progress(t.received, t.received);
  if (options.sha256) {
    const std::string actual = t.hash.hex_digest();
    if (actual != lowercase(*options.sha256)) {
      throw fail(fmt::format("the file's SHA-256 is {}, but the release publishes {}", actual,
                             *options.sha256));
    }
  }
}

/// Removes the temporary file unless the download got as far as renaming it.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  void keep() noexcept { path_.clear(); }

 private:
  fs::path path_;
};

}  // namespace

void download_file(const std::string& url, const fs::path& dest, const DownloadOptions& options) {
  // The pid and a counter keep concurrent downloads of the same file, from this process or
  // another, out of each other's way.
  static std::atomic<std::uint64_t> counter{0};
  fs::path part = dest;
  part += fmt::format(".part-{}-{}", ::getpid(), counter.fetch_add(1));

  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw BuildException(fmt::format("cannot download {}: cannot create {}: {}", url, part.string(),
                                     last_error().message()));
  }
  TempFile temp(part);
  UniqueFd owner(fd);

  Transfer t(options);
  t.fd = fd;
  t.file = &temp.path();
  transfer(url, t);

  // A failing close() can be the first word of a full disk (NFS reports late).
  if (::close(owner.release()) != 0) {
    throw BuildException(fmt::format("cannot download {}: cannot write {}: {}", url, part.string(),
                                     last_error().message()));
  }
  if (::rename(part.c_str(), dest.c_str()) != 0) {
    throw BuildException(fmt::format("cannot download {}: cannot move it to {}: {}", url,
                                     dest.string(), last_error().message()));
  }
  temp.keep();
}

std::string download_text(const std::string& url, const DownloadOptions& options,
                          std::size_t max_bytes) {
  std::string text;
  Transfer t(options);
  t.text = &text;
  t.max_bytes = max_bytes;
  transfer(url, t);
  return text;
}

std::chrono::seconds timeout_from_env(const char* name, std::chrono::seconds fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long s = std::strtol(v, &end, 10);
  return end != v && *end == '\0' && s > 0 ? std::chrono::seconds(s) : fallback;
}

std::string sha256_file(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw BuildException(fmt::format("cannot read {}", file.string()), last_error());
  Sha256 hash;
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf.data(), buf.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw BuildException(fmt::format("cannot read {}", file.string()), last_error());
    }
    hash.update(std::string_view(buf.data(), static_cast<std::size_t>(got)));
  }
  return hash.hex_digest();
}

}  // namespace appose::detail
