// The TLS side of one HTTPS listener: every Gateway server on its port compiled into a
// ServerContext, and the choice between them from the ClientHello's SNI (as Envoy picks a filter
// chain): exact host, then the longest wildcard ("*.example.com"), then "*". A ClientHello that
// matches no server is refused with an unrecognized_name alert: an unknown SNI gets no
// handshake. Without SNI only a "*" server can answer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/tls/server_context.h"

namespace halyard::proxy::tls {

class ListenerTls {
 public:
  // Servers whose context failed to build are left out, each with its error in `errors`.
  // `http`: ALPN offers h2 and http/1.1; false (a TLS server that terminates before TCP
  // proxying): no ALPN is negotiated, the bytes inside being no HTTP of ours.
  static std::shared_ptr<const ListenerTls> build(const std::string& listener_name,
                                                  const std::vector<translate::ServerTls>& servers,
                                                  PemLoader& loader,
                                                  std::vector<std::string>& errors,
                                                  bool http = true);

  // A new SSL object for an accepted connection; null when the listener has no usable server.
  SSL* newSession() const;

  // The server for a (lowercase) SNI; null when none serves it.
  const ServerContext* select(std::string_view sni) const;

  size_t servers() const { return servers_.size(); }

 private:
  std::vector<std::unique_ptr<ServerContext>> servers_;
};

}  // namespace halyard::proxy::tls
