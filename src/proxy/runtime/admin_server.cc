#include "proxy/runtime/admin_server.h"

#include <asio/buffer.hpp>
#include <asio/write.hpp>

#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_writer.h"
#include "proxy/net/byte_buffer.h"
#include "proxy/net/listen_socket.h"
#include "proxy/net/op_timer.h"
#include "proxy/net/socket_util.h"
#include "proxy/net/spawn.h"
#include "proxy/runtime/io_ops.h"

namespace halyard::proxy::runtime {

namespace {

constexpr std::chrono::seconds kAdminTimeout{10};
// An idle keep-alive connection; longer than the control plane's scrape interval of a large mesh.
constexpr std::chrono::seconds kAdminIdleTimeout{120};

}  // namespace

common::Expected<void> AdminServer::listen(const std::string& host, uint16_t port) {
  auto acceptor = net::openListener(io_, host, port, false);
  if (!acceptor) return common::unexpected(acceptor.error());
  acceptor_.emplace(std::move(*acceptor));
  net::spawnDetached(io_.get_executor(), acceptLoop());
  return common::Ok{};
}

void AdminServer::close() {
  if (!acceptor_) return;
  asio::error_code ignored;
  acceptor_->close(ignored);
}

uint16_t AdminServer::port() const {
  asio::error_code ec;
  return acceptor_ ? acceptor_->local_endpoint(ec).port() : 0;
}

net::awaitable<void> AdminServer::acceptLoop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto [ec, socket] = co_await acceptor_->async_accept(net::kAwait);
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      continue;
    }
    net::spawnDetached(io_.get_executor(), serve(std::move(socket)));
  }
}

AdminResponse AdminServer::dispatch(std::string_view method, std::string_view target) const {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (method != "GET" && method != "HEAD") {
    return AdminResponse{405, "text/plain; charset=utf-8", "the admin endpoints are read-only\n"};
  }
  const auto it = handlers_.find(path);
  if (it == handlers_.end()) {
    std::string body = "unknown admin endpoint " + std::string(path) + "; endpoints:";
    for (const auto& [p, h] : handlers_) body += " " + p;
    return AdminResponse{404, "text/plain; charset=utf-8", body + "\n"};
  }
  return it->second(query);
}

net::awaitable<void> AdminServer::serve(asio::ip::tcp::socket socket) {
  net::Transport transport(std::move(socket));
  net::OpTimer timer(transport.executor());
  // Keep-alive: a scraper (the control plane's dashboard, Prometheus) asks again on the same
  // connection, which saves it a connect and a close per scrape. A connection idle for
  // kAdminIdleTimeout is closed; a request, once it starts, has kAdminTimeout.
  for (bool first = true;; first = false) {
    net::ByteBuffer in(16 * 1024);
    http::RequestParser parser;
    Clock::time_point deadline = Clock::now() + (first ? kAdminTimeout : kAdminIdleTimeout);
    AdminResponse response;
    bool is_head = false;
    bool keep_alive = false;
    while (true) {
      if (in.end() > 0) {
        const http::ParseStatus st = parser.feed(in.fromStart());
        if (st == http::ParseStatus::kError) {
          response = AdminResponse{parser.error().status, "text/plain; charset=utf-8",
                                   std::string(parser.error().reason) + "\n"};
          break;
        }
        if (st == http::ParseStatus::kHeadComplete) {
          is_head = parser.head().method == "HEAD";
          // A request with a body is not an admin request: answered, then the connection ends.
          keep_alive = parser.head().keep_alive && parser.head().head_bytes == in.end();
          response = dispatch(parser.head().method, parser.head().path);
          break;
        }
      }
      if (in.writableSize() == 0) co_return;  // a head this large is not an admin request
      const IoResult r = co_await readSome(transport, in, timer, deadline);
      if (!r.ok()) co_return;
      deadline = std::min(deadline, Clock::now() + kAdminTimeout);  // the request has begun
    }
    std::string out;
    http::appendStatusLine(out, response.status, http::reasonPhrase(response.status));
    http::appendHeader(out, "content-type", response.content_type);
    http::appendHeader(out, "content-length", std::to_string(response.body.size()));
    if (!keep_alive) http::appendHeader(out, "connection", "close");
    http::appendHeadEnd(out);
    if (!is_head) out += response.body;
    const IoResult w = co_await writeAll(transport, asio::buffer(out), timer, deadline);
    if (!keep_alive || !w.ok()) break;
  }
  transport.close();
}

}  // namespace halyard::proxy::runtime
