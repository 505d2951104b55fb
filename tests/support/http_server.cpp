#include "support/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "support/test_support.hpp"

namespace appose::test {

namespace {

constexpr std::size_t kMaxRequestHead = 64 * 1024;
/// How long a finished connection waits for the client to close its side: closing with unread
/// input would send a reset, which can destroy the response before the client read it.
constexpr int kLingerMillis = 2000;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string head(int status, std::size_t length, std::string_view extra_header) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n", status,
                     reason(status), length, extra_header);
}

}  // namespace

HttpServer::HttpServer() {
#ifdef SOCK_CLOEXEC
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
  listen_fd_ = set_cloexec(::socket(AF_INET, SOCK_STREAM, 0));           // macOS: no SOCK_CLOEXEC
#endif
  if (listen_fd_ < 0) throw_errno("socket");
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  // The socket API takes sockaddr_in through a sockaddr*; there is no cast-free spelling.
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  int fds[2] = {-1, -1};
  if (::bind(listen_fd_, sa, sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, sa, &len) != 0) {
    const int saved = errno;
    ::close(listen_fd_);
    errno = saved;
    throw_errno("cannot start the test HTTP server");
  }
  try {
    open_cloexec_pipe(fds);
  } catch (...) {
    ::close(listen_fd_);
    throw;
  }
  port_ = ntohs(addr.sin_port);
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // Never read: the pipe stays readable, so every poll() that includes it returns from now on.
  while (::write(wake_write_, "x", 1) < 0 && errno == EINTR) {
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(connections_);
  }
  for (std::thread& t : threads)
    t.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void HttpServer::add(const std::string& path, Route route) {
  std::lock_guard lock(mu_);
  routes_.insert_or_assign(path, std::move(route));
}

void HttpServer::serve(const std::string& path, std::string body, int status,
                       std::string content_type) {
  add(path, Route{Kind::serve, status, std::move(body), std::move(content_type), 0});
}

void HttpServer::redirect(const std::string& path, std::string location, int status) {
  add(path, Route{Kind::redirect, status, {}, std::move(location), 0});
}

void HttpServer::truncate(const std::string& path, std::string body, std::size_t claimed_length) {
  add(path, Route{Kind::truncate, 200, std::move(body), {}, claimed_length});
}

void HttpServer::stall(const std::string& path, std::string first_bytes,
                       std::size_t claimed_length) {
  add(path, Route{Kind::stall, 200, std::move(first_bytes), {}, claimed_length});
}

void HttpServer::trickle(const std::string& path, std::string body,
                         std::chrono::milliseconds interval) {
  Route route{Kind::trickle, 200, std::move(body), {}, 0};
  route.interval = interval;
  add(path, std::move(route));
}

std::string HttpServer::url(std::string_view path) const {
  return fmt::format("http://127.0.0.1:{}{}", port_, path);
}

std::vector<std::string> HttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t HttpServer::request_count(std::string_view path) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count(requests_.begin(), requests_.end(), path));
}

void HttpServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
#ifdef SOCK_CLOEXEC
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
#else
    const int fd = set_cloexec(::accept(listen_fd_, nullptr, nullptr));  // macOS: no accept4
#endif
    if (fd < 0) {
      // The client gave up between poll() and accept(): not the server's problem.
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return;
    }
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.emplace_back([this, fd] { handle(fd); });
  }
}

bool HttpServer::send_all(int fd, std::string_view data) const {
  while (!data.empty()) {
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents != 0) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Sends `data` a byte at a time, `interval` apart; false once the client or the server gives up.
bool HttpServer::send_slowly(int fd, std::string_view data,
                             std::chrono::milliseconds interval) const {
  for (std::size_t i = 0; i < data.size(); ++i) {
    pollfd wake = {wake_read_, POLLIN, 0};
    // The wake pipe doubles as the timer: it turns readable only when the server stops.
    const int n = ::poll(&wake, 1, static_cast<int>(interval.count()));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) return false;
    if (!send_all(fd, data.substr(i, 1))) return false;
  }
  return true;
}

/// Waits until the client closes its side or the server stops, discarding what arrives.
void HttpServer::hold(int fd) const {
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
  }
}

void HttpServer::handle(int fd) {
  std::string request;
  char buf[4096];
  std::size_t end = std::string::npos;
  while ((end = request.find("\r\n\r\n")) == std::string::npos) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (request.size() > kMaxRequestHead || (::poll(fds, 2, -1) < 0 && errno != EINTR) ||
        fds[1].revents != 0) {
      ::close(fd);
      return;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      ::close(fd);
      return;
    }
    if (n > 0) request.append(buf, static_cast<std::size_t>(n));
  }

  // "GET /path?query HTTP/1.1"
  const std::string_view line = std::string_view(request).substr(0, request.find("\r\n"));
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 == std::string_view::npos ? 0 : sp1 + 1);
  const std::string_view method = line.substr(0, sp1);
  std::string target;
  if (sp1 != std::string_view::npos) target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string path = target.substr(0, target.find('?'));

  Route route;
  bool found = false;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(target);
    if (auto it = routes_.find(path); it != routes_.end()) {
      route = it->second;
      found = true;
    }
  }

  const bool with_body = method != "HEAD";
  bool sent = false;
  if (!found) {
    const std::string body = "not found\n";
    sent = send_all(fd, head(404, body.size(), "Content-Type: text/plain\r\n") +
                            (with_body ? body : std::string()));
  } else {
    switch (route.kind) {
      case Kind::serve:
        sent = send_all(fd, head(route.status, route.body.size(),
                                 fmt::format("Content-Type: {}\r\n", route.header)) +
                                (with_body ? route.body : std::string()));
        break;
      case Kind::redirect:
        sent = send_all(fd, head(route.status, 0, fmt::format("Location: {}\r\n", route.header)));
        break;
      case Kind::truncate:
        sent = send_all(fd, head(200, route.claimed_length, {}) + route.body);
        break;
      case Kind::trickle:
        sent = send_all(fd, head(200, route.body.size(), {})) &&
               send_slowly(fd, route.body, route.interval);
        break;
      case Kind::stall:
        sent = send_all(fd, head(200, route.claimed_length, {}) + route.body);
        if (sent) hold(fd);
        sent = false;
        break;
    }
  }
  if (sent) {
    ::shutdown(fd, SHUT_WR);
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    while (::poll(fds, 2, kLingerMillis) > 0 && fds[1].revents == 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  ::close(fd);
}

}  // namespace appose::test
