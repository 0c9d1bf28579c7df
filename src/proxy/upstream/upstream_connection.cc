#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::upstream {

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor, UpstreamHost& host)
    : transport_(executor),
      buffer_(kInitialBuffer),
      read_timer_(executor),
      write_timer_(executor),
      host_(&host) {}

}  // namespace halyard::proxy::upstream
