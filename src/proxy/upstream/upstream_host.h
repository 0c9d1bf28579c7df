// One upstream endpoint as a worker sees it: its address, the requests this worker has in
// flight to it (for LEAST_REQUEST) and its idle keep-alive connections. Owned by the worker's
// ConnectionPool and shared with the per-snapshot cluster views, so a config reload keeps the
// warm connections of the endpoints that stay.
#pragma once

#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/local_shared.h"

namespace halyard::proxy::upstream {

class UpstreamConnection;

struct UpstreamHost {
  explicit UpstreamHost(const asio::ip::tcp::endpoint& ep);
  ~UpstreamHost();
  UpstreamHost(const UpstreamHost&) = delete;
  UpstreamHost& operator=(const UpstreamHost&) = delete;

  asio::ip::tcp::endpoint endpoint;
  std::string name;  // "10.0.0.1:8080", %UPSTREAM_HOST%
  uint32_t active_requests = 0;
  // Requests of this worker waiting for a connection to this host (connectionPool limits).
  uint32_t waiters = 0;
  // When this worker first used the endpoint: the start of its warmup (slow start).
  std::chrono::steady_clock::time_point created_at = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<UpstreamConnection>> idle;  // most recently used last
  // Shared HTTP/2 connections to this host (upstream/h2_session.cc's sessions, type-erased).
  std::vector<common::LocalShared<void>> h2_sessions;
};

}  // namespace halyard::proxy::upstream
