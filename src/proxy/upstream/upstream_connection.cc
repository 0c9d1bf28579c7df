#include "proxy/upstream/upstream_connection.h"

#include "proxy/upstream/shared_upstream.h"

namespace halyard::proxy::upstream {

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor, UpstreamHost& host)
    : transport_(executor),
      buffer_(kInitialBuffer),
      read_timer_(executor),
      write_timer_(executor),
      host_(&host) {}

UpstreamConnection::~UpstreamConnection() {
  if (counted_) counted_->connections.fetch_sub(1, std::memory_order_relaxed);
}

void UpstreamConnection::adoptCount(std::shared_ptr<ClusterState> state) {
  if (counted_) counted_->connections.fetch_sub(1, std::memory_order_relaxed);
  counted_ = std::move(state);
}

}  // namespace halyard::proxy::upstream
