// The admin listener (--admin 127.0.0.1:15000), on the main thread: a few read-only endpoints
// (/ready, /stats/prometheus, /config_dump, /clusters) registered by the process. Requests one
// at a time, on keep-alive connections (a scraper asks again on the same one); it never touches
// the workers' request path.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "proxy/net/awaitable.h"

namespace halyard::proxy::runtime {

struct AdminResponse {
  uint16_t status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  // `query` is the text after '?', empty when none.
  using Handler = std::function<AdminResponse(std::string_view query)>;

  explicit AdminServer(asio::io_context& io) : io_(io) {}

  void handle(std::string path, Handler handler) {
    handlers_[std::move(path)] = std::move(handler);
  }
  common::Expected<void> listen(const std::string& host, uint16_t port);
  void close();
  // The port actually bound (useful when listening on port 0).
  uint16_t port() const;

 private:
  net::awaitable<void> acceptLoop();
  net::awaitable<void> serve(asio::ip::tcp::socket socket);
  AdminResponse dispatch(std::string_view method, std::string_view target) const;

  asio::io_context& io_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace halyard::proxy::runtime
