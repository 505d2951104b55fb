#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: fixed routes, plus the ways a real
// server goes wrong (a body shorter than announced, a connection that stalls).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace appose::test {

/// Listens on an ephemeral port of 127.0.0.1 from construction until stop() or destruction.
/// Every connection gets its own thread (a stalled one must not hold up the others), answers
/// one request and closes. Routes may be added while it runs; unknown paths get 404.
class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Answers `path` with `body`.
  void serve(const std::string& path, std::string body, int status = 200,
             std::string content_type = "application/octet-stream");
  /// Answers `path` with a redirect to `location` (absolute URL or path).
  void redirect(const std::string& path, std::string location, int status = 302);
  /// Announces `claimed_length` bytes, sends `body` (shorter) and closes the connection.
  void truncate(const std::string& path, std::string body, std::size_t claimed_length);
  /// Announces `claimed_length` bytes, sends `first_bytes`, then sends nothing more, holding
  /// the connection open until the client gives up or the server stops.
  void stall(const std::string& path, std::string first_bytes, std::size_t claimed_length);

  /// Announces `body`'s length and sends it one byte every `interval`: never stalled, yet as
  /// slow as the test likes (for a client's overall time limit).
  void trickle(const std::string& path, std::string body, std::chrono::milliseconds interval);

  /// "http://127.0.0.1:<port><path>".
  [[nodiscard]] std::string url(std::string_view path) const;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The request targets received so far, in order.
  [[nodiscard]] std::vector<std::string> requests() const;
  /// How many requests asked for `path`.
  [[nodiscard]] std::size_t request_count(std::string_view path) const;

  /// Closes the listening socket, wakes and ends every connection, joins all threads.
  /// Idempotent.
  void stop();

 private:
  enum class Kind : std::uint8_t { serve, redirect, truncate, stall, trickle };
  struct Route {
    Kind kind = Kind::serve;
    int status = 200;
    std::string body;
    std::string header;  ///< content type or location
    std::size_t claimed_length = 0;
    std::chrono::milliseconds interval{0};  ///< trickle: between two bytes
  };

  void accept_loop();
  void handle(int fd);
  bool send_all(int fd, std::string_view data) const;
  void hold(int fd) const;
  bool send_slowly(int fd, std::string_view data, std::chrono::milliseconds interval) const;
  void add(const std::string& path, Route route);

  int listen_fd_ = -1;
  int wake_read_ = -1;  ///< readable once stop() ran: wakes every poll()
  int wake_write_ = -1;
  std::uint16_t port_ = 0;

  mutable std::mutex mu_;
  std::map<std::string, Route, std::less<>> routes_;
  std::vector<std::string> requests_;
  std::vector<std::thread> connections_;
  bool stopping_ = false;
  std::thread acceptor_;
};

}  // namespace appose::test
