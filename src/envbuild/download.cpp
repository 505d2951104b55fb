// Downloading the build tools' release archives with libcurl, and the SHA-256 that checks them.

#include "envbuild/download.hpp"

#include <curl/curl.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include "appose/error.hpp"
#include "appose/version.hpp"
#include "envbuild/tool.hpp"
#include "platform/env_var.hpp"
#include "platform/file.hpp"
#include "platform/process.hpp"
#include "platform/wake_wait.hpp"
#include "util/ascii.hpp"
#include "util/fs_util.hpp"
#include "util/sha256.hpp"

namespace appose::detail {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Kept in step with project(VERSION) in CMakeLists.txt: servers see which client misbehaves.
constexpr const char* kUserAgent = "appose-cpp/" APPOSE_VERSION_STRING;
constexpr std::int64_t kProgressBytes = 64 * 1024;
constexpr std::chrono::milliseconds kProgressInterval{100};
/// How long curl_multi_poll() may sleep: curl shortens it for its own timers, and cancel wakes
/// it through curl_multi_wakeup() (CancelWaker), so this only bounds the damage of a missed
/// wake-up.
constexpr int kPollMillis = 1000;

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
  platform::File* out = nullptr;   ///< the file being written, or
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
      if (const std::error_code ec = out->write_all(data, n)) {
        write_failure = fmt::format("cannot write {}: {}", file->string(), ec.message());
        return false;
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

/// Wakes curl_multi_poll() as soon as the build is canceled: a thread waits on the cancel event
/// (and on this object's end) and calls curl_multi_wakeup(), which is safe from any thread.
/// Portable, where handing curl the event itself is not: curl waits on sockets, and only on
/// POSIX is the event a descriptor it can poll. Destroyed before the multi handle.
class CancelWaker {
 public:
  CancelWaker(CURLM* multi, const platform::WakeEvent& cancel)
      : thread_([this, multi, &cancel] {
          if (platform::wait_either(cancel, done_)) curl_multi_wakeup(multi);
        }) {}
  ~CancelWaker() {
    done_.set();
    thread_.join();
  }
  CancelWaker(const CancelWaker&) = delete;
  CancelWaker& operator=(const CancelWaker&) = delete;

 private:
  platform::WakeEvent done_;  // before thread_, which waits on it
  std::thread thread_;
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
  // The multi interface, unlike curl_easy_perform(), lets a cancel wake the wait at once
  // instead of at curl's next progress tick.
  if (curl_multi_add_handle(multi.get(), h) != CURLM_OK) throw fail("cannot start libcurl");
  Attached attached(multi.get(), h);
  std::optional<CancelWaker> waker;
  if (options.cancel != nullptr) waker.emplace(multi.get(), options.cancel->event());
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) throw fail(curl_multi_strerror(mc));
    if (running == 0) break;
    if (t.cancel_requested()) {
      t.canceled = true;
      break;
    }
    mc = curl_multi_poll(multi.get(), nullptr, 0, kPollMillis, nullptr);
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
    if (actual != ascii_lower(*options.sha256)) {
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
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);
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
  part += fmt::format(".part-{}-{}", platform::current_process_id(), counter.fetch_add(1));

  std::error_code ec;
  platform::File out = platform::File::create_new(part, ec);
  if (ec) {
    throw BuildException(fmt::format("cannot download {}: cannot create {}: {}", url,
                                     detail::utf8_string(part), ec.message()));
  }
  TempFile temp(part);

  Transfer t(options);
  t.out = &out;
  t.file = &temp.path();
  transfer(url, t);

  // A failing close() can be the first word of a full disk (NFS reports late).
  if ((ec = out.close())) {
    throw BuildException(fmt::format("cannot download {}: cannot write {}: {}", url,
                                     detail::utf8_string(part), ec.message()));
  }
  fs::rename(part, dest, ec);
  if (ec) {
    throw BuildException(fmt::format("cannot download {}: cannot move it to {}: {}", url,
                                     detail::utf8_string(dest), ec.message()));
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
  const std::optional<std::string> v = platform::env_var(name);
  if (!v || v->empty()) return fallback;
  char* end = nullptr;
  const long s = std::strtol(v->c_str(), &end, 10);
  return *end == '\0' && s > 0 ? std::chrono::seconds(s) : fallback;
}

std::string sha256_file(const fs::path& file) {
  std::error_code ec;
  platform::File in = platform::File::open_read(file, ec);
  if (ec) throw BuildException(fmt::format("cannot read {}", detail::utf8_string(file)), ec);
  Sha256 hash;
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    const std::size_t got = in.read(buf.data(), buf.size(), ec);
    if (ec) throw BuildException(fmt::format("cannot read {}", detail::utf8_string(file)), ec);
    if (got == 0) break;
    hash.update(std::string_view(buf.data(), got));
  }
  return hash.hex_digest();
}

}  // namespace appose::detail
