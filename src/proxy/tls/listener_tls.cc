#include "proxy/tls/listener_tls.h"

#include <algorithm>
#include <optional>

#include "proxy/tls/server_name.h"

namespace halyard::proxy::tls {

namespace {

// Runs before anything of the ClientHello is acted on, so the chosen server's versions, ciphers
// and client verification apply to this handshake.
int onClientHello(SSL* ssl, int* alert, void* arg) {
  const auto* listener = static_cast<const ListenerTls*>(arg);
  const unsigned char* ext = nullptr;
  size_t ext_len = 0;
  std::string sni;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len) == 1) {
    std::optional<std::string> name = parseServerNameExtension({ext, ext_len});
    if (!name) {
      *alert = SSL_AD_DECODE_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
    sni = std::move(*name);
  }
  const ServerContext* server = listener->select(sni);
  if (!server) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  server->applyTo(ssl);
  return SSL_CLIENT_HELLO_SUCCESS;
}

bool wildcardMatches(std::string_view pattern, std::string_view host) {
  // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
  const std::string_view suffix = pattern.substr(1);
  return host.size() > suffix.size() && host.ends_with(suffix);
}

}  // namespace

std::shared_ptr<const ListenerTls> ListenerTls::build(
    const std::string& listener_name, const std::vector<translate::ServerTls>& servers,
    PemLoader& loader, std::vector<std::string>& errors, bool http) {
  auto self = std::make_shared<ListenerTls>();
  for (const auto& server : servers) {
    auto built = ServerContext::build(server, loader);
    if (!built) {
      errors.push_back("listener " + listener_name + ": " + built.error().message +
                       "; its hosts get no handshake");
      continue;
    }
    if (!http) SSL_CTX_set_alpn_select_cb((*built)->ctx(), nullptr, nullptr);
    SSL_CTX_set_client_hello_cb((*built)->ctx(), onClientHello, self.get());
    self->servers_.push_back(std::move(*built));
  }
  return self;
}

SSL* ListenerTls::newSession() const {
  if (servers_.empty()) return nullptr;
  return SSL_new(servers_.front()->ctx());
}

const ServerContext* ListenerTls::select(std::string_view sni) const {
  const ServerContext* wildcard = nullptr;
  size_t wildcard_length = 0;
  const ServerContext* any = nullptr;
  for (const auto& server : servers_) {
    for (const auto& host : server->settings().sni_hosts) {
      if (host == "*") {
        if (!any) any = server.get();
      } else if (sni.empty()) {
        continue;
      } else if (host.starts_with("*.")) {
        if (wildcardMatches(host, sni) && host.size() > wildcard_length) {
          wildcard = server.get();
          wildcard_length = host.size();
        }
      } else if (host == sni) {
        return server.get();
      }
    }
  }
  return wildcard ? wildcard : any;
}

}  // namespace halyard::proxy::tls
