#include "translate/gateway_translator.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "config/model/host_name.h"
#include "translate/match_compiler.h"
#include "translate/model_util.h"
#include "translate/route_builder.h"
#include "translate/tcp_route_builder.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

constexpr std::string_view kDefaultBind = "0.0.0.0";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Plaintext HTTP protocols a gateway server serves through the HTTP connection manager.
bool isPlainHttp(const std::string& protocol) {
  return protocol == "HTTP" || protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-WEB";
}

// Istio's TLSProtocol names; nullopt for anything else.
std::optional<TlsVersion> tlsVersion(const std::string& name) {
  if (name == "TLS_AUTO") return TlsVersion::kAuto;
  if (name == "TLSV1_0") return TlsVersion::kTls10;
  if (name == "TLSV1_1") return TlsVersion::kTls11;
  if (name == "TLSV1_2") return TlsVersion::kTls12;
  if (name == "TLSV1_3") return TlsVersion::kTls13;
  return std::nullopt;
}

// Non-HTTP protocols Istio proxies as opaque TCP on a gateway server (protocol.IsTCP() without
// the TLS ones).
bool isOpaqueTcp(const std::string& protocol) {
  return protocol == "TCP" || protocol == "MONGO" || protocol == "REDIS" || protocol == "MYSQL";
}

PemSource pemFile(const std::string& path) {
  PemSource p;
  p.path = path;
  p.origin = path;
  return p;
}

bool isSet(const std::optional<std::string>& s) {
  return s && !s->empty();
}

}  // namespace

GatewayTranslator::GatewayTranslator(const model::ConfigSet& config,
                                     const std::vector<PreparedVirtualService>& virtual_services,
                                     const ProxyIdentity& proxy, const CredentialStore& credentials,
                                     ClusterBuilder& clusters, DiagnosticSink& sink)
    : config_(config),
      virtual_services_(virtual_services),
      proxy_(proxy),
      credentials_(credentials),
      clusters_(clusters),
      sink_(sink) {}

std::vector<const PreparedVirtualService*> GatewayTranslator::boundTo(
    const std::string& gateway_name) const {
  std::vector<std::pair<int, const PreparedVirtualService*>> ranked;
  for (const auto& vs : virtual_services_) {
    if (std::find(vs.gateways.begin(), vs.gateways.end(), gateway_name) == vs.gateways.end()) {
      continue;
    }
    const int rank = visibilityRank(vs, proxy_.namespace_);
    if (rank >= 0) ranked.emplace_back(rank, &vs);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const PreparedVirtualService*> out;
  for (const auto& [rank, vs] : ranked) out.push_back(vs);
  return out;
}

RouteTable GatewayTranslator::routeTable(const std::vector<BoundServer>& servers, uint16_t port) {
  RouteBuilder builder(clusters_, sink_);
  std::map<std::string, VirtualHost> vhosts;  // by host, lowercase
  std::map<std::pair<std::string, const PreparedVirtualService*>, std::vector<Route>> built;
  std::set<std::tuple<std::string, const PreparedVirtualService*, std::string>> appended;

  for (const auto& bs : servers) {
    const std::string& gateway_ns = namespaceOf(bs.gateway->meta);
    // On an HTTPS server the connection is already TLS: Envoy's require_tls never redirects it.
    const bool https_redirect = bs.server->tls && bs.server->tls->https_redirect.value_or(false) &&
                                upper(bs.server->port->protocol.value_or("")) != "HTTPS";
    for (const PreparedVirtualService* vs : boundTo(bs.gateway_name)) {
      // Server hosts whose namespace part admits this VirtualService, intersected with its
      // hosts: the more specific name of each matching pair is the virtual host.
      std::vector<std::string> hosts;
      for (const auto& entry : bs.server->hosts) {
        const model::NamespacedHost sh = model::parseNamespacedHost(entry, gateway_ns);
        if (sh.namespace_ != "*" && sh.namespace_ != vs->namespace_) continue;
        const std::string server_host = toLower(sh.host);
        for (const auto& vh : vs->hosts) {
          std::string h;
          if (model::hostSubsetOf(server_host, vh)) {
            h = server_host;
          } else if (model::hostSubsetOf(vh, server_host)) {
            h = vh;
          } else {
            continue;
          }
          if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
        }
      }
      if (hosts.empty()) continue;

      auto key = std::make_pair(bs.gateway_name, vs);
      auto it = built.find(key);
      if (it == built.end()) {
        RouteScope scope{port, bs.gateway_name, &proxy_};
        it = built.emplace(key, builder.build(*vs, scope)).first;
      }
      // A VirtualService that yields no route on this port adds no virtual host (Istio skips it).
      if (it->second.empty()) continue;
      for (const auto& h : hosts) {
        if (!appended.emplace(bs.gateway_name, vs, h).second) continue;
        VirtualHost& v = vhosts[h];
        v.routes.insert(v.routes.end(), it->second.begin(), it->second.end());
        v.require_tls |= https_redirect;
      }
    }
    if (https_redirect) {
      // Every server host gets a virtual host that redirects to https, bound or not.
      for (const auto& entry : bs.server->hosts) {
        const std::string host = toLower(model::parseNamespacedHost(entry, gateway_ns).host);
        vhosts[host].require_tls = true;
      }
    }
  }

  RouteTable table;
  for (auto& [host, v] : vhosts) {
    v.name = host + ":" + std::to_string(port);
    v.domains = {host, host + ":" + std::to_string(port)};
    // Catch-all routes go last; the others keep their relative order.
    std::stable_partition(v.routes.begin(), v.routes.end(),
                          [](const Route& r) { return !isCatchAll(r.match); });
    // require_tls: the proxy redirects every plaintext request to it before route matching
    // (its require-TLS phase), so a host no VirtualService binds needs no route of its own.
    table.virtual_hosts.push_back(std::move(v));
  }
  return table;
}

std::vector<TcpRoute> GatewayTranslator::tcpRoutes(const std::vector<BoundServer>& servers,
                                                   uint16_t port, bool tls) {
  TcpRouteBuilder builder(clusters_, sink_);
  std::vector<TcpRoute> out;
  std::set<std::pair<std::string, const PreparedVirtualService*>> done;
  for (const auto& bs : servers) {
    if (bs.auto_passthrough) {
      for (auto& r : sniDnatRoutes(bs)) out.push_back(std::move(r));
      continue;
    }
    const std::string& gateway_ns = namespaceOf(bs.gateway->meta);
    for (const PreparedVirtualService* vs : boundTo(bs.gateway_name)) {
      // Bound when one of its hosts intersects a server host whose namespace part admits it.
      std::vector<std::string> server_hosts;
      bool bound = false;
      for (const auto& entry : bs.server->hosts) {
        const model::NamespacedHost sh = model::parseNamespacedHost(entry, gateway_ns);
        if (sh.namespace_ != "*" && sh.namespace_ != vs->namespace_) continue;
        const std::string server_host = toLower(sh.host);
        server_hosts.push_back(server_host);
        for (const auto& vh : vs->hosts) {
          bound =
              bound || model::hostSubsetOf(server_host, vh) || model::hostSubsetOf(vh, server_host);
        }
      }
      if (!bound || !done.emplace(bs.gateway_name, vs).second) continue;
      RouteScope scope{port, bs.gateway_name, &proxy_};
      std::vector<TcpRoute> routes =
          tls ? builder.tls(*vs, scope, server_hosts) : builder.tcp(*vs, scope);
      for (auto& r : routes) out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<TcpRoute> GatewayTranslator::sniDnatRoutes(const BoundServer& bs) {
  std::vector<TcpRoute> out;
  const std::string& gateway_ns = namespaceOf(bs.gateway->meta);
  const std::string origin =
      bs.gateway_name + " servers[" + std::to_string(bs.index) + "] AUTO_PASSTHROUGH";
  for (const RegistryService* service : clusters_.registry().visibleIn(proxy_.namespace_)) {
    bool admitted = false;
    for (const auto& entry : bs.server->hosts) {
      const model::NamespacedHost sh = model::parseNamespacedHost(entry, gateway_ns);
      if (sh.namespace_ != "*" && sh.namespace_ != service->namespace_) continue;
      admitted = admitted || model::hostSubsetOf(service->host, toLower(sh.host));
    }
    if (!admitted) continue;
    std::vector<std::string> subsets{""};
    if (const auto rule = clusters_.rules().lookup(service->host, service->namespace_)) {
      for (const model::Subset* subset : rule->subsets) {
        if (subset->name && !subset->name->empty()) subsets.push_back(*subset->name);
      }
    }
    for (const auto& port : service->ports) {
      for (const auto& subset : subsets) {
        TcpRoute r;
        TcpRouteMatch match;
        match.sni_hosts.push_back(toLower("outbound_." + std::to_string(port.number) + "_." +
                                          subset + "_." + service->host));
        r.matches.push_back(std::move(match));
        WeightedCluster wc;
        wc.cluster = clusters_.resolveSniDnat(*service, port.number, subset);
        wc.weight = 1;
        r.clusters.push_back(std::move(wc));
        r.total_weight = 1;
        r.origin = origin;
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

std::optional<ServerTls> GatewayTranslator::serverTls(const model::Gateway& gateway,
                                                      const std::string& gateway_name,
                                                      const model::Server& server, size_t index) {
  const std::string path = "spec.servers[" + std::to_string(index) + "].tls";
  const std::string port = std::to_string(*server.port->number);
  // HTTPS, or TLS terminated before TCP proxying.
  const std::string kind = upper(server.port->protocol.value_or("HTTPS"));
  if (!server.tls) {
    sink_.report(kNotServed, gateway.meta, server.line, path,
                 kind + " server on port " + port + " has no tls block; skipped");
    return std::nullopt;
  }
  const model::ServerTLSSettings& tls = *server.tls;
  // A tls block without a mode is PASSTHROUGH (Istio's enum default).
  const std::string mode = upper(tls.mode.value_or("PASSTHROUGH"));
  ServerTls out;
  if (mode == "SIMPLE") {
    out.mode = ServerTls::Mode::kSimple;
  } else if (mode == "MUTUAL") {
    out.mode = ServerTls::Mode::kMutual;
  } else if (mode == "OPTIONAL_MUTUAL") {
    out.mode = ServerTls::Mode::kOptionalMutual;
  } else if (mode == "ISTIO_MUTUAL") {
    out.mode = ServerTls::Mode::kIstioMutual;
  } else {
    sink_.report(kNotServed, gateway.meta, tls.line, path + ".mode",
                 kind + " server on port " + port + " with tls.mode " + mode +
                     " is not served yet; skipped");
    return std::nullopt;
  }
  out.origin = gateway_name + " servers[" + std::to_string(index) + "]";
  const std::string& gateway_ns = namespaceOf(gateway.meta);
  for (const auto& entry : server.hosts) {
    std::string host = toLower(model::parseNamespacedHost(entry, gateway_ns).host);
    if (std::find(out.sni_hosts.begin(), out.sni_hosts.end(), host) == out.sni_hosts.end()) {
      out.sni_hosts.push_back(std::move(host));
    }
  }

  // Istio does not serve a server whose credential is missing; neither do we.
  auto missing = [&](const std::string& field, const std::string& why) {
    std::string message =
        kind + " server on port " + port + " (" + out.origin + ") is not served: " + why;
    sink_.report(kMissingCredential, gateway.meta, tls.line, path + "." + field, message);
    return std::nullopt;
  };
  // The namespaces a credential exists in instead, for the warning.
  auto hint = [&](const std::string& name) {
    std::string out_hint;
    for (const auto& ns : credentials_.elsewhere(name)) {
      out_hint += (out_hint.empty() ? "; a Secret of that name exists in " : ", ") + ns;
    }
    if (!out_hint.empty()) {
      out_hint += ", but the gateway reads credentials from its own namespace " +
                  credentials_.proxyNamespace() + ", as Istio does";
    }
    return out_hint;
  };

  auto version = [&](const std::optional<std::string>& value, const char* field,
                     TlsVersion fallback) {
    if (!isSet(value)) return fallback;
    if (auto v = tlsVersion(upper(*value))) return *v;
    sink_.report(
        kNotServed, gateway.meta, tls.line, path + "." + field,
        std::string(field) + " \"" + *value + "\" is not a TLS version; using the default");
    return fallback;
  };
  out.min_version = version(tls.min_protocol_version, "minProtocolVersion", TlsVersion::kTls12);
  out.max_version = version(tls.max_protocol_version, "maxProtocolVersion", TlsVersion::kAuto);
  out.cipher_suites = tls.cipher_suites;
  out.subject_alt_names = tls.subject_alt_names;
  out.verify_spki = tls.verify_certificate_spki;
  out.verify_hash = tls.verify_certificate_hash;
  if (!tls.ecdh_curves.empty()) {
    sink_.report(kNotServed, gateway.meta, tls.line, path + ".ecdhCurves",
                 "tls.ecdhCurves is parsed but not enforced by this proxy yet");
  }
  // ISTIO_MUTUAL names no certificate (validation refuses any): the gateway presents its workload
  // certificate and trusts the mesh roots, both filled in by the proxy from its mesh identity.
  if (out.mode == ServerTls::Mode::kIstioMutual) return out;

  // Certificate sources, one of them (validation rejects several): a credential wins over files.
  std::vector<std::string> credentials = tls.credential_names;
  std::string credential_field = "credentialNames";
  if (credentials.empty() && isSet(tls.credential_name)) {
    credentials = {*tls.credential_name};
    credential_field = "credentialName";
  }
  if (credentials.size() > 2) {
    sink_.report(kNotServed, gateway.meta, tls.line, path + ".credentialNames",
                 "only the first 2 credentialNames are served (one RSA and one ECDSA "
                 "certificate)");
    credentials.resize(2);
  }
  if (!credentials.empty()) {
    for (const auto& name : credentials) {
      std::string why;
      auto cert = credentials_.certificate(name, why);
      if (!cert) return missing(credential_field, why + hint(name));
      out.certificates.push_back(std::move(*cert));
    }
  } else if (!tls.tls_certificates.empty()) {
    for (size_t i = 0; i < tls.tls_certificates.size(); ++i) {
      const auto& c = tls.tls_certificates[i];
      if (!isSet(c.server_certificate) || !isSet(c.private_key)) {
        return missing(
            "tlsCertificates[" + std::to_string(i) + "]",
            "tlsCertificates[" + std::to_string(i) + "] needs serverCertificate and privateKey");
      }
      out.certificates.push_back(
          TlsCertificate{pemFile(*c.server_certificate), pemFile(*c.private_key)});
    }
  } else if (isSet(tls.server_certificate) && isSet(tls.private_key)) {
    out.certificates.push_back(
        TlsCertificate{pemFile(*tls.server_certificate), pemFile(*tls.private_key)});
  } else {
    return missing("serverCertificate",
                   "it has no certificate (credentialName, credentialNames, tlsCertificates, or "
                   "serverCertificate and privateKey)");
  }

  if (out.mode != ServerTls::Mode::kSimple) {
    // The client CA: caCertCredentialName, else the credential's CA (Istio's "<name>-cacert"
    // first), else the caCertificates file.
    std::string why;
    std::optional<PemSource> ca;
    if (isSet(tls.ca_cert_credential_name)) {
      ca = credentials_.ca(*tls.ca_cert_credential_name, out.crl, why);
      if (!ca) return missing("caCertCredentialName", why);
    } else if (!credentials.empty()) {
      ca = credentials_.caFor(credentials.front(), out.crl, why);
      if (!ca) return missing(credential_field, mode + " TLS needs a client CA: " + why);
    } else if (isSet(tls.ca_certificates)) {
      ca = pemFile(*tls.ca_certificates);
    } else {
      for (const auto& c : tls.tls_certificates) {
        if (isSet(c.ca_certificates)) {
          ca = pemFile(*c.ca_certificates);
          break;
        }
      }
      if (!ca) return missing("caCertificates", mode + " TLS without a client CA bundle");
    }
    out.client_ca = std::move(*ca);
    // A file CRL; a credential's CRL came with its CA above.
    if (isSet(tls.ca_crl) && out.crl.empty()) out.crl = pemFile(*tls.ca_crl);
  }
  return out;
}

std::vector<Listener> GatewayTranslator::build() {
  std::vector<const model::Gateway*> gateways;
  for (const auto& gw : config_.gateways) {
    if (gw.spec.selector.empty() || model::selectorMatches(gw.spec.selector, proxy_.labels)) {
      gateways.push_back(&gw);
    }
  }
  std::stable_sort(gateways.begin(), gateways.end(),
                   [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });

  // Servers grouped by (port, bind): each group is one listener with one route table.
  std::map<std::pair<uint16_t, std::string>, std::vector<BoundServer>> groups;
  std::map<std::pair<uint16_t, std::string>, std::string> protocols;  // HTTP, HTTPS, TCP, TLS
  std::map<std::pair<uint16_t, std::string>, std::string> listener_protocols;
  std::map<std::pair<uint16_t, std::string>, std::vector<ServerTls>> tls;
  for (const auto* gw : gateways) {
    const std::string name = namespaceOf(gw->meta) + "/" + gw->meta.name;
    for (size_t i = 0; i < gw->spec.servers.size(); ++i) {
      const model::Server& server = gw->spec.servers[i];
      const std::string path = "spec.servers[" + std::to_string(i) + "]";
      if (!server.port || !server.port->number || *server.port->number <= 0 ||
          *server.port->number > 65535) {
        continue;  // schema validation reports it
      }
      const auto port = static_cast<uint16_t>(*server.port->number);
      const std::string protocol = upper(server.port->protocol.value_or(""));
      // HTTPS and TLS servers whose tls.mode is PASSTHROUGH (the default of a tls block) are
      // not terminated: their connections are routed by SNI with VirtualService tls routes.
      const std::string tls_mode =
          server.tls ? upper(server.tls->mode.value_or("PASSTHROUGH")) : std::string();
      // AUTO_PASSTHROUGH servers too, by Istio's SNI naming the destination cluster.
      const bool auto_passthrough =
          (protocol == "HTTPS" || protocol == "TLS") && tls_mode == "AUTO_PASSTHROUGH";
      const bool passthrough =
          ((protocol == "HTTPS" || protocol == "TLS") && tls_mode == "PASSTHROUGH") ||
          auto_passthrough;
      // TLS servers that terminate (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL): the
      // plaintext inside is proxied as TCP with the VirtualServices' tcp routes, as Istio does.
      const bool terminated_tcp =
          protocol == "TLS" && (tls_mode == "SIMPLE" || tls_mode == "MUTUAL" ||
                                tls_mode == "OPTIONAL_MUTUAL" || tls_mode == "ISTIO_MUTUAL");
      if (protocol == "TLS" && !passthrough && !terminated_tcp) {
        sink_.report(kNotServed, gw->meta, server.port->line, path + ".port.protocol",
                     "TLS server on port " + std::to_string(port) + " with tls.mode " +
                         (tls_mode.empty() ? std::string("(no tls block)") : tls_mode) +
                         " is not served yet (PASSTHROUGH, AUTO_PASSTHROUGH, SIMPLE, MUTUAL, "
                         "OPTIONAL_MUTUAL and ISTIO_MUTUAL are); skipped");
        continue;
      }
      const bool https = protocol == "HTTPS" && !passthrough;
      // What the listener serves: HTTP, HTTPS (terminated), TCP (opaque) or TLS (passthrough).
      const std::string category = passthrough             ? "TLS"
                                   : terminated_tcp        ? "TLS-terminated TCP"
                                   : isOpaqueTcp(protocol) ? "TCP"
                                   : https                 ? "HTTPS"
                                                           : "HTTP";
      if (!isPlainHttp(protocol) && !https && !passthrough && !terminated_tcp &&
          !isOpaqueTcp(protocol)) {
        sink_.report(
            kNotServed, gw->meta, server.port->line, path + ".port.protocol",
            protocol + " server on port " + std::to_string(port) + " is not served yet; skipped");
        continue;
      }
      const std::string bind = server.bind.value_or(std::string(kDefaultBind));
      if (bind.starts_with("unix://")) {
        sink_.report(kNotServed, gw->meta, server.line, path + ".bind",
                     "unix domain socket bind " + bind + " is not served yet; skipped");
        continue;
      }
      auto key = std::make_pair(port, bind);
      // The first server names the listener's protocol. A port is plaintext or TLS, never both:
      // Istio keeps the first server and skips the ones that conflict with it.
      const auto [first, claimed] = protocols.try_emplace(key, category);
      if (claimed) {
        listener_protocols[key] = category == "HTTP"                 ? protocol
                                  : category == "TLS-terminated TCP" ? std::string("TCP")
                                                                     : category;
      }
      if (!claimed && first->second != category) {
        sink_.report(kNotServed, gw->meta, server.port->line, path + ".port.protocol",
                     protocol + " server on port " + std::to_string(port) + " conflicts with the " +
                         first->second + " server already on that port; skipped");
        continue;
      }
      if (https || terminated_tcp) {
        std::optional<ServerTls> server_tls = serverTls(*gw, name, server, i);
        if (!server_tls) continue;  // not served: its hosts get no virtual host either
        tls[key].push_back(std::move(*server_tls));
      }
      groups[key].push_back(BoundServer{gw, &server, name, auto_passthrough, i});
    }
  }

  std::vector<Listener> out;
  for (const auto& [key, servers] : groups) {
    Listener l;
    l.port = key.first;
    l.bind_address = key.second;
    l.name = l.bind_address + "_" + std::to_string(l.port);
    l.protocol = listener_protocols[key];
    // The runtime terminates TLS on an "HTTPS" listener (and says https in x-forwarded-proto);
    // such a listener always has at least one ServerTls, its servers having been kept only then.
    if (auto it = tls.find(key); it != tls.end()) l.tls = std::move(it->second);
    if (l.isTcp()) {
      l.tcp_routes = tcpRoutes(servers, l.port, l.protocol == "TLS");
      // The HTTP table stays empty: admin views and the codec expect one.
      l.routes = std::make_shared<const RouteTable>();
    } else {
      l.routes = std::make_shared<const RouteTable>(routeTable(servers, l.port));
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace halyard::translate
