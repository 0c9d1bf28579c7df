#include "proxy/upstream/upstream_host.h"

#include "proxy/net/socket_util.h"
#include "proxy/upstream/upstream_connection.h"

namespace halyard::proxy::upstream {

UpstreamHost::UpstreamHost(const asio::ip::tcp::endpoint& ep)
    : endpoint(ep), name(net::formatEndpoint(ep)) {}

UpstreamHost::~UpstreamHost() = default;

}  // namespace halyard::proxy::upstream
