#include "proxy/upstream/upstream_connection.h"

#include "proxy/upstream/shared_upstream.h"

namespace halyard::proxy::upstream {

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor, UpstreamHost& host,
                                       size_t buffer)
    : transport_(executor),
      buffer_(buffer),
      read_timer_(executor),
      write_timer_(executor),
      host_(&host) {}

UpstreamConnection::~UpstreamConnection() {
  if (counted_) counted_->connections.fetch_sub(1, std::memory_order_relaxed);
}

void UpstreamConnection::reuseForStream(common::LocalShared<net::MemoryPipe> pipe,
                                        common::LocalShared<H2Exchange> exchange) {
  transport_.usePipe(std::move(pipe));
  // A large response that grew the buffer (growAfterFullRead) does not leave it large.
  if (buffer_.capacity() > net::ByteBuffer::kStreamSize) {
    buffer_ = net::ByteBuffer(net::ByteBuffer::kStreamSize);
  }
  buffer_.rewindTo(0);
  read_timer_.disarm();
  write_timer_.disarm();
  requests_ = 0;
  h2 = std::move(exchange);
}

void UpstreamConnection::adoptCount(std::shared_ptr<ClusterState> state) {
  if (counted_) counted_->connections.fetch_sub(1, std::memory_order_relaxed);
  counted_ = std::move(state);
}

}  // namespace halyard::proxy::upstream
