#include "proxy/runtime/mirror.h"

#include <array>
#include <asio/buffer.hpp>

#include "proxy/http/field_block.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/net/socket_util.h"
#include "proxy/net/spawn.h"
#include "proxy/router/router.h"
#include "proxy/runtime/body_reader.h"
#include "proxy/runtime/worker.h"
#include "proxy/upstream/h2_session.h"
#include "proxy/upstream/load_balancer.h"

namespace halyard::proxy::runtime {

namespace {

// A mirror that takes longer than this is abandoned.
constexpr std::chrono::seconds kMirrorTimeout{30};

// The Host of the mirrored request head (the one the original request was sent with), without
// its port: the default SNI of a TLS mirror cluster.
std::string_view mirrorHost(std::string_view head) {
  static constexpr std::string_view kHost = "\r\nhost: ";
  const size_t at = head.find(kHost);
  if (at == std::string_view::npos) return {};
  const size_t start = at + kHost.size();
  const size_t end = head.find("\r\n", start);
  return router::hostWithoutPort(head.substr(start, end - start));
}

// The mirrored HTTP/1.1 head as HTTP/2 fields (pseudo-header fields first; the hop-by-hop
// fields and Host dropped, "te: trailers" for gRPC, which the client's hop dropped). False when
// the head does not parse (it was made by the proxy: it always should).
bool toFields(std::string& head, const http::ParserLimits& limits, http::FieldBlock& fields,
              http::BodyFraming& framing) {
  http::RequestParser parser(limits);
  if (parser.feed(std::span<char>(head.data(), head.size())) != http::ParseStatus::kHeadComplete) {
    return false;
  }
  const http::RequestHead& h = parser.head();
  fields.add(":method", h.method);
  fields.add(":authority", h.host);
  fields.add(":path", h.path);
  bool trailers = false;
  for (const auto& f : h.headers) {
    if (f.name == "te") trailers = trailers || f.value == "trailers";
    if (f.name == "content-type" && f.value.starts_with("application/grpc")) trailers = true;
    if (f.name == "host" || f.name == "te" || http::isConnectionSpecific(f.name)) continue;
    fields.add(f.name, f.value);
  }
  if (trailers) fields.add("te", "trailers");
  framing = h.framing;
  return true;
}

// An HTTP/2 mirror: the head as fields, the body unframed, and the response read to its end and
// dropped.
net::awaitable<void> mirrorOverH2(Worker& worker, upstream::UpstreamConnection& c,
                                  std::string& head, const std::string& body,
                                  Clock::time_point deadline) {
  http::FieldBlock fields;
  http::BodyFraming framing;
  if (!toFields(head, worker.options().request_limits, fields, framing) ||
      !upstream::startH2Request(*c.h2, fields, framing)) {
    co_return;
  }
  if (!body.empty() &&
      !(co_await writeAll(c.transport(), asio::buffer(body), c.writeTimer(), deadline)).ok()) {
    co_return;
  }
  // Reads return the body's bytes (or nothing, when the head arrived) until the stream ends.
  while ((co_await readSome(c.transport(), c.buffer(), c.readTimer(), deadline)).ok()) {
    c.buffer().rewindTo(0);
  }
}

net::awaitable<void> mirror(Worker& worker, common::LocalShared<const WorkerSnapshot> snapshot,
                            std::string cluster, std::string head, std::string body, bool is_head) {
  upstream::ClusterHosts* hosts = snapshot->cluster(cluster);
  if (!hosts) co_return;
  co_await hosts->ensureResolved();
  upstream::UpstreamHost* host = upstream::pickHost(*hosts, worker.random(), {});
  if (!host) co_return;
  const Clock::time_point deadline = Clock::now() + kMirrorTimeout;
  const auto chosen = hosts->transportFor(hosts->endpoint(*host), mirrorHost(head));
  if (!chosen) co_return;
  const upstream::TransportSettings& transport = *chosen;
  std::unique_ptr<upstream::UpstreamConnection> c;
  if (hosts->cluster().http2) {
    // An HTTP/2 cluster gets its copy as a stream on the shared HTTP/2 connection, like the
    // original would (upstream/h2_session.h).
    auto stream = co_await upstream::openH2Stream(worker.pool(), *host,
                                                  hosts->cluster().connect_timeout, transport);
    if (!stream) co_return;
    co_await mirrorOverH2(worker, **stream, head, body, deadline);
    co_return;
  } else {
    c = worker.pool().takeIdle(*host, transport);
  }
  if (!c) {
    auto connected =
        co_await worker.pool().connect(*host, hosts->cluster().connect_timeout, transport);
    if (!connected) co_return;
    c = std::move(*connected);
  }
  c->countRequest();
  const std::array<asio::const_buffer, 2> parts = {asio::buffer(head), asio::buffer(body)};
  if (!(co_await writeAll(c->transport(), parts, c->writeTimer(), deadline)).ok()) co_return;
  c->parser().reset(is_head ? "HEAD" : "GET");
  while (true) {
    const http::ParseStatus st = c->parser().feed(c->buffer().fromStart());
    if (st == http::ParseStatus::kError) co_return;
    if (st == http::ParseStatus::kHeadComplete) {
      if (!c->parser().head().interim) break;
      c->buffer().consume(c->parser().head().head_bytes);
      c->buffer().compact();
      c->parser().reset(is_head ? "HEAD" : "GET");
      continue;
    }
    if (c->buffer().writableSize() == 0) co_return;  // an oversized head: not worth growing for
    if (!(co_await readSome(c->transport(), c->buffer(), c->readTimer(), deadline)).ok()) co_return;
  }
  const http::ResponseHead& response = c->parser().head();
  const bool keep_alive = response.keep_alive && !response.tunnel;
  c->buffer().consume(response.head_bytes);
  BodyReader reader;
  reader.start(response.framing, 0);
  while (!reader.done()) {
    const BodyRead r = co_await reader.next(c->transport(), c->buffer(), c->readTimer(), deadline);
    if (r.error != BodyError::kNone) co_return;
  }
  if (keep_alive && c->buffer().readableSize() == 0) {
    worker.pool().release(std::move(c));
  } else {
    net::closeQuietly(c->socket());
  }
}

}  // namespace

void startMirror(Worker& worker, common::LocalShared<const WorkerSnapshot> snapshot,
                 const std::string& cluster, std::string_view head, std::string_view body,
                 std::string_view method) {
  net::spawnDetached(worker.io().get_executor(),
                     mirror(worker, std::move(snapshot), cluster, std::string(head),
                            std::string(body), method == "HEAD"));
}

}  // namespace halyard::proxy::runtime
