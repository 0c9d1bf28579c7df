// The compiled, immutable configuration a proxy serves: listeners with their route tables,
// clusters with their endpoints. Built once per config change on the main thread (by
// translate::buildSnapshot, from the config model and the registry) and shared read-only by
// every worker through shared_ptr<const Snapshot>. Nothing here refers to YAML or to the
// config model: regexes are compiled, durations are chrono values, weights are normalised.
//
// This header is the contract between src/translate (which fills it), src/proxy/router (which
// matches requests against it) and the connection manager (which executes the chosen action).
#pragma once

#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "translate/authz.h"
#include "translate/jwt_rule.h"
#include "translate/tracing.h"

namespace halyard::translate {

using Millis = std::chrono::milliseconds;

// ---- matching ---------------------------------------------------------------------------

// Istio's StringMatch compiled. kPresent is "header/param present" ({} or regex "*").
struct StringMatcher {
  enum class Kind { kExact, kPrefix, kRegex, kPresent };
  Kind kind = Kind::kPrefix;
  std::string value;                      // exact/prefix text (lowercased when ignore_case)
  std::shared_ptr<const re2::RE2> regex;  // kRegex: compiled once, full-match semantics
  bool ignore_case = false;               // uri exact/prefix with ignoreUriCase
};

struct HeaderMatcher {
  std::string name;  // lowercase
  StringMatcher match;
  bool invert = false;  // from withoutHeaders
};

struct QueryParamMatcher {
  std::string name;
  StringMatcher match;
};

// One HTTPMatchRequest. All set conditions are ANDed. Config-time selectors (port, gateways,
// sourceLabels, sourceNamespace) are resolved by translate and never appear here.
struct RouteMatch {
  std::optional<StringMatcher> uri;  // absent: any path (Istio's implicit prefix "/")
  std::optional<StringMatcher> scheme;
  std::optional<StringMatcher> method;
  std::optional<StringMatcher> authority;
  std::vector<HeaderMatcher> headers;
  std::vector<QueryParamMatcher> query_params;
};

// ---- actions ----------------------------------------------------------------------------

struct HeaderOps {
  std::vector<std::pair<std::string, std::string>> set;  // lowercase names; overwrite
  std::vector<std::pair<std::string, std::string>> add;  // append
  std::vector<std::string> remove;                       // lowercase names
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

struct WeightedCluster {
  std::string
      cluster;  // key into Snapshot::clusters, "outbound|80|v1|reviews.default.svc.cluster.local"
  uint32_t weight = 0;        // relative; zero-weight destinations are already removed
  HeaderOps request_headers;  // destination-level, applied after the route-level ones
  HeaderOps response_headers;
  std::optional<std::string> authority_rewrite;  // destination-level host rewrite
};

enum RetryOn : uint32_t {
  kRetry5xx = 1u << 0,
  kRetryGatewayError = 1u << 1,
  kRetryReset = 1u << 2,
  kRetryResetBeforeRequest = 1u << 3,
  kRetryConnectFailure = 1u << 4,
  kRetryRetriable4xx = 1u << 5,
  kRetryRefusedStream = 1u << 6,
  kRetryRetriableStatusCodes = 1u << 7,
  kRetryRetriableHeaders = 1u << 8,
  kRetryEnvoyRateLimited = 1u << 9,
  kRetryHttp3PostConnectFailure = 1u << 10,
  kRetryCancelled = 1u << 11,
  kRetryDeadlineExceeded = 1u << 12,
  kRetryInternal = 1u << 13,
  kRetryResourceExhausted = 1u << 14,
  kRetryUnavailable = 1u << 15,
};

struct RetryPolicy {
  uint32_t attempts = 0;  // retries after the first try; 0 = no retries
  uint32_t retry_on = 0;  // RetryOn bits
  std::vector<uint16_t> retriable_status_codes;
  std::optional<Millis> per_try_timeout;
  Millis backoff_base{25};        // Envoy default; max interval is 10x
  bool retry_other_hosts = true;  // Istio's "previous hosts" predicate
};

struct UriRewrite {
  // Exactly one of the two is set.
  std::optional<std::string> prefix_replacement;  // Envoy prefix semantics against the match
  std::shared_ptr<const re2::RE2> regex;          // uriRegexRewrite.match
  std::string regex_substitution;                 // uriRegexRewrite.rewrite (\1 references)
};

struct FaultPolicy {
  struct Delay {
    Millis duration{0};
    uint32_t per_million = 0;  // percentage * 10^4
  };
  struct Abort {
    uint16_t http_status = 0;  // 0 when grpc_status is used
    std::optional<std::string> grpc_status;
    uint32_t per_million = 0;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
};

struct MirrorPolicy {
  std::string cluster;
  uint32_t per_million = 1'000'000;  // default 100 %
};

struct CorsPolicy {
  std::vector<StringMatcher> allow_origins;
  std::string allow_methods;  // already joined with ","
  std::string allow_headers;
  std::string expose_headers;
  std::optional<int64_t> max_age_seconds;
  std::optional<bool> allow_credentials;
  bool forward_unmatched_preflights = true;  // unmatchedPreflights: FORWARD (default) / IGNORE
};

struct ForwardAction {
  std::vector<WeightedCluster> clusters;  // at least one
  uint32_t total_weight = 0;
  std::optional<UriRewrite> uri_rewrite;
  std::optional<std::string> authority_rewrite;
  std::optional<Millis> timeout;  // absent: no timeout (Istio's default)
  RetryPolicy retry;
  std::vector<MirrorPolicy> mirrors;
};

struct RedirectAction {
  enum class DerivePort { kNone, kFromProtocolDefault, kFromRequestPort };
  std::optional<std::string> uri;             // replaces the whole path
  std::optional<std::string> prefix_rewrite;  // replaces the matched prefix
  std::optional<std::string> authority;
  std::optional<std::string> scheme;
  std::optional<uint16_t> port;
  DerivePort derive_port = DerivePort::kNone;
  uint16_t code = 301;
};

struct DirectResponseAction {
  uint16_t status = 200;
  std::string body;
};

struct Route {
  std::string name;  // "<http.name>.<match.name>" when named, for %ROUTE_NAME%
  RouteMatch match;
  std::variant<ForwardAction, RedirectAction, DirectResponseAction> action;
  std::optional<FaultPolicy> fault;
  std::optional<CorsPolicy> cors;
  HeaderOps request_headers;   // route-level
  HeaderOps response_headers;  // route-level
  // Where it came from, for `explain`, /config_dump and reasons: "default/api-virtual http[1]".
  std::string origin;
};

struct VirtualHost {
  std::string name;                  // "pirata.example.com:80"
  std::vector<std::string> domains;  // lowercase; "*.example.com" and "*" allowed
  std::vector<Route> routes;         // first match wins; catch-alls already moved last
  bool require_tls = false;          // Gateway tls.httpsRedirect: 301 to https for every request
};

// All virtual hosts of one listener port. Lookup follows Envoy: exact domain, then the longest
// matching wildcard suffix, then "*". The Host header is compared without its port.
struct RouteTable {
  std::vector<VirtualHost> virtual_hosts;
};

// ---- TCP and TLS routes ---------------------------------------------------------------

// One L4MatchAttributes / TLSMatchAttributes block. Config-time selectors (port, gateways,
// sourceLabels, sourceNamespace) are resolved by translate; what is left needs the connection.
struct TcpRouteMatch {
  // CIDRs ("10.0.0.0/8", "10.1.2.3") the connection's destination (local) address must fall in;
  // empty: any.
  std::vector<std::string> destination_subnets;
  // TLS routes: the ClientHello's SNI must match one ("*.example.com" matches one or more
  // labels in front of .example.com; "*" matches any SNI, including none); lowercase.
  std::vector<std::string> sni_hosts;
};

// A VirtualService tcp or tls route: the first route with a matching block (or with no block)
// takes the connection; its destinations share it by weight.
struct TcpRoute {
  std::vector<TcpRouteMatch> matches;     // OR; empty: every connection
  std::vector<WeightedCluster> clusters;  // at least one; only cluster and weight are used
  uint32_t total_weight = 0;
  std::string origin;  // "default/echo tcp[0]"
  // Sidecar outbound tables: the names of the destination this route is for (a service's
  // domains, as an HTTP virtual host has them); the route applies only to a connection for one
  // of them. Empty (gateways, inbound): any connection.
  std::vector<std::string> hosts;
  // Sidecar outbound tables: the addresses an app connecting to one of `hosts` would dial, what
  // Istio's original destination would be: the service's VIPs (Service clusterIP, ServiceEntry
  // addresses), else its endpoints' addresses. destination_subnets are matched against them when
  // a CONNECT names a host instead of an IP.
  std::vector<std::string> host_addresses;
};

// ---- TLS --------------------------------------------------------------------------------

// Where PEM text comes from. A Kubernetes Secret is decoded by translate into `inline_pem` (so
// the control plane can push it); a file path (Istio's serverCertificate, privateKey,
// caCertificates, clientCertificate, caCrl) is read by the proxy itself, which watches the file
// and serves a changed one to new handshakes. Exactly one of the two is set, or neither.
struct PemSource {
  std::string inline_pem;
  std::string path;
  // What it is, for errors and /config_dump: "secret istio-system/web-cert tls.crt" or the path.
  std::string origin;
  bool empty() const { return inline_pem.empty() && path.empty(); }
};

struct TlsCertificate {
  PemSource certificate_chain;
  PemSource private_key;
};

enum class TlsVersion : uint8_t { kAuto, kTls10, kTls11, kTls12, kTls13 };

// One TLS-terminating Gateway server (tls.mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL).
// A listener holds one per server on its port; the handshake's SNI picks it (Envoy's filter chain
// match): exact host first, then the longest wildcard, then "*". No match: the handshake fails.
struct ServerTls {
  // kIstioMutual: the gateway's own workload certificate, and a client certificate chaining to the
  // mesh roots is required (as a sidecar's inbound listener); `certificates` and `client_ca` stay
  // empty here, the proxy builds them from its current mesh identity (proxy/tls/tls_contexts.h).
  enum class Mode : uint8_t { kSimple, kMutual, kOptionalMutual, kIstioMutual };
  Mode mode = Mode::kSimple;
  std::vector<std::string> sni_hosts;  // lowercase dnsName parts of server.hosts; "*", "*.x.com"
  std::vector<TlsCertificate> certificates;     // 1, or 2 (credentialNames: RSA + ECDSA)
  PemSource client_ca;                          // MUTUAL / OPTIONAL_MUTUAL
  PemSource crl;                                // caCrl
  TlsVersion min_version = TlsVersion::kTls12;  // Istio's gateway default
  TlsVersion max_version = TlsVersion::kAuto;   // kAuto: TLS 1.3
  // OpenSSL/BoringSSL names as Istio takes them ("ECDHE-ECDSA-AES128-GCM-SHA256"); empty:
  // Istio's defaults (ECDHE with AES-GCM or ChaCha20-Poly1305 on TLS 1.2).
  std::vector<std::string> cipher_suites;
  std::vector<std::string> subject_alt_names;  // a client certificate must carry one of them
  std::vector<std::string> verify_spki;        // base64 SHA-256 of the client's SPKI
  std::vector<std::string> verify_hash;        // hex SHA-256 of the client's certificate
  std::string origin;                          // "istio-system/my-gateway servers[1]"
};

// TLS a proxy originates to a cluster's endpoints (DestinationRule trafficPolicy.tls SIMPLE or
// MUTUAL, port-level settings already applied by translate).
struct UpstreamTls {
  // kIstioMutual: Istio mutual TLS (DestinationRule ISTIO_MUTUAL, or auto mTLS): the client
  // certificate is the proxy's workload certificate and the server's chain must end at the mesh
  // roots (translate::WorkloadIdentity); `ca` and `client_certificate` stay empty; `sni` is
  // Istio's "outbound_.PORT_.SUBSET_.HOST"; `subject_alt_names` are the SPIFFE IDs of the
  // destination's service accounts (empty: any workload of the mesh).
  enum class Mode : uint8_t { kSimple, kMutual, kIstioMutual };
  Mode mode = Mode::kSimple;
  PemSource ca;                       // empty: the system trust store
  TlsCertificate client_certificate;  // MUTUAL
  PemSource crl;
  std::string sni;  // empty: the request's host (Istio's auto SNI)
  // The server certificate must carry one of them; empty: the SNI sent (Istio's auto SAN
  // validation) unless insecure_skip_verify.
  std::vector<std::string> subject_alt_names;
  bool insecure_skip_verify = false;
  std::string origin;  // "default/ext-dr trafficPolicy.tls"
};

// What a listener is for. A gateway has only kGateway listeners; a sidecar has one kInbound,
// one kOutboundProxy and one kOutboundPort per service port it can reach.
enum class ListenerKind {
  kGateway,  // a Gateway server: bound; routes by Host
  // Bound (the sidecar's --inbound-port) in front of its app: one virtual host "*" forwarding to
  // the "inbound|<app port>||" cluster. Metrics are reporter=destination; the caller's identity
  // comes from the x-halyard-peer request header its sidecar added (the header is removed).
  kInbound,
  // Bound (the sidecar's --outbound-port): the HTTP proxy the app reaches services through
  // (HTTP_PROXY=http://127.0.0.1:<port>). It has no routes of its own: per request, the port of
  // the authority (absolute-form target or Host; 80 when absent) picks the kOutboundPort
  // listener named "0.0.0.0_<port>", whose virtual hosts then match the host. No such listener
  // or no virtual host: 404 NR. Forwarded requests carry x-halyard-peer with this workload.
  kOutboundProxy,
  // Not bound: the route table of one destination port ("0.0.0.0_80"), as Istio's sidecar
  // outbound route config "80": a virtual host per service host with that port (domains: the
  // FQDN, name.namespace, name.namespace.svc, the short name in the proxy's own namespace, and
  // each of those with ":<port>"), mesh VirtualServices applied.
  // With protocol "TCP" ("0.0.0.0_5432_tcp"): the TCP services on that port (and those whose
  // port protocol is undeclared, for sniffed TLS), as tcp_routes whose `hosts` name the service
  // (mesh VirtualService tls routes, then tcp routes, else or after tls routes alone one route
  // to the service's cluster), what a CONNECT tunnel to host:port is routed with
  // (runtime/connect_tunnel.h, runtime/tcp_proxy.h).
  kOutboundPort,
};

// PeerAuthentication's effective mode for a sidecar's inbound listener (Istio's default
// PERMISSIVE).
enum class PeerAuthMode : uint8_t { kPermissive, kStrict, kDisable };

struct InboundMtls {
  // kStrict: only Istio mutual TLS (a client certificate chaining to the mesh roots);
  // kPermissive: mutual TLS and plaintext, told apart by the first bytes of the connection;
  // kDisable: plaintext only.
  PeerAuthMode mode = PeerAuthMode::kPermissive;
  // Which policy decided: "PeerAuthentication shop/web-strict (workload, port 8080)", or
  // "default (no PeerAuthentication applies)".
  std::string origin;
};

// Istio's canonical revision of a workload, from its labels: service.istio.io/canonical-revision,
// else app.kubernetes.io/version, else version, else "latest" (the source_ and
// destination_canonical_revision metric labels). An empty value counts as absent: Prometheus
// would drop a label with an empty value rather than report it.
inline std::string_view canonicalRevision(const std::map<std::string, std::string>& labels) {
  for (const char* key :
       {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}) {
    const auto it = labels.find(key);
    if (it != labels.end() && !it->second.empty()) return it->second;
  }
  return "latest";
}

// Istio's canonical service of a workload, from its labels and name:
// service.istio.io/canonical-name, else app.kubernetes.io/name, else app, else the workload's name
// (the source_ and destination_canonical_service metric labels, the istio.canonical_service span
// tag). An empty value counts as absent, as for canonicalRevision.
inline std::string_view canonicalService(const std::map<std::string, std::string>& labels,
                                         std::string_view workload) {
  for (const char* key : {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}) {
    const auto it = labels.find(key);
    if (it != labels.end() && !it->second.empty()) return it->second;
  }
  return workload;
}

// The metric names of a workload its labels give, worked out once when the labels arrive (an
// endpoint decoded, a peer row built) rather than looked up in the label map per request.
struct WorkloadNames {
  std::string app;                 // labels["app"], else the workload's name
  std::string version;             // labels["version"], else "unknown"
  std::string canonical_service;   // canonicalService(labels, workload)
  std::string canonical_revision;  // canonicalRevision(labels)
};

inline WorkloadNames workloadNames(const std::map<std::string, std::string>& labels,
                                   std::string_view workload) {
  const auto value = [&labels](const char* key, std::string_view fallback) {
    const auto it = labels.find(key);
    return std::string(it == labels.end() || it->second.empty() ? fallback : it->second);
  };
  return WorkloadNames{value("app", workload), value("version", "unknown"),
                       std::string(canonicalService(labels, workload)),
                       std::string(canonicalRevision(labels))};
}

// The workload a namespace and service account stand for, as the registry knows it
// (translate/peer_workloads.h builds the table): the source_* labels of the TCP metrics of a
// caller whose certificate names that pair.
struct PeerWorkload {
  std::string namespace_;
  std::string service_account;
  std::string workload;  // Pod or WorkloadEntry name
  std::string app;       // its app label, else the workload name (as the HTTP metadata says)
  std::string version;   // its version label, else "unknown"
  std::string revision;  // its canonical revision (canonicalRevision above)
  // Its canonical service (canonicalService above).
  std::string canonical_service{};
};

// Sorted by (namespace, service account), one entry per pair that exactly one workload uses.
using PeerWorkloads = std::vector<PeerWorkload>;

// The workload for a peer; null when the table has none (absent, or shared by several).
inline const PeerWorkload* findPeerWorkload(const PeerWorkloads& table, std::string_view namespace_,
                                            std::string_view service_account) {
  using Key = std::pair<std::string_view, std::string_view>;
  const auto it = std::lower_bound(table.begin(), table.end(), Key(namespace_, service_account),
                                   [](const PeerWorkload& w, const Key& key) {
                                     return Key(w.namespace_, w.service_account) < key;
                                   });
  if (it == table.end() || it->namespace_ != namespace_ || it->service_account != service_account) {
    return nullptr;
  }
  return &*it;
}

struct Listener {
  std::string name;          // "0.0.0.0_80"; sidecars: "virtualInbound", "virtualOutbound"
  std::string bind_address;  // from Gateway server.bind; default "0.0.0.0"
  uint16_t port = 0;         // the Gateway server port; kOutboundPort: the service port
  std::string protocol;      // HTTP, HTTPS, ... (only HTTP is served by the first proxy)
  ListenerKind kind = ListenerKind::kGateway;
  std::shared_ptr<const RouteTable> routes;  // kOutboundProxy: an empty table
  // kGateway HTTPS servers: TLS is terminated, and the SNI picks one of these. Empty: plaintext.
  std::vector<ServerTls> tls;
  // kInbound: mesh mTLS as PeerAuthentication says, with the proxy's workload certificate.
  InboundMtls mtls;
  // kInbound and kGateway: the AuthorizationPolicies of the proxy's workload, evaluated on every
  // request after route selection (proxy/authz/authorizer.h).
  std::vector<AuthzPolicy> authz;
  // kInbound and kGateway: the merged jwtRules of the RequestAuthentications that apply
  // (translate/jwt_rule.h), checked by the authentication phase; empty: no JWT checks.
  std::vector<JwtRule> jwt_rules;
  // kOutboundProxy: MeshConfig outboundTrafficPolicy.mode is REGISTRY_ONLY, so hosts outside the
  // registry are refused instead of passed through (ALLOW_ANY).
  bool registry_only = false;
  // protocol "TCP" (raw bytes) or "TLS" (unterminated TLS, routed by the ClientHello's SNI):
  // the routes in Istio's order, first match wins; no match closes the connection. kGateway
  // listeners with these protocols are served by the TCP proxy instead of HTTP; kOutboundPort
  // listeners of TCP service ports carry them for the sidecar's outbound side. A kInbound HTTP
  // listener in front of an app port of undeclared protocol has them too: a connection whose
  // first bytes (inside the mutual TLS) are a TLS ClientHello is proxied as TCP with them.
  std::vector<TcpRoute> tcp_routes;
  // kInbound and kGateway: how remote.ip (remoteIpBlocks) is found in X-Forwarded-For, as
  // Envoy's xff_num_trusted_hops: a gateway (use_remote_address) takes the address
  // `xff_trusted_hops` from the right, none: the peer; a sidecar's inbound listener takes the
  // one `xff_trusted_hops` + 1 from the right (its caller appended the address it saw).
  uint32_t xff_trusted_hops = 0;
  bool use_remote_address = false;
  // MeshConfig pathNormalization, applied before routing and authorization.
  PathNormalization path_normalization = PathNormalization::kBase;
  // Sidecar kInbound listeners (which sniff TLS or plaintext under PERMISSIVE, and HTTP or not on
  // an app port of undeclared protocol) and the kOutboundProxy listener (CONNECT tunnels to such
  // ports): MeshConfig protocolDetectionTimeout, how long to wait for the client's first bytes
  // before taking the connection as plaintext TCP; 0: no timeout (the client must speak first).
  Millis protocol_detection_timeout{0};
  // The port AuthorizationPolicy `ports` and destination.port name: the app's port behind a
  // sidecar's inbound listener, the Gateway server port on a gateway (0: `port`).
  uint16_t workload_port = 0;
  // kGateway, kInbound, kOutboundProxy: distributed tracing of this listener's requests, from
  // MeshConfig extensionProviders and the Telemetry API (translate/telemetry_config.h); null:
  // trace headers pass through untouched and no span is reported.
  std::shared_ptr<const TracingSettings> tracing;
  // Same listeners: the Telemetry API's metrics overrides and access logging (null: defaults).
  std::shared_ptr<const ListenerTelemetry> telemetry;
  // kInbound that proxies TCP (a TCP app port, or sniffed): the registry's workloads by namespace
  // and service account, for the source_* labels of TCP connections (which carry no peer
  // metadata; HTTP requests do); null: none known, or an HTTP-only inbound listener.
  std::shared_ptr<const PeerWorkloads> peer_workloads;
  bool isTcp() const { return protocol == "TCP" || protocol == "TLS"; }
};

// ---- upstream ---------------------------------------------------------------------------

enum class LbPolicy { kLeastRequest, kRoundRobin, kRandom, kPassthrough };

struct Endpoint {
  std::string address;  // IP, or a DNS name resolved by the proxy (ServiceEntry DNS)
  uint16_t port = 0;
  uint32_t weight = 1;
  std::map<std::string, std::string> labels;
  std::string workload;  // for telemetry: WorkloadEntry / workload name
  std::string namespace_;
  std::string service_account;  // "" when unknown
  // The endpoint runs a sidecar that takes Istio mutual TLS (a registered workload, or a
  // WorkloadEntry labelled security.istio.io/tlsMode=istio) and its PeerAuthentication at this
  // port is not DISABLE: auto mTLS sends it mutual TLS.
  bool mesh_mtls = false;
  // Its PeerAuthentication at this port is STRICT: plaintext to it is refused (explains the 503
  // a DestinationRule tls DISABLE gets).
  bool requires_mtls = false;
  // "region/zone/subzone" (WorkloadEntry or ServiceEntry endpoint locality, or the workload's
  // topology labels); "" when unknown.
  std::string locality;
  // What the telemetry of a request to it reports (destination_app, _version,
  // _canonical_service, _canonical_revision): from `labels` and `workload` by nameEndpoint,
  // called where endpoints are made (the registry's clusters, the snapshot decoder).
  WorkloadNames names;
};

// Fills e.names from e.labels and e.workload.
inline void nameEndpoint(Endpoint& e) {
  e.names = workloadNames(e.labels, e.workload);
}

// ---- DestinationRule traffic policy, compiled (istio-semantics.md §3.3-§3.5) ---------------
// Every limit 0 means "no limit" (Istio installs 2^32-1 for each).

// connectionPool: circuit-breaker thresholds and connection lifetimes.
struct ConnectionPoolPolicy {
  uint32_t max_connections = 0;              // tcp.maxConnections
  uint32_t max_pending_requests = 0;         // http.http1MaxPendingRequests
  uint32_t max_requests = 0;                 // http.http2MaxRequests (HTTP/1.1 too)
  uint32_t max_retries = 0;                  // http.maxRetries (concurrent, across the cluster)
  uint32_t max_requests_per_connection = 0;  // 1 disables keep-alive
  uint32_t max_concurrent_streams = 0;       // http.maxConcurrentStreams (HTTP/2 upstreams)
  Millis idle_timeout{0};                    // http.idleTimeout, else tcp.idleTimeout; 0: 1 h
  Millis max_connection_duration{0};         // tcp.maxConnectionDuration; 0: none
  // tcp.tcpKeepalive: SO_KEEPALIVE with these (0: the OS default for that one).
  bool tcp_keepalive = false;
  Millis keepalive_time{0};
  Millis keepalive_interval{0};
  uint32_t keepalive_probes = 0;

  bool limited() const {
    return max_connections || max_pending_requests || max_requests || max_retries;
  }
};

// outlierDetection (present: enabled). Defaults are Istio's.
struct OutlierPolicy {
  uint32_t consecutive_5xx = 5;             // 0: off
  uint32_t consecutive_gateway_errors = 0;  // 0: off
  uint32_t consecutive_local_origin_failures = 5;
  bool split_external_local_origin_errors = false;
  Millis interval{10'000};
  Millis base_ejection_time{30'000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;    // panic threshold: below it, ejections are ignored
  std::vector<uint16_t> error_codes;  // outlierDetectionHttpErrorCodes: only these count
};

// loadBalancer.consistentHash.
struct HashPolicy {
  enum class Key { kHeader, kCookie, kSourceIp, kQueryParameter };
  Key key = Key::kHeader;
  std::string name;  // header (lowercase), cookie or query parameter name
  // httpCookie: issued with these when the request has none (ttl 0: a session cookie; -1:
  // no ttl, none is issued).
  std::string cookie_path;
  Millis cookie_ttl{0};
  std::vector<std::pair<std::string, std::string>> cookie_attributes;
  bool maglev = false;
  uint64_t table_size = 0;  // maglev tableSize, or ringHash minimumRingSize (0: default)
};

// loadBalancer.localityLbSetting (Istio applies it only with outlierDetection).
struct LocalityLbPolicy {
  struct Distribute {
    std::string from;                                  // "region/zone/*"
    std::vector<std::pair<std::string, uint32_t>> to;  // locality pattern -> weight
  };
  std::vector<Distribute> distribute;
  std::vector<std::pair<std::string, std::string>> failover;  // from region -> to region
  std::vector<std::string> failover_priority;                 // label keys
};

// loadBalancer.warmup (slow start) for ROUND_ROBIN and LEAST_REQUEST.
struct WarmupPolicy {
  Millis duration{0};
  double min_percent = 10;
  double aggression = 1.0;
};

struct Cluster {
  std::string name;  // "outbound|80|v1|reviews.default.svc.cluster.local"
  std::string service_host;
  std::string service_name;       // short name, for destination_service_name
  std::string service_namespace;  // for destination_service_namespace
  uint16_t port = 0;
  std::string subset;
  LbPolicy lb = LbPolicy::kLeastRequest;
  bool resolve_dns = false;  // endpoints carry host names to resolve
  Millis connect_timeout{10'000};
  std::vector<Endpoint> endpoints;
  std::optional<UpstreamTls> tls;  // absent: plaintext to the endpoints
  // Auto mTLS (no DestinationRule tls for the port): `tls` (kIstioMutual) applies only to the
  // endpoints with mesh_mtls; the others get plaintext.
  bool auto_mtls = false;
  // A DestinationRule set tls DISABLE: "shop/web-dr trafficPolicy.tls" ("" otherwise).
  std::string tls_disabled_by;
  // HTTP/2 to the endpoints: the port's protocol is gRPC, HTTP2 or h2c (appProtocol or name
  // prefix; a ServiceEntry's protocol), or a DestinationRule asks h2UpgradePolicy UPGRADE.
  bool http2 = false;
  // DestinationRule useClientProtocol (and the sidecar's inbound cluster): HTTP/2 upstream when
  // the client's request came over HTTP/2.
  bool use_client_protocol = false;
  ConnectionPoolPolicy pool;
  std::optional<OutlierPolicy> outlier;
  std::optional<HashPolicy> hash;               // set: consistent hashing, `lb` is ignored
  std::optional<LocalityLbPolicy> locality_lb;  // set only with `outlier`
  std::optional<WarmupPolicy> warmup;
  // Fields the config sets that this proxy parses but does not enforce yet
  // ("trafficPolicy.outlierDetection"), reported by /config_dump and at load.
  std::vector<std::string> not_enforced;
};

struct Snapshot {
  uint64_t version = 0;
  std::vector<Listener> listeners;
  std::unordered_map<std::string, Cluster> clusters;
  std::vector<std::string> warnings;  // translation notes worth logging once
};

}  // namespace halyard::translate
