#include "translate/sidecar_translator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

constexpr std::string_view kMesh = "mesh";
constexpr std::string_view kAnyAddress = "0.0.0.0";
constexpr std::string_view kLoopback = "127.0.0.1";

enum class Protocol { kHttp, kOther, kUnknown };

Protocol classify(std::string_view name) {
  const std::string p = toLower(name);
  if (p == "http" || p == "http2" || p == "http_proxy" || p == "grpc" || p == "grpc-web" ||
      p == "h2c" || p == "kubernetes.io/h2c" || p == "kubernetes.io/ws") {
    return Protocol::kHttp;
  }
  if (p == "https" || p == "tls" || p == "tcp" || p == "udp" || p == "mongo" || p == "redis" ||
      p == "mysql" || p == "thrift" || p == "sctp" || p == "kubernetes.io/wss") {
    return Protocol::kOther;
  }
  return Protocol::kUnknown;
}

// The declared protocol of a service port (istio-semantics.md §0.2): a Kubernetes port by its
// appProtocol, else by its name up to the first "-"; a ServiceEntry port by its protocol.
// nullopt: UDP or SCTP.
std::optional<Protocol> declaredProtocol(const RegistryService& service, const RegistryPort& port) {
  Protocol protocol = Protocol::kUnknown;
  if (service.kube) {
    for (const auto& p : service.kube->ports) {
      if (p.port != port.number) continue;
      if (p.protocol == "UDP" || p.protocol == "SCTP") return std::nullopt;
      protocol = classify(p.app_protocol);
      if (protocol == Protocol::kUnknown) protocol = classify(p.name.substr(0, p.name.find('-')));
    }
  } else {
    protocol = classify(port.protocol);
  }
  return protocol;
}

bool assumedTcp(uint16_t port) {
  return port == 25 || port == 53 || port == 3306 || port == 27017;
}

// Whether a sidecar routes this service port as HTTP. An unknown protocol is sniffed by Istio;
// here it is taken as HTTP, except on the ports Istio assumes to be TCP, and a TLS ClientHello
// or other bytes that are not HTTP are told apart where a connection starts (sniffedPort).
bool routesAsHttp(const RegistryService& service, const RegistryPort& port) {
  const std::optional<Protocol> protocol = declaredProtocol(service, port);
  if (!protocol) return false;
  if (*protocol != Protocol::kUnknown) return *protocol == Protocol::kHttp;
  return !assumedTcp(port.number);
}

// A port of undeclared protocol taken as HTTP: a connection to it that starts with a TLS
// ClientHello, or with bytes that are not HTTP, is proxied as TCP instead, as Istio's sniffing
// would.
bool sniffedPort(const RegistryService& service, const RegistryPort& port) {
  const std::optional<Protocol> protocol = declaredProtocol(service, port);
  return protocol && *protocol == Protocol::kUnknown && !assumedTcp(port.number);
}

// A port that is not HTTP and carries TCP (not UDP or SCTP): HTTPS and TLS included, which
// Istio routes as TCP when no tls route applies.
bool isTcp(const RegistryService& service, const RegistryPort& port) {
  if (service.kube) {
    for (const auto& p : service.kube->ports) {
      if (p.port == port.number && (p.protocol == "UDP" || p.protocol == "SCTP")) return false;
    }
    return true;
  }
  const std::string p = toLower(port.protocol);
  return p != "udp" && p != "sctp";
}

// Whether the service port that delivers to `app_port` (targetPort, else the port itself; a
// service with one port delivers there whatever it says, the sidecar being told the app port)
// is HTTP; true when none does.
bool appPortIsHttp(const RegistryService& service, uint16_t app_port) {
  for (const auto& p : service.ports) {
    const uint16_t target = p.target_port != 0 ? p.target_port : p.number;
    if (target == app_port) return routesAsHttp(service, p);
  }
  if (service.ports.size() == 1) return routesAsHttp(service, service.ports.front());
  return true;
}

// Whether the service port that delivers to `app_port` is HTTP of undeclared protocol.
bool appPortSniffed(const RegistryService& service, uint16_t app_port) {
  for (const auto& p : service.ports) {
    const uint16_t target = p.target_port != 0 ? p.target_port : p.number;
    if (target == app_port) return sniffedPort(service, p);
  }
  if (service.ports.size() == 1) return sniffedPort(service, service.ports.front());
  return false;
}

// The Host values a sidecar accepts for a service on `port` (istio-semantics.md §0.2).
std::vector<std::string> domainsOf(const RegistryService& service, uint16_t port,
                                   const std::string& proxy_namespace) {
  std::vector<std::string> names{service.host};
  if (service.kube) {
    const std::string short_name = toLower(service.name);
    const std::string with_namespace = short_name + "." + toLower(service.namespace_);
    names.push_back(with_namespace + ".svc");
    names.push_back(with_namespace);
    if (service.namespace_ == proxy_namespace) names.push_back(short_name);
  }
  std::vector<std::string> out;
  for (const auto& n : names) {
    out.push_back(n);
    out.push_back(n + ":" + std::to_string(port));
  }
  return out;
}

std::optional<Listener> inbound(const ServiceRegistry& registry, const ProxyIdentity& proxy,
                                std::unordered_map<std::string, Cluster>& clusters,
                                std::vector<std::string>& warnings) {
  if (proxy.app_port == 0) return std::nullopt;
  const std::string app_port = std::to_string(proxy.app_port);

  Cluster c;
  c.name = "inbound|" + app_port + "||";
  c.port = proxy.app_port;
  // HTTP/2 (gRPC) to the app when the calling sidecar sent it: the caller chose by the port.
  c.use_client_protocol = true;
  c.lb = LbPolicy::kRoundRobin;
  const RegistryService* selecting = registry.selecting(proxy.labels, proxy.namespace_);
  if (const RegistryService* s = selecting) {
    c.service_host = s->host;
    c.service_name = s->name;
    c.service_namespace = s->namespace_;
  }
  Endpoint e;
  e.address = std::string(kLoopback);
  e.port = proxy.app_port;
  e.labels = proxy.labels;
  e.workload = proxy.name;
  e.namespace_ = proxy.namespace_;
  nameEndpoint(e);
  c.endpoints.push_back(std::move(e));

  ForwardAction forward;
  forward.clusters.push_back(WeightedCluster{c.name, 1, {}, {}, std::nullopt});
  forward.total_weight = 1;
  Route route;
  route.name = "default";
  route.origin = "inbound to " + std::string(kLoopback) + ":" + app_port;
  route.action = std::move(forward);
  std::string name = c.name;
  clusters.insert_or_assign(std::move(name), std::move(c));

  VirtualHost v;
  v.name = "inbound|" + app_port;
  v.domains = {"*"};
  v.routes.push_back(std::move(route));
  auto table = std::make_shared<RouteTable>();
  table->virtual_hosts.push_back(std::move(v));

  Listener l;
  l.name = "virtualInbound";
  l.bind_address = proxy.address;
  l.port = proxy.inbound_port;
  l.protocol = "HTTP";
  l.kind = ListenerKind::kInbound;
  l.routes = std::move(table);
  // A service port that sends its traffic to the app port as TCP (port name tcp-..., mongo-...,
  // appProtocol tcp; Istio's sniffing is not done): the inbound listener proxies raw TCP, after
  // the mutual TLS PeerAuthentication asks for, straight to the app.
  // An app port of undeclared protocol stays HTTP, with the same TCP route for a connection
  // whose first bytes (inside the mutual TLS) are not HTTP: the caller's own TLS, or another
  // protocol.
  const bool tcp_app = selecting && !appPortIsHttp(*selecting, proxy.app_port);
  if (tcp_app || (selecting && appPortSniffed(*selecting, proxy.app_port))) {
    if (tcp_app) l.protocol = "TCP";
    TcpRoute tcp;
    WeightedCluster to_app;
    to_app.cluster = "inbound|" + app_port + "||";
    to_app.weight = 1;
    tcp.clusters.push_back(std::move(to_app));
    tcp.total_weight = 1;
    tcp.origin = "inbound TCP to " + std::string(kLoopback) + ":" + app_port;
    l.tcp_routes.push_back(std::move(tcp));
  }
  // PeerAuthentication names the app's port. The sidecar's workload carries the tlsMode label
  // its registered WorkloadEntry has, so a selector sees the same labels here as at the
  // endpoints other proxies reach it by.
  std::map<std::string, std::string> labels = proxy.labels;
  labels.emplace(kTlsModeLabel, kIstioTlsMode);
  l.mtls = registry.peerAuthentication().effective(proxy.namespace_, labels, proxy.app_port);
  l.authz = registry.authorization(proxy.namespace_, proxy.labels, warnings, l.isTcp());
  if (!l.isTcp())
    l.jwt_rules = registry.requestAuthentication(proxy.namespace_, proxy.labels, warnings);
  l.path_normalization = registry.mesh().path_normalization;
  l.workload_port = proxy.app_port;
  return l;
}

Listener outboundProxy(const ProxyIdentity& proxy) {
  Listener l;
  l.name = "virtualOutbound";
  l.bind_address = std::string(kLoopback);
  l.port = proxy.outbound_port;
  l.protocol = "HTTP";
  l.kind = ListenerKind::kOutboundProxy;
  l.routes = std::make_shared<const RouteTable>();
  return l;
}

}  // namespace

SidecarTranslator::SidecarTranslator(const ServiceRegistry& registry,
                                     const std::vector<PreparedVirtualService>& virtual_services,
                                     const ProxyIdentity& proxy, ClusterBuilder& clusters,
                                     DiagnosticSink& sink)
    : registry_(registry),
      proxy_(proxy),
      clusters_(clusters),
      routes_(clusters, sink),
      tcp_routes_(clusters, sink) {
  std::vector<std::pair<int, const PreparedVirtualService*>> ranked;
  for (const auto& vs : virtual_services) {
    if (std::find(vs.gateways.begin(), vs.gateways.end(), kMesh) == vs.gateways.end()) continue;
    const int rank = visibilityRank(vs, proxy.namespace_);
    if (rank >= 0) ranked.emplace_back(rank, &vs);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, vs] : ranked) {
    const size_t index = mesh_.size();
    mesh_.push_back(vs);
    for (const auto& h : vs->hosts) {
      if (h.starts_with("*")) {
        wildcard_hosts_.emplace_back(h, index);
      } else {
        exact_hosts_[h].push_back(index);
      }
    }
  }
}

const std::vector<Route>& SidecarTranslator::routesOf(size_t index, uint16_t port) {
  auto it = built_.find({index, port});
  if (it == built_.end()) {
    const RouteScope scope{port, std::string(kMesh), &proxy_};
    it = built_.emplace(std::make_pair(index, port), routes_.build(*mesh_[index], scope)).first;
  }
  return it->second;
}

std::vector<size_t> SidecarTranslator::candidatesFor(const std::string& service_host) const {
  std::vector<size_t> candidates;
  if (auto it = exact_hosts_.find(service_host); it != exact_hosts_.end()) {
    candidates = it->second;
  }
  for (const auto& [host, index] : wildcard_hosts_) {
    if (model::hostSubsetOf(service_host, host)) candidates.push_back(index);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  return candidates;
}

std::vector<std::string> SidecarTranslator::dialedAddresses(const RegistryService& service,
                                                            uint16_t port) const {
  // What Istio's original destination would be for an app that dialled the host: the VIP a
  // name resolves to (a Service's clusterIP, a ServiceEntry's addresses), or for a host without
  // one (a headless Service, a ServiceEntry without addresses) the endpoint the app reaches
  // directly. Host names (DNS endpoints) and CIDR blocks are no single address; they are left out.
  auto isAddress = [](const std::string& text) {
    unsigned char bytes[16];
    return inet_pton(AF_INET, text.c_str(), bytes) == 1 ||
           inet_pton(AF_INET6, text.c_str(), bytes) == 1;
  };
  std::vector<std::string> out;
  if (service.kube && isAddress(service.kube->cluster_ip)) out.push_back(service.kube->cluster_ip);
  if (service.entry) {
    for (const auto& a : service.entry->spec.addresses) {
      if (isAddress(a)) out.push_back(a);
    }
  }
  if (!out.empty()) return out;
  const RegistryPort* registry_port = service.port(port);
  if (!registry_port) return out;
  DiagnosticSink ignored;  // the cluster built for this port reports the same problems
  for (const Endpoint& e : registry_.endpoints(service, *registry_port, ignored)) {
    if (isAddress(e.address) && std::find(out.begin(), out.end(), e.address) == out.end()) {
      out.push_back(e.address);
    }
  }
  return out;
}

Listener SidecarTranslator::outboundTcpPort(uint16_t port,
                                            const std::vector<const RegistryService*>& services) {
  Listener l;
  l.name = std::string(kAnyAddress) + "_" + std::to_string(port) + "_tcp";
  l.bind_address = std::string(kAnyAddress);
  l.port = port;
  l.protocol = "TCP";
  l.kind = ListenerKind::kOutboundPort;
  l.routes = std::make_shared<const RouteTable>();
  const RouteScope scope{port, std::string(kMesh), &proxy_};
  for (const RegistryService* service : services) {
    std::vector<TcpRoute> routes;
    bool tcp_routes = false;
    for (size_t index : candidatesFor(service->host)) {
      // A ClientHello's SNI picks among the tls routes first; other bytes take the tcp routes.
      routes = tcp_routes_.tls(*mesh_[index], scope, {});
      std::vector<TcpRoute> tcp = tcp_routes_.tcp(*mesh_[index], scope);
      tcp_routes = !tcp.empty();
      for (auto& r : tcp) routes.push_back(std::move(r));
      if (!routes.empty()) break;  // one VirtualService per host, as for HTTP
    }
    // Without tcp routes, what no tls route takes goes to the service itself (Istio's default
    // filter chain: opaque TCP, in mesh mutual TLS to sidecars).
    if (!tcp_routes) {
      model::Destination destination;
      destination.host = service->host;
      const model::ObjectMeta& meta = service->kube ? service->kube->meta : service->entry->meta;
      TcpRoute r;
      WeightedCluster wc;
      wc.cluster = clusters_.resolve(destination, DestinationRef{&meta, "spec.ports"},
                                     service->namespace_, port);
      wc.weight = 1;
      r.clusters.push_back(std::move(wc));
      r.total_weight = 1;
      r.origin = "default route of " + service->host + ":" + std::to_string(port);
      routes.push_back(std::move(r));
    }
    const std::vector<std::string> domains = domainsOf(*service, port, proxy_.namespace_);
    const std::vector<std::string> addresses = dialedAddresses(*service, port);
    for (auto& r : routes) {
      r.hosts = domains;
      // Only a route with destinationSubnets looks at them.
      for (const auto& m : r.matches) {
        if (!m.destination_subnets.empty()) {
          r.host_addresses = addresses;
          break;
        }
      }
      l.tcp_routes.push_back(std::move(r));
    }
  }
  return l;
}

std::vector<Route> SidecarTranslator::routesFor(const RegistryService& service, uint16_t port) {
  // Every VirtualService naming the host, in selection order; the first that yields a route on
  // this port claims the host (Istio keeps one VirtualService per host on a sidecar).
  for (size_t index : candidatesFor(service.host)) {
    if (const auto& routes = routesOf(index, port); !routes.empty()) return routes;
  }

  model::Destination destination;
  destination.host = service.host;
  const model::ObjectMeta& meta = service.kube ? service.kube->meta : service.entry->meta;
  const std::string cluster =
      clusters_.resolve(destination, DestinationRef{&meta, "spec.ports"}, service.namespace_, port);
  return {routes_.defaultRoute(cluster,
                               "default route of " + service.host + ":" + std::to_string(port))};
}

std::map<uint16_t, std::vector<SidecarTranslator::OrphanHost>> SidecarTranslator::orphanHosts(
    const std::vector<const RegistryService*>& visible) const {
  std::map<uint16_t, std::vector<OrphanHost>> out;
  for (size_t index = 0; index < mesh_.size(); ++index) {
    const PreparedVirtualService& vs = *mesh_[index];
    std::vector<std::string> orphans;
    std::set<uint16_t> ports;
    auto addPorts = [&](const RegistryService& service) {
      for (const auto& p : service.ports) {
        if (routesAsHttp(service, p)) ports.insert(p.number);
      }
    };
    for (const auto& h : vs.hosts) {
      bool named = false;
      if (h.starts_with("*")) {
        for (const RegistryService* service : visible) {
          if (!model::hostSubsetOf(service->host, h)) continue;
          addPorts(*service);
          named = true;
        }
      } else if (const RegistryService* service =
                     registry_.find(h, vs.namespace_, proxy_.namespace_)) {
        addPorts(*service);
        named = true;
      }
      if (!named) orphans.push_back(h);
    }
    if (orphans.empty()) continue;
    // Istio puts them on the ports of the VirtualService's services, or on port 80.
    if (ports.empty()) ports.insert(80);
    for (uint16_t port : ports) {
      for (const auto& h : orphans) out[port].push_back(OrphanHost{h, index});
    }
  }
  return out;
}

Listener SidecarTranslator::outboundPort(uint16_t port,
                                         const std::vector<const RegistryService*>& services,
                                         const std::vector<OrphanHost>& orphans) {
  RouteTable table;
  std::set<std::string> taken;  // a domain belongs to the first virtual host that has it
  auto add = [&](const std::string& host, std::vector<std::string> domains,
                 std::vector<Route> routes) {
    VirtualHost v;
    v.name = host + ":" + std::to_string(port);
    for (auto& d : domains) {
      if (taken.insert(d).second) v.domains.push_back(std::move(d));
    }
    if (v.domains.empty()) return;
    v.routes = std::move(routes);
    table.virtual_hosts.push_back(std::move(v));
  };
  // VirtualService hosts first, as Istio orders a sidecar's virtual hosts.
  for (const auto& o : orphans) {
    const auto& routes = routesOf(o.vs_index, port);
    if (routes.empty()) continue;
    add(o.host, {o.host, o.host + ":" + std::to_string(port)}, routes);
  }
  for (const RegistryService* service : services) {
    add(service->host, domainsOf(*service, port, proxy_.namespace_), routesFor(*service, port));
  }
  Listener l;
  l.name = std::string(kAnyAddress) + "_" + std::to_string(port);
  l.bind_address = std::string(kAnyAddress);
  l.port = port;
  l.protocol = "HTTP";
  l.kind = ListenerKind::kOutboundPort;
  l.routes = std::make_shared<const RouteTable>(std::move(table));
  return l;
}

std::vector<Listener> SidecarTranslator::ownListeners(
    const ServiceRegistry& registry, const ProxyIdentity& proxy,
    std::unordered_map<std::string, Cluster>& clusters, std::vector<std::string>& warnings) {
  std::vector<Listener> out;
  if (auto l = inbound(registry, proxy, clusters, warnings)) {
    if (l->isTcp() || !l->tcp_routes.empty()) l->peer_workloads = registry.peerWorkloads();
    // It sniffs the first bytes: TLS or plaintext (PERMISSIVE), and HTTP or not (an app port of
    // undeclared protocol).
    l->protocol_detection_timeout = registry.mesh().protocol_detection_timeout;
    out.push_back(std::move(*l));
  }
  out.push_back(outboundProxy(proxy));
  out.back().path_normalization = registry.mesh().path_normalization;
  out.back().protocol_detection_timeout = registry.mesh().protocol_detection_timeout;
  return out;
}

std::vector<Listener> SidecarTranslator::build() {
  std::unordered_map<std::string, Cluster> own_clusters;
  std::vector<Listener> out = ownListeners(registry_, proxy_, own_clusters, warnings_);
  for (auto& [name, c] : own_clusters) clusters_.add(std::move(c));
  for (auto& l : outboundListeners()) out.push_back(std::move(l));
  return out;
}

std::vector<Listener> SidecarTranslator::outboundListeners() {
  std::vector<Listener> out;
  // Services by port, each list sorted by host (visibleIn's order).
  const std::vector<const RegistryService*> visible = registry_.visibleIn(proxy_.namespace_);
  std::map<uint16_t, std::vector<const RegistryService*>> by_port;
  std::map<uint16_t, std::vector<const RegistryService*>> tcp_by_port;
  for (const RegistryService* service : visible) {
    for (const auto& p : service->ports) {
      if (routesAsHttp(*service, p)) {
        by_port[p.number].push_back(service);
        if (sniffedPort(*service, p)) tcp_by_port[p.number].push_back(service);
      } else if (isTcp(*service, p)) {
        tcp_by_port[p.number].push_back(service);
      }
    }
  }
  const std::map<uint16_t, std::vector<OrphanHost>> orphans = orphanHosts(visible);
  for (const auto& [port, hosts] : orphans) by_port.try_emplace(port);
  static const std::vector<OrphanHost> kNone;
  for (const auto& [port, services] : by_port) {
    auto it = orphans.find(port);
    out.push_back(outboundPort(port, services, it == orphans.end() ? kNone : it->second));
  }
  for (const auto& [port, services] : tcp_by_port) out.push_back(outboundTcpPort(port, services));
  return out;
}

}  // namespace halyard::translate
