#include "proxy/upstream/connection_pool.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/post.hpp>

#include "proxy/net/awaitable.h"
#include "proxy/net/socket_util.h"
#include "proxy/tls/certificate_checks.h"

namespace halyard::proxy::upstream {

ConnectionPool::ConnectionPool(asio::any_io_executor executor, PoolOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  if (!options_.shared) options_.shared = std::make_shared<SharedUpstream>();
  // Runs on another worker's thread: hop onto this pool's own before touching anything.
  reclaimer_id_ =
      options_.shared->addReclaimer([this](std::vector<asio::ip::tcp::endpoint> endpoints) {
        asio::post(executor_, [this, endpoints = std::move(endpoints)] { reclaim(endpoints); });
      });
}

ConnectionPool::~ConnectionPool() {
  options_.shared->removeReclaimer(reclaimer_id_);
}

namespace {

// tcpKeepalive: SO_KEEPALIVE, with the times the policy sets (the OS defaults otherwise).
void applyKeepalive(asio::ip::tcp::socket& socket, const translate::ConnectionPoolPolicy& p) {
  const int fd = socket.native_handle();
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  auto seconds = [](std::chrono::milliseconds ms) {
    return static_cast<int>(std::max<int64_t>(1, ms.count() / 1000));
  };
  if (p.keepalive_time.count() > 0) {
    const int v = seconds(p.keepalive_time);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
  }
  if (p.keepalive_interval.count() > 0) {
    const int v = seconds(p.keepalive_interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
  }
  if (p.keepalive_probes > 0) {
    const int v = static_cast<int>(p.keepalive_probes);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
  }
}

bool outlived(const UpstreamConnection& c, const translate::ConnectionPoolPolicy* policy,
              std::chrono::steady_clock::time_point now) {
  return policy && policy->max_connection_duration.count() > 0 &&
         now - c.createdAt() >= policy->max_connection_duration;
}

}  // namespace

void ConnectionPool::reclaim(const std::vector<asio::ip::tcp::endpoint>& endpoints) {
  for (const auto& e : endpoints) {
    auto it = hosts_.find(e);
    if (it == hosts_.end() || it->second->waiters > 0) continue;
    for (auto& c : it->second->idle) net::closeQuietly(c->socket());
    it->second->idle.clear();
  }
}

std::shared_ptr<UpstreamHost> ConnectionPool::host(const asio::ip::tcp::endpoint& endpoint) {
  auto& slot = hosts_[endpoint];
  if (!slot) slot = std::make_shared<UpstreamHost>(endpoint);
  return slot;
}

std::unique_ptr<UpstreamConnection> ConnectionPool::takeIdle(
    UpstreamHost& host, const TransportSettings& settings,
    const translate::ConnectionPoolPolicy* policy) {
  const auto now = std::chrono::steady_clock::now();
  const auto max_idle = policy && policy->idle_timeout.count() > 0
                            ? std::min(options_.max_idle_time, policy->idle_timeout)
                            : options_.max_idle_time;
  // Most recently used first; connections of other settings stay for requests that have them.
  for (size_t i = host.idle.size(); i-- > 0;) {
    if (host.idle[i]->transportKey() != settings.key) continue;
    std::unique_ptr<UpstreamConnection> c = std::move(host.idle[i]);
    host.idle.erase(host.idle.begin() + static_cast<std::ptrdiff_t>(i));
    if (now - c->idleSince() < max_idle && !outlived(*c, policy, now) &&
        !net::idleConnectionUnusable(c->socket())) {
      return c;
    }
    net::closeQuietly(c->socket());
  }
  return nullptr;
}

asio::awaitable<common::Expected<std::unique_ptr<UpstreamConnection>>> ConnectionPool::connect(
    UpstreamHost& host, std::chrono::milliseconds timeout, const TransportSettings& settings,
    const translate::ConnectionPoolPolicy* policy) {
  auto c = std::make_unique<UpstreamConnection>(executor_, host);
  asio::ip::tcp::socket& socket = c->socket();
  c->writeTimer().arm(timeout, [&socket] {
    asio::error_code ignored;
    socket.cancel(ignored);
  });
  auto [ec] = co_await socket.async_connect(host.endpoint, net::kAwait);
  if (!ec && settings.tls) {
    net::setNoDelay(socket);
    SSL* ssl = settings.tls->newSession(settings.server_name);
    if (!ssl) {
      c->writeTimer().disarm();
      co_return common::fail(common::ErrorKind::kInternal, "cannot start TLS to " + host.name,
                             common::ErrorSource::kInternal);
    }
    if (settings.h2) {
      static constexpr unsigned char kH2[] = "\x02h2";
      SSL_set_alpn_protos(ssl, kH2, sizeof(kH2) - 1);
    }
    c->transport().startTls(ssl);
    auto [tls_ec] = co_await c->transport().handshake(asio::ssl::stream_base::client);
    c->writeTimer().disarm();
    if (tls_ec && !c->writeTimer().fired()) {
      std::string message = "TLS handshake with " + host.name;
      if (!settings.server_name.empty())
        message += " (SNI " + std::string(settings.server_name) + ")";
      message += " failed: " + c->transport().describeTlsError(tls_ec);
      co_return common::fail(common::ErrorKind::kProtocol, message, common::ErrorSource::kUpstream,
                             true);
    }
    ec = tls_ec;
    if (!ec) c->setPeerPrincipal(tls::firstUriSan(SSL_get0_peer_certificate(c->transport().ssl())));
  }
  c->writeTimer().disarm();
  if (c->writeTimer().fired()) {
    co_return common::fail(
        common::ErrorKind::kTimeout,
        "connect to " + host.name + " timed out after " + std::to_string(timeout.count()) + " ms",
        common::ErrorSource::kUpstream, true);
  }
  if (ec) {
    co_return common::fail(common::ErrorKind::kIo,
                           "connect to " + host.name + " failed: " + ec.message(),
                           common::ErrorSource::kUpstream, true);
  }
  net::setNoDelay(socket);
  if (policy && policy->tcp_keepalive) applyKeepalive(socket, *policy);
  c->setTransportKey(settings.key);
  co_return std::move(c);
}

void ConnectionPool::release(std::unique_ptr<UpstreamConnection> connection,
                             const translate::ConnectionPoolPolicy* policy) {
  UpstreamHost& host = connection->host();
  const ClusterState* counted = connection->countedIn();
  const bool slot_wanted =
      counted && host.waiters == 0 && counted->pending.load(std::memory_order_relaxed) > 0;
  const bool spent = policy && policy->max_requests_per_connection > 0 &&
                     connection->requests() >= policy->max_requests_per_connection;
  if (host.idle.size() >= options_.max_idle_per_host || slot_wanted || spent ||
      outlived(*connection, policy, std::chrono::steady_clock::now())) {
    net::closeQuietly(connection->socket());
    return;
  }
  connection->buffer().rewindTo(0);
  connection->markIdle();
  host.idle.push_back(std::move(connection));
}

void ConnectionPool::prune() {
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (it->second.use_count() == 1 && it->second->active_requests == 0) {
      it = hosts_.erase(it);
    } else {
      ++it;
    }
  }
}

void ConnectionPool::closeIdle() {
  for (auto& [endpoint, host] : hosts_) {
    for (auto& c : host->idle) net::closeQuietly(c->socket());
    host->idle.clear();
  }
}

}  // namespace halyard::proxy::upstream
