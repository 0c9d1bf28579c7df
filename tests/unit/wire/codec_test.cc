// Snapshot <-> halyard.v1 resources: every field survives the trip, and what a proxy cannot
// serve is refused with a sentence naming the resource and field.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "translate/translate.h"
#include "wire/snapshot_assembler.h"
#include "wire/snapshot_codec.h"

namespace halyard::wire {
namespace {

namespace tr = translate;

tr::StringMatcher matcher(tr::StringMatcher::Kind kind, std::string value) {
  tr::StringMatcher m;
  m.kind = kind;
  if (kind == tr::StringMatcher::Kind::kRegex) {
    m.regex = std::make_shared<const re2::RE2>(value);
  } else {
    m.value = std::move(value);
  }
  return m;
}

// A snapshot with every field of snapshot.h set to something other than its default.
tr::Snapshot everyField() {
  tr::Route fwd;
  fwd.name = "api.v1";
  fwd.match.uri = matcher(tr::StringMatcher::Kind::kPrefix, "/api");
  fwd.match.uri->ignore_case = true;
  fwd.match.scheme = matcher(tr::StringMatcher::Kind::kExact, "https");
  fwd.match.method = matcher(tr::StringMatcher::Kind::kRegex, "GET|POST");
  fwd.match.authority = matcher(tr::StringMatcher::Kind::kPresent, "");
  fwd.match.headers.push_back({"x-user", matcher(tr::StringMatcher::Kind::kExact, "a"), true});
  fwd.match.query_params.push_back({"q", matcher(tr::StringMatcher::Kind::kRegex, "[0-9]+")});
  tr::ForwardAction action;
  tr::WeightedCluster a{"outbound|80|v1|a.default.svc.cluster.local", 70, {}, {}, "a.internal"};
  a.request_headers.set = {{"x-a", "1"}};
  a.response_headers.remove = {"server"};
  tr::WeightedCluster b{"outbound|80|v2|a.default.svc.cluster.local", 30, {}, {}, std::nullopt};
  b.request_headers.add = {{"x-b", "2"}};
  action.clusters = {a, b};
  action.total_weight = 100;
  tr::UriRewrite rw;
  rw.regex = std::make_shared<const re2::RE2>("^/api/(.*)");
  rw.regex_substitution = "/\\1";
  action.uri_rewrite = rw;
  action.authority_rewrite = "backend";
  action.timeout = tr::Millis(1500);
  action.retry.attempts = 3;
  action.retry.retry_on = tr::kRetry5xx | tr::kRetryReset;
  action.retry.retriable_status_codes = {503, 504};
  action.retry.per_try_timeout = tr::Millis(200);
  action.retry.backoff_base = tr::Millis(40);
  action.retry.retry_other_hosts = false;
  action.mirrors.push_back({"outbound|80||shadow.default.svc.cluster.local", 250'000});
  fwd.action = action;
  tr::FaultPolicy fault;
  fault.delay = tr::FaultPolicy::Delay{tr::Millis(5), 10'000};
  fault.abort = tr::FaultPolicy::Abort{0, "UNAVAILABLE", 20'000};
  fwd.fault = fault;
  tr::CorsPolicy cors;
  cors.allow_origins = {matcher(tr::StringMatcher::Kind::kExact, "https://x.example")};
  cors.allow_methods = "GET,POST";
  cors.allow_headers = "x-a";
  cors.expose_headers = "x-b";
  cors.max_age_seconds = 60;
  cors.allow_credentials = true;
  cors.forward_unmatched_preflights = false;
  fwd.cors = cors;
  fwd.request_headers.set = {{"x-route", "api"}};
  fwd.response_headers.add = {{"x-served-by", "halyard"}};
  fwd.origin = "default/api http[0]";

  tr::Route redirect;
  tr::RedirectAction rd;
  rd.uri = "/new";
  rd.prefix_rewrite = "/p";
  rd.authority = "other.example";
  rd.scheme = "https";
  rd.port = 8443;
  rd.derive_port = tr::RedirectAction::DerivePort::kFromRequestPort;
  rd.code = 308;
  redirect.action = rd;
  redirect.origin = "default/api http[1]";

  tr::Route direct;
  direct.action = tr::DirectResponseAction{418, "teapot\n"};

  tr::VirtualHost vh;
  vh.name = "shop.example.com:80";
  vh.domains = {"shop.example.com", "shop.example.com:80"};
  vh.routes = {fwd, redirect, direct};
  vh.require_tls = true;
  tr::RouteTable table;
  table.virtual_hosts = {vh};

  tr::Snapshot s;
  s.version = 7;
  s.listeners.push_back({"0.0.0.0_80", "0.0.0.0", 80, "HTTP", tr::ListenerKind::kGateway,
                         std::make_shared<const tr::RouteTable>(table)});
  // A sidecar's kinds too, in name order (the assembler returns listeners by name).
  tr::VirtualHost inbound;
  inbound.name = "inbound|9080||";
  inbound.domains = {"*"};
  inbound.routes = {direct};
  tr::RouteTable inbound_table;
  inbound_table.virtual_hosts = {inbound};
  s.listeners.push_back({"0.0.0.0_9080", "", 9080, "HTTP", tr::ListenerKind::kOutboundPort,
                         std::make_shared<const tr::RouteTable>(table)});
  // An HTTPS gateway listener with two TLS servers: one from a Secret (inline PEM), one from
  // files verifying client certificates. Its name sorts after 0.0.0.0_9080.
  tr::ServerTls from_secret;
  from_secret.sni_hosts = {"shop.example.com"};
  tr::TlsCertificate rsa{{"CERT-RSA\n", "", "secret istio-system/shop tls.crt"},
                         {"KEY-RSA\n", "", "secret istio-system/shop tls.key"}};
  tr::TlsCertificate ecdsa{{"CERT-EC\n", "", "secret istio-system/shop-ec tls.crt"},
                           {"KEY-EC\n", "", "secret istio-system/shop-ec tls.key"}};
  from_secret.certificates = {rsa, ecdsa};
  from_secret.min_version = tr::TlsVersion::kTls13;
  from_secret.cipher_suites = {"ECDHE-ECDSA-AES128-GCM-SHA256"};
  from_secret.origin = "istio-system/gw servers[1]";
  tr::ServerTls from_files;
  from_files.mode = tr::ServerTls::Mode::kOptionalMutual;
  from_files.sni_hosts = {"*.example.com", "*"};
  from_files.certificates = {{{"", "/etc/certs/server.pem", "/etc/certs/server.pem"},
                              {"", "/etc/certs/key.pem", "/etc/certs/key.pem"}}};
  from_files.client_ca = {"", "/etc/certs/ca.pem", "/etc/certs/ca.pem"};
  from_files.crl = {"CRL\n", "", "secret istio-system/ca ca.crl"};
  from_files.min_version = tr::TlsVersion::kTls10;
  from_files.max_version = tr::TlsVersion::kTls11;
  from_files.subject_alt_names = {"client.example.com"};
  from_files.verify_spki = {"c3BraQ=="};
  from_files.verify_hash = {"ab:cd"};
  from_files.origin = "istio-system/gw servers[2]";
  tr::Listener https{"127.0.0.1_8443",
                     "127.0.0.1",
                     8443,
                     "HTTPS",
                     tr::ListenerKind::kGateway,
                     std::make_shared<const tr::RouteTable>(table),
                     {from_secret, from_files}};
  s.listeners.push_back(std::move(https));
  tr::Listener inbound_listener{"virtualInbound",
                                "10.0.0.9",
                                15006,
                                "HTTP",
                                tr::ListenerKind::kInbound,
                                std::make_shared<const tr::RouteTable>(inbound_table)};
  inbound_listener.mtls = {tr::PeerAuthMode::kStrict,
                           "PeerAuthentication shop/strict-web (workload, port 8080)"};
  {
    tr::AuthzPolicy p;
    p.name = "shop/allow-web";
    p.action = tr::AuthzAction::kCustom;
    p.dry_run = true;
    p.provider = "opa";
    tr::AuthzRule rule;
    rule.from.push_back({tr::AuthzCondition{tr::AuthzAttribute::kPrincipal,
                                            "",
                                            {{tr::AuthzMatcher::Kind::kSuffix, "/sa/web", 0}},
                                            false}});
    rule.to.push_back({tr::AuthzCondition{
        tr::AuthzAttribute::kPath, "", {{tr::AuthzMatcher::Kind::kTemplate, "/a/{*}", 0}}, true}});
    rule.when.push_back(
        tr::AuthzCondition{tr::AuthzAttribute::kSourceIp,
                           "",
                           {{tr::AuthzMatcher::Kind::kCidr, std::string("\x0a\0\0\0", 4), 8}},
                           false});
    rule.when.push_back(tr::AuthzCondition{tr::AuthzAttribute::kAuthClaim,
                                           std::string("a\0b", 3),
                                           {{tr::AuthzMatcher::Kind::kPresence, "", 0}},
                                           false});
    p.rules.push_back(std::move(rule));
    auto provider = std::make_shared<tr::AuthzExtProvider>();
    provider->name = "opa";
    provider->protocol = tr::AuthzExtProvider::Protocol::kGrpc;
    provider->service = "opa.shop.svc.cluster.local";
    provider->port = 9191;
    provider->cluster = "outbound|9191||opa.shop.svc.cluster.local";
    provider->timeout_ms = 250;
    provider->path_prefix = "/check";
    provider->fail_open = true;
    provider->status_on_error = 503;
    provider->include_request_headers = {{tr::AuthzMatcher::Kind::kPrefix, "x-b3-", 0}};
    provider->include_additional_headers = {{"x-from", "gateway"}};
    provider->headers_to_upstream_on_allow = {{tr::AuthzMatcher::Kind::kExact, "x-user", 0}};
    provider->headers_to_downstream_on_allow = {{tr::AuthzMatcher::Kind::kSuffix, "-id", 0}};
    provider->headers_to_downstream_on_deny = {{tr::AuthzMatcher::Kind::kPresence, "", 0}};
    p.ext_provider = provider;
    inbound_listener.authz.push_back(std::move(p));
  }
  inbound_listener.xff_trusted_hops = 2;
  inbound_listener.use_remote_address = true;
  inbound_listener.path_normalization = tr::PathNormalization::kDecodeAndMergeSlashes;
  inbound_listener.workload_port = 8080;
  inbound_listener.protocol_detection_timeout = tr::Millis(250);
  s.listeners.push_back(std::move(inbound_listener));
  s.listeners.push_back({"virtualOutbound", "127.0.0.1", 15001, "HTTP",
                         tr::ListenerKind::kOutboundProxy,
                         std::make_shared<const tr::RouteTable>()});
  s.listeners.back().registry_only = true;
  tr::Cluster c;
  c.name = "outbound|80|v1|a.default.svc.cluster.local";
  c.service_host = "a.default.svc.cluster.local";
  c.service_name = "a";
  c.service_namespace = "default";
  c.port = 80;
  c.subset = "v1";
  c.lb = tr::LbPolicy::kRandom;
  c.resolve_dns = true;
  c.connect_timeout = tr::Millis(250);
  c.endpoints.push_back(
      {"10.0.0.1", 8080, 3, {{"version", "v1"}}, "a-1", "default", "a-sa", true, true});
  c.not_enforced = {"trafficPolicy.outlierDetection"};
  tr::UpstreamTls upstream;
  upstream.mode = tr::UpstreamTls::Mode::kMutual;
  upstream.ca = {"CA\n", "", "secret istio-system/client ca.crt"};
  upstream.client_certificate = {{"", "/etc/client.pem", "/etc/client.pem"},
                                 {"", "/etc/client-key.pem", "/etc/client-key.pem"}};
  upstream.crl = {"", "/etc/crl.pem", "/etc/crl.pem"};
  upstream.sni = "a.internal";
  upstream.subject_alt_names = {"spiffe://a", "a.internal"};
  upstream.insecure_skip_verify = true;
  upstream.origin = "default/a trafficPolicy.portLevelSettings[0].tls";
  c.tls = upstream;
  s.clusters.emplace(c.name, c);
  // Auto mTLS: Istio mutual TLS to the endpoints with mesh_mtls only.
  tr::Cluster mesh;
  mesh.name = "outbound|9080||b.default.svc.cluster.local";
  mesh.port = 9080;
  mesh.endpoints.push_back({"10.0.0.2", 15006, 1, {}, "b-1", "default", "b", true, false});
  mesh.endpoints.push_back({"10.0.0.3", 9080, 1, {}, "b-vm", "default", "", false, false});
  tr::UpstreamTls istio;
  istio.mode = tr::UpstreamTls::Mode::kIstioMutual;
  istio.sni = "outbound_.9080_._.b.default.svc.cluster.local";
  istio.subject_alt_names = {"spiffe://cluster.local/ns/default/sa/b"};
  istio.origin = "auto mTLS (no DestinationRule tls for b.default.svc.cluster.local:9080)";
  mesh.tls = istio;
  mesh.auto_mtls = true;
  s.clusters.emplace(mesh.name, mesh);
  tr::Cluster disabled;
  disabled.name = "outbound|9090||c.default.svc.cluster.local";
  disabled.port = 9090;
  disabled.tls_disabled_by = "default/c-dr trafficPolicy.tls";
  s.clusters.emplace(disabled.name, disabled);
  s.warnings = {"a warning"};
  return s;
}

v1::SnapshotPush wholePush(const tr::Snapshot& s, uint64_t version) {
  v1::SnapshotPush p;
  p.set_version(version);
  *p.mutable_resources() = encodeResources(s);
  for (const auto& w : s.warnings) p.mutable_warnings()->add_items(w);
  return p;
}

TEST(Codec, EveryFieldSurvivesTheRoundTrip) {
  const tr::Snapshot original = everyField();
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(original, 9));
  ASSERT_TRUE(assembled) << assembled.error().message;
  const tr::Snapshot& decoded = *assembled->snapshot;
  EXPECT_EQ(decoded.version, 9u);
  EXPECT_EQ(decoded.warnings, original.warnings);
  // Encoding what was decoded gives the same resources: nothing was lost or changed.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(encodeResources(decoded),
                                                                 encodeResources(original)));
  const auto& route = decoded.listeners.at(0).routes->virtual_hosts.at(0).routes.at(0);
  ASSERT_TRUE(route.match.method && route.match.method->regex);
  EXPECT_TRUE(re2::RE2::FullMatch("POST", *route.match.method->regex));
  const auto& fwd = std::get<tr::ForwardAction>(route.action);
  EXPECT_EQ(fwd.retry.backoff_base, tr::Millis(40));
  EXPECT_FALSE(fwd.retry.retry_other_hosts);
  EXPECT_EQ(fwd.clusters.at(1).authority_rewrite, std::nullopt);
  std::vector<tr::ListenerKind> kinds;
  for (const auto& l : decoded.listeners) kinds.push_back(l.kind);
  EXPECT_EQ(kinds, (std::vector<tr::ListenerKind>{
                       tr::ListenerKind::kGateway, tr::ListenerKind::kOutboundPort,
                       tr::ListenerKind::kGateway, tr::ListenerKind::kInbound,
                       tr::ListenerKind::kOutboundProxy}));
  EXPECT_EQ(decoded.listeners.at(4).routes->virtual_hosts.size(), 0u);
  EXPECT_TRUE(decoded.listeners.at(4).registry_only);
  EXPECT_FALSE(decoded.listeners.at(0).registry_only);
  // TLS: the defaults that are not the wire's zero values survive too.
  const tr::Listener& https = decoded.listeners.at(2);
  ASSERT_EQ(https.tls.size(), 2u);
  EXPECT_EQ(https.tls[0].mode, tr::ServerTls::Mode::kSimple);
  EXPECT_EQ(https.tls[0].min_version, tr::TlsVersion::kTls13);
  EXPECT_EQ(https.tls[0].max_version, tr::TlsVersion::kAuto);
  EXPECT_EQ(https.tls[0].certificates.at(1).private_key.inline_pem, "KEY-EC\n");
  EXPECT_EQ(https.tls[1].mode, tr::ServerTls::Mode::kOptionalMutual);
  EXPECT_EQ(https.tls[1].client_ca.path, "/etc/certs/ca.pem");
  EXPECT_EQ(https.tls[1].crl.inline_pem, "CRL\n");
  EXPECT_EQ(https.tls[1].verify_hash, std::vector<std::string>{"ab:cd"});
  EXPECT_TRUE(decoded.listeners.at(0).tls.empty());
  const tr::Cluster& c = decoded.clusters.at("outbound|80|v1|a.default.svc.cluster.local");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->mode, tr::UpstreamTls::Mode::kMutual);
  EXPECT_EQ(c.tls->ca.inline_pem, "CA\n");
  EXPECT_EQ(c.tls->client_certificate.private_key.path, "/etc/client-key.pem");
  EXPECT_TRUE(c.tls->insecure_skip_verify);
  EXPECT_EQ(c.tls->origin, "default/a trafficPolicy.portLevelSettings[0].tls");
  // Mesh mutual TLS.
  EXPECT_EQ(c.endpoints.at(0).service_account, "a-sa");
  EXPECT_TRUE(c.endpoints.at(0).mesh_mtls);
  EXPECT_TRUE(c.endpoints.at(0).requires_mtls);
  const tr::Listener& inbound = decoded.listeners.at(3);
  EXPECT_EQ(inbound.mtls.mode, tr::PeerAuthMode::kStrict);
  EXPECT_EQ(inbound.mtls.origin, "PeerAuthentication shop/strict-web (workload, port 8080)");
  ASSERT_EQ(inbound.authz.size(), 1u);
  const tr::AuthzPolicy& authz = inbound.authz[0];
  EXPECT_EQ(authz.name, "shop/allow-web");
  EXPECT_EQ(authz.action, tr::AuthzAction::kCustom);
  EXPECT_TRUE(authz.dry_run);
  EXPECT_EQ(authz.provider, "opa");
  ASSERT_EQ(authz.rules.size(), 1u);
  EXPECT_EQ(authz.rules[0].from.at(0).at(0).values.at(0).value, "/sa/web");
  EXPECT_TRUE(authz.rules[0].to.at(0).at(0).negated);
  EXPECT_EQ(authz.rules[0].to.at(0).at(0).values.at(0).kind, tr::AuthzMatcher::Kind::kTemplate);
  EXPECT_EQ(authz.rules[0].when.at(0).values.at(0).value, std::string("\x0a\0\0\0", 4));
  EXPECT_EQ(authz.rules[0].when.at(0).values.at(0).prefix_length, 8);
  EXPECT_EQ(authz.rules[0].when.at(1).key, std::string("a\0b", 3));
  EXPECT_EQ(authz.rules[0].when.at(1).attribute, tr::AuthzAttribute::kAuthClaim);
  EXPECT_EQ(decoded.listeners.at(0).mtls.mode, tr::PeerAuthMode::kPermissive);
  const tr::Cluster& mesh = decoded.clusters.at("outbound|9080||b.default.svc.cluster.local");
  EXPECT_TRUE(mesh.auto_mtls);
  ASSERT_TRUE(mesh.tls);
  EXPECT_EQ(mesh.tls->mode, tr::UpstreamTls::Mode::kIstioMutual);
  EXPECT_EQ(mesh.tls->sni, "outbound_.9080_._.b.default.svc.cluster.local");
  EXPECT_FALSE(mesh.endpoints.at(1).mesh_mtls);
  const tr::Cluster& disabled = decoded.clusters.at("outbound|9090||c.default.svc.cluster.local");
  EXPECT_FALSE(disabled.tls);
  EXPECT_EQ(disabled.tls_disabled_by, "default/c-dr trafficPolicy.tls");
}

TEST(Codec, MeshTlsAProxyCannotServeIsRefused) {
  auto refused = [](const v1::Cluster& c) {
    auto r = decodeCluster(c);
    return r ? std::string("accepted") : r.error().message;
  };
  const tr::Snapshot s = everyField();
  const v1::Cluster mesh =
      encodeCluster(s.clusters.at("outbound|9080||b.default.svc.cluster.local"));
  v1::Cluster with_ca = mesh;
  with_ca.mutable_tls()->mutable_ca()->set_path("/etc/ca.pem");
  EXPECT_EQ(refused(with_ca),
            "cluster outbound|9080||b.default.svc.cluster.local tls: is ISTIO_MUTUAL but carries a "
            "CA (Istio mutual TLS uses the workload certificate and the mesh roots)");
  v1::Cluster auto_without_tls = mesh;
  auto_without_tls.clear_tls();
  EXPECT_EQ(refused(auto_without_tls),
            "cluster outbound|9080||b.default.svc.cluster.local: uses auto mTLS without "
            "ISTIO_MUTUAL tls");
  v1::Cluster auto_simple = mesh;
  auto_simple.mutable_tls()->set_mode(v1::UpstreamTls::SIMPLE);
  EXPECT_NE(refused(auto_simple).find("uses auto mTLS without ISTIO_MUTUAL tls"),
            std::string::npos);
  v1::Cluster disabled_with_tls = mesh;
  disabled_with_tls.set_auto_mtls(false);
  disabled_with_tls.set_tls_disabled_by("default/b-dr trafficPolicy.tls");
  EXPECT_EQ(refused(disabled_with_tls),
            "cluster outbound|9080||b.default.svc.cluster.local: has tls although default/b-dr "
            "trafficPolicy.tls disables it");
  v1::Cluster bad_mode = mesh;
  bad_mode.mutable_tls()->set_mode(static_cast<v1::UpstreamTls::Mode>(7));
  EXPECT_EQ(refused(bad_mode),
            "cluster outbound|9080||b.default.svc.cluster.local tls: unknown mode 7");

  v1::Listener inbound = encodeListener(s.listeners.at(3));
  inbound.mutable_mtls()->set_mode(static_cast<v1::InboundMtls::Mode>(5));
  auto l = decodeListener(inbound);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().message, "listener virtualInbound: unknown mtls mode 5");
}

TEST(Codec, ADefaultServerTlsKeepsTls12AsItsMinimum) {
  tr::ServerTls t;
  t.certificates = {{{"C", "", ""}, {"K", "", ""}}};
  tr::Listener l{"0.0.0.0_443", "0.0.0.0", 443, "HTTPS", tr::ListenerKind::kGateway, nullptr, {t}};
  auto decoded = decodeListener(encodeListener(l));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->tls.at(0).min_version, tr::TlsVersion::kTls12);
  EXPECT_FALSE(decodeCluster(encodeCluster(tr::Cluster{})).value().tls);  // absent stays absent
}

TEST(Codec, TlsAProxyCannotServeIsRefused) {
  auto refused = [](const v1::Listener& l) {
    auto r = decodeListener(l);
    return r ? std::string("accepted") : r.error().message;
  };
  const tr::Listener https = everyField().listeners.at(2);
  v1::Listener plaintext = encodeListener(https);
  plaintext.clear_tls();
  EXPECT_EQ(refused(plaintext), "listener 127.0.0.1_8443: is HTTPS but has no TLS server");
  v1::Listener no_ca = encodeListener(https);
  no_ca.mutable_tls(1)->clear_client_ca();
  EXPECT_EQ(refused(no_ca),
            "listener 127.0.0.1_8443 tls[1]: verifies client certificates without a client CA");
  v1::Listener no_key = encodeListener(https);
  no_key.mutable_tls(0)->mutable_certificates(1)->clear_private_key();
  EXPECT_EQ(refused(no_key), "listener 127.0.0.1_8443 tls[0] certificate[1]: has no private key");
  v1::Listener both = encodeListener(https);
  both.mutable_tls(0)->mutable_certificates(0)->mutable_certificate_chain()->set_path("/x.pem");
  EXPECT_EQ(refused(both),
            "listener 127.0.0.1_8443 tls[0] certificate[0] certificate chain: has both inline "
            "PEM and the path /x.pem");
  v1::Listener version = encodeListener(https);
  version.mutable_tls(0)->set_max_version(static_cast<v1::ServerTls::Version>(9));
  EXPECT_EQ(refused(version), "listener 127.0.0.1_8443 tls[0]: unknown max version 9");

  v1::Cluster cluster =
      encodeCluster(everyField().clusters.at("outbound|80|v1|a.default.svc.cluster.local"));
  cluster.mutable_tls()->clear_client_certificate();
  auto r = decodeCluster(cluster);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cluster outbound|80|v1|a.default.svc.cluster.local tls client certificate: has no "
            "certificate chain");
}

TEST(Codec, RedactionKeepsOriginsAndDropsInlinePem) {
  v1::Resources res = encodeResources(everyField());
  redactInlinePem(res);
  const std::string bytes = res.SerializeAsString();
  for (const char* secret : {"KEY-RSA", "KEY-EC", "CERT-RSA", "CRL\n", "CA\n"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(bytes.find("secret istio-system/shop tls.key"), std::string::npos);
  EXPECT_NE(bytes.find("/etc/client-key.pem"), std::string::npos);  // paths are not secret
}

tr::Snapshot tcpSnapshot() {
  tr::Snapshot s;
  tr::Listener l;
  l.name = "0.0.0.0_443";
  l.bind_address = "0.0.0.0";
  l.port = 443;
  l.protocol = "TLS";
  l.routes = std::make_shared<const tr::RouteTable>();
  tr::TcpRoute r;
  r.matches.push_back(tr::TcpRouteMatch{{"10.0.0.0/8"}, {"*.example.com", "a.example.org"}});
  r.matches.push_back(tr::TcpRouteMatch{{}, {"b.example.org"}});
  tr::WeightedCluster a;
  a.cluster = "outbound|443||a.default.svc.cluster.local";
  a.weight = 3;
  tr::WeightedCluster b = a;
  b.weight = 1;
  r.clusters = {a, b};
  r.total_weight = 4;
  r.origin = "default/sni tls[0]";
  l.tcp_routes.push_back(r);
  s.listeners.push_back(l);
  return s;
}

TEST(Codec, TcpRoutesSurviveTheRoundTrip) {
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(tcpSnapshot(), 3));
  ASSERT_TRUE(assembled) << assembled.error().message;
  const tr::Listener& l = assembled->snapshot->listeners.at(0);
  EXPECT_TRUE(l.isTcp());
  ASSERT_EQ(l.tcp_routes.size(), 1u);
  const tr::TcpRoute& r = l.tcp_routes[0];
  ASSERT_EQ(r.matches.size(), 2u);
  EXPECT_EQ(r.matches[0].destination_subnets, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(r.matches[0].sni_hosts, (std::vector<std::string>{"*.example.com", "a.example.org"}));
  EXPECT_EQ(r.matches[1].sni_hosts, std::vector<std::string>{"b.example.org"});
  ASSERT_EQ(r.clusters.size(), 2u);
  EXPECT_EQ(r.clusters[0].weight, 3u);
  EXPECT_EQ(r.total_weight, 4u);
  EXPECT_EQ(r.origin, "default/sni tls[0]");
}

TEST(Codec, AccessLogProvidersAndTagUpsertsSurviveTheRoundTrip) {
  tr::Snapshot s = tcpSnapshot();
  auto t = std::make_shared<tr::ListenerTelemetry>();
  tr::AccessLogProvider labels;
  labels.name = "json";
  labels.path = "/tmp/json.log";
  labels.encoding = tr::AccessLogProvider::Encoding::kLabels;
  labels.labels = {{"code", "%RESPONSE_CODE%"}, {"user", "%REQ(x-user)%"}};
  tr::compileAccessLogFormat(labels, nullptr);
  tr::AccessLogProvider envoy;
  envoy.name = "envoy";
  envoy.encoding = tr::AccessLogProvider::Encoding::kDefaultJson;
  t->access_log_providers = {labels, envoy};
  // Client side: every request to json, errors to envoy; server side: the proxy's own log.
  tr::AccessLogSink all;
  all.provider = labels;
  tr::AccessLogSink errors;
  errors.provider = envoy;
  errors.filter = "response.code >= 500";
  errors.compiled = *tr::parseAccessLogFilter(errors.filter);
  t->client_logs = {all, errors};
  tr::AccessLogSink own;
  own.own_log = true;
  t->server_logs = {own};
  tr::TagUpsert upsert;
  upsert.tag = "request_host";
  upsert.value = "request.host";
  upsert.compiled = *tr::parseAttributeValue(upsert.value);
  upsert.metrics[static_cast<size_t>(tr::IstioMetric::kRequestDuration)] = true;
  t->server.upserts = {upsert};
  s.listeners[0].telemetry = t;
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(s, 3));
  ASSERT_TRUE(assembled) << assembled.error().message;
  const auto& got = assembled->snapshot->listeners.at(0).telemetry;
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->access_log_providers.size(), 2u);
  const tr::AccessLogProvider& json = got->access_log_providers[0];
  EXPECT_EQ(json.path, "/tmp/json.log");
  EXPECT_EQ(json.encoding, tr::AccessLogProvider::Encoding::kLabels);
  EXPECT_EQ(json.labels, labels.labels);
  ASSERT_NE(json.compiled, nullptr);  // compiled again on the proxy's side
  EXPECT_EQ(json.compiled->labels().size(), 2u);
  EXPECT_EQ(got->access_log_providers[1].path, "");
  EXPECT_EQ(got->access_log_providers[1].encoding, tr::AccessLogProvider::Encoding::kDefaultJson);
  ASSERT_EQ(got->client_logs.size(), 2u);
  EXPECT_EQ(got->client_logs[0].provider.path, "/tmp/json.log");
  ASSERT_NE(got->client_logs[0].provider.compiled, nullptr);
  EXPECT_TRUE(got->client_logs[0].compiled.empty());
  EXPECT_EQ(got->client_logs[1].provider.name, "envoy");
  EXPECT_EQ(got->client_logs[1].filter, "response.code >= 500");
  EXPECT_TRUE(got->logs(false, "envoy", 503));
  EXPECT_FALSE(got->logs(false, "envoy", 200));  // the filter compiled again on the proxy's side
  EXPECT_TRUE(got->logs(false, "json", 200));
  ASSERT_EQ(got->server_logs.size(), 1u);
  EXPECT_TRUE(got->server_logs[0].own_log);
  EXPECT_TRUE(got->logs(true, "", 200));
  ASSERT_EQ(got->server.upserts.size(), 1u);
  EXPECT_TRUE(got->client.upserts.empty());
  const tr::TagUpsert& u = got->server.upserts[0];
  EXPECT_EQ(u.tag, "request_host");
  EXPECT_TRUE(u.metrics[static_cast<size_t>(tr::IstioMetric::kRequestDuration)]);
  EXPECT_FALSE(u.metrics[static_cast<size_t>(tr::IstioMetric::kRequestCount)]);
  tr::AccessLogAttributes request;
  request.host = "shop.example.com";
  std::string value;
  u.compiled.appendValue(value, request);
  EXPECT_EQ(value, "shop.example.com");
}

// useRequestIdForTraceSampling travels inverted (sample_randomly), so that a push without the
// field keeps Istio's default: sampling from the request id.
TEST(Codec, TheTracingSamplingSourceSurvivesTheRoundTrip) {
  for (const bool by_request_id : {true, false}) {
    tr::Snapshot s = tcpSnapshot();
    auto t = std::make_shared<tr::TracingSettings>();
    t->sampling_percentage = 25;
    t->sample_by_request_id = by_request_id;
    s.listeners[0].tracing = t;
    SnapshotAssembler assembler;
    auto assembled = assembler.assemble(wholePush(s, 3));
    ASSERT_TRUE(assembled) << assembled.error().message;
    const auto& got = assembled->snapshot->listeners.at(0).tracing;
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->sampling_percentage, 25);
    EXPECT_EQ(got->sample_by_request_id, by_request_id);
  }
  EXPECT_FALSE(v1::ObsTracing().sample_randomly());
}

TEST(Codec, TcpRoutesWithoutDestinationsOrOnAnHttpListenerAreRefused) {
  v1::SnapshotPush p = wholePush(tcpSnapshot(), 1);
  p.mutable_resources()->mutable_listeners(0)->mutable_tcp_routes(0)->clear_clusters();
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(p);
  ASSERT_FALSE(assembled);
  EXPECT_NE(assembled.error().message.find("forwards to no cluster"), std::string::npos)
      << assembled.error().message;

  p = wholePush(tcpSnapshot(), 1);
  p.mutable_resources()->mutable_listeners(0)->set_protocol("HTTP");
  SnapshotAssembler again;
  assembled = again.assemble(p);
  ASSERT_FALSE(assembled);
  EXPECT_NE(assembled.error().message.find("has tcp routes but protocol HTTP"), std::string::npos)
      << assembled.error().message;
}

// A sidecar's inbound HTTP listener carries tcp routes for what it sniffs as TLS; a gateway TCP
// listener may terminate TLS first (a TLS server in SIMPLE mode).
TEST(Codec, SniffedAndTerminatedTcpListenersSurviveTheRoundTrip) {
  tr::Snapshot s = tcpSnapshot();
  s.listeners[0].protocol = "TCP";
  tr::ServerTls server;
  server.sni_hosts = {"db.example.com"};
  server.certificates.push_back(
      tr::TlsCertificate{tr::PemSource{"", "/certs/db.crt", "/certs/db.crt"},
                         tr::PemSource{"", "/certs/db.key", "/certs/db.key"}});
  s.listeners[0].tls.push_back(server);
  tr::Listener inbound = s.listeners[0];
  inbound.name = "virtualInbound";
  inbound.protocol = "HTTP";
  inbound.kind = tr::ListenerKind::kInbound;
  inbound.tls.clear();
  s.listeners.push_back(inbound);
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(s, 3));
  ASSERT_TRUE(assembled) << assembled.error().message;
  ASSERT_EQ(assembled->snapshot->listeners.size(), 2u);
  for (const auto& l : assembled->snapshot->listeners) {
    EXPECT_EQ(l.tcp_routes.size(), 1u) << l.name;
    EXPECT_EQ(l.tls.size(), l.kind == tr::ListenerKind::kGateway ? 1u : 0u) << l.name;
  }

  // An HTTP gateway listener with tcp routes is still refused.
  s.listeners.pop_back();
  s.listeners[0].protocol = "HTTP";
  s.listeners[0].tls.clear();
  SnapshotAssembler again;
  EXPECT_FALSE(again.assemble(wholePush(s, 3)));
}

TEST(Codec, AnUnknownListenerKindIsRefused) {
  v1::SnapshotPush p = wholePush(everyField(), 1);
  p.mutable_resources()->mutable_listeners(0)->set_kind(static_cast<v1::Listener::Kind>(9));
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(p);
  ASSERT_FALSE(assembled);
  EXPECT_NE(assembled.error().message.find("listener 0.0.0.0_80: unknown kind 9"),
            std::string::npos)
      << assembled.error().message;
}

TEST(Codec, ATranslatedSampleRoundTrips) {
  auto r = tr::loadSnapshot(HALYARD_SOURCE_DIR "/samples/pirata", tr::ProxyIdentity{}, 1);
  ASSERT_NE(r.snapshot, nullptr);
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(*r.snapshot, 1));
  ASSERT_TRUE(assembled) << assembled.error().message;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      encodeResources(*assembled->snapshot), encodeResources(*r.snapshot)));
}

TEST(Codec, ARegexRE2RejectsIsRefusedWithItsPlace) {
  v1::SnapshotPush p = wholePush(everyField(), 1);
  p.mutable_resources()
      ->mutable_virtual_hosts(0)
      ->mutable_routes(0)
      ->mutable_match()
      ->mutable_method()
      ->set_regex("(unclosed");
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(p);
  ASSERT_FALSE(assembled);
  EXPECT_NE(assembled.error().message.find("virtual host 0.0.0.0_80/shop.example.com:80 route[0] "
                                           "method: regex \"(unclosed\" does not compile"),
            std::string::npos)
      << assembled.error().message;
}

TEST(Codec, OutOfRangeAndMissingPiecesAreRefused) {
  SnapshotAssembler assembler;
  v1::SnapshotPush port = wholePush(everyField(), 1);
  port.mutable_resources()->mutable_clusters(0)->mutable_endpoints(0)->set_port(70000);
  auto r1 = assembler.assemble(port);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("port 70000 is out of range"), std::string::npos);

  v1::SnapshotPush no_action = wholePush(everyField(), 1);
  no_action.mutable_resources()->mutable_virtual_hosts(0)->mutable_routes(2)->clear_action();
  auto r2 = assembler.assemble(no_action);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("route[2]: has no action"), std::string::npos);

  v1::SnapshotPush orphan = wholePush(everyField(), 1);
  orphan.mutable_resources()->clear_virtual_hosts();
  auto r3 = assembler.assemble(orphan);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("names virtual host shop.example.com:80, which was not sent"),
            std::string::npos);
}

TEST(Assembler, DeltasApplyOnTheirBaseOnly) {
  SnapshotAssembler assembler;
  auto first = assembler.assemble(wholePush(everyField(), 3));
  ASSERT_TRUE(first);
  assembler.commit(std::move(*first));

  v1::SnapshotPush delta;
  delta.set_version(4);
  delta.set_base_version(3);
  delta.add_removed_clusters("outbound|80|v1|a.default.svc.cluster.local");
  delta.add_removed_clusters("outbound|9080||b.default.svc.cluster.local");
  delta.add_removed_clusters("outbound|9090||c.default.svc.cluster.local");
  auto* vh = delta.mutable_resources()->add_virtual_hosts();
  *vh = encodeVirtualHost("0.0.0.0_80", everyField().listeners[0].routes->virtual_hosts[0]);
  vh->mutable_routes()->DeleteSubrange(1, 2);
  auto second = assembler.assemble(delta);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->snapshot->clusters.empty());
  EXPECT_EQ(second->snapshot->listeners.at(0).routes->virtual_hosts.at(0).routes.size(), 1u);
  EXPECT_EQ(second->snapshot->warnings, std::vector<std::string>{"a warning"});  // unchanged
  // Not committed: the assembler still serves version 3, so the same delta applies again...
  EXPECT_EQ(assembler.version(), 3u);
  EXPECT_TRUE(assembler.assemble(delta));
  // ...but not one built on another base, nor an old version.
  delta.set_base_version(2);
  auto wrong_base = assembler.assemble(delta);
  ASSERT_FALSE(wrong_base);
  EXPECT_NE(wrong_base.error().message.find("this proxy serves version 3"), std::string::npos);
  auto old = assembler.assemble(wholePush(everyField(), 3));
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().message.find("not newer"), std::string::npos);
}

// An ISTIO_MUTUAL gateway server names no certificate (the proxy's workload certificate is
// used); an inbound listener carries the registry's peer workloads; a sidecar's TCP route the
// addresses its host stands for.
TEST(Codec, IstioMutualServersPeerWorkloadsAndHostAddressesSurviveTheRoundTrip) {
  tr::ServerTls mesh;
  mesh.mode = tr::ServerTls::Mode::kIstioMutual;
  mesh.sni_hosts = {"*"};
  tr::Listener gw{"0.0.0.0_443", "0.0.0.0", 443, "HTTPS", tr::ListenerKind::kGateway,
                  nullptr,       {mesh}};
  auto decoded = decodeListener(encodeListener(gw));
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->tls.size(), 1u);
  EXPECT_EQ(decoded->tls[0].mode, tr::ServerTls::Mode::kIstioMutual);
  EXPECT_TRUE(decoded->tls[0].certificates.empty());
  v1::Listener with_cert = encodeListener(gw);
  with_cert.mutable_tls(0)->add_certificates()->mutable_certificate_chain()->set_path("/x.pem");
  auto refused = decodeListener(with_cert);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "listener 0.0.0.0_443 tls[0]: is ISTIO_MUTUAL but carries certificates (none "
            "expected)");

  tr::Snapshot s = tcpSnapshot();
  s.listeners[0].tcp_routes[0].host_addresses = {"10.96.0.7", "fd00::7"};
  tr::Listener inbound;
  inbound.name = "virtualInbound";
  inbound.bind_address = "127.0.0.1";
  inbound.port = 15006;
  inbound.protocol = "HTTP";
  inbound.kind = tr::ListenerKind::kInbound;
  inbound.routes = std::make_shared<const tr::RouteTable>();
  inbound.peer_workloads = std::make_shared<const tr::PeerWorkloads>(
      tr::PeerWorkloads{{"default", "client", "client-1", "client", "v1", "v1", "client"},
                        {"shop", "web", "web-7", "web", "unknown", "latest", "web"}});
  s.listeners.push_back(inbound);
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(wholePush(s, 3));
  ASSERT_TRUE(assembled) << assembled.error().message;
  const auto& listeners = assembled->snapshot->listeners;
  ASSERT_EQ(listeners.size(), 2u);
  EXPECT_EQ(listeners[0].tcp_routes.at(0).host_addresses,
            (std::vector<std::string>{"10.96.0.7", "fd00::7"}));
  ASSERT_TRUE(listeners[1].peer_workloads);
  const tr::PeerWorkloads& table = *listeners[1].peer_workloads;
  ASSERT_EQ(table.size(), 2u);
  const tr::PeerWorkload* web = tr::findPeerWorkload(table, "shop", "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->workload, "web-7");
  EXPECT_EQ(web->app, "web");
  EXPECT_EQ(web->version, "unknown");
  EXPECT_EQ(web->revision, "latest");
  EXPECT_EQ(tr::findPeerWorkload(table, "default", "client")->workload, "client-1");
  EXPECT_EQ(tr::findPeerWorkload(table, "default", "client")->revision, "v1");
  EXPECT_EQ(tr::findPeerWorkload(table, "default", "web"), nullptr);

  // The table travels beside the listener, once, not inside it.
  const v1::SnapshotPush whole = wholePush(s, 1);
  EXPECT_EQ(whole.resources().peer_workloads_size(), 2);
  EXPECT_TRUE(whole.resources().listeners(1).shares_peer_workloads());
  EXPECT_EQ(whole.resources().listeners(1).peer_workloads_size(), 0);
  EXPECT_FALSE(whole.resources().listeners(0).shares_peer_workloads());

  // An older control plane's rows inside the listener are still read, and still checked.
  v1::Listener old = encodeListener(inbound);
  old.set_shares_peer_workloads(false);
  for (const auto& w : *inbound.peer_workloads) *old.add_peer_workloads() = encodePeerWorkload(w);
  auto read = decodeListener(old);
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_TRUE(read->peer_workloads);
  EXPECT_EQ(read->peer_workloads->size(), 2u);
  old.mutable_peer_workloads()->SwapElements(0, 1);
  auto bad = decodeListener(old);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("peer workload default/client is out of order"),
            std::string::npos)
      << bad.error().message;
}

TEST(Codec, APeerRowsCanonicalServiceTravelsWhenItIsNotTheApp) {
  tr::PeerWorkload row{"shop", "items", "items-1", "items", "v1", "latest", "catalog"};
  v1::PeerWorkload encoded = encodePeerWorkload(row);
  EXPECT_EQ(encoded.canonical_service(), "catalog");
  EXPECT_EQ(decodePeerWorkload(encoded).canonical_service, "catalog");
  // The same as the app (and an older control plane's row): not sent, read back as the app.
  row.canonical_service = "items";
  encoded = encodePeerWorkload(row);
  EXPECT_TRUE(encoded.canonical_service().empty());
  EXPECT_EQ(decodePeerWorkload(encoded).canonical_service, "items");
}

TEST(Codec, DecodedEndpointsCarryTheirNames) {
  tr::Cluster c;
  c.name = "outbound|80||items.shop.svc.cluster.local";
  c.port = 80;
  tr::Endpoint e{"10.0.0.7", 8080};
  e.workload = "items-1";
  e.labels = {{"app", "items"},
              {"service.istio.io/canonical-name", "catalog"},
              {"app.kubernetes.io/version", "2.0"}};
  c.endpoints.push_back(e);
  auto decoded = decodeCluster(encodeCluster(c));
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->endpoints.size(), 1u);
  const tr::WorkloadNames& n = decoded->endpoints[0].names;
  EXPECT_EQ(n.app, "items");
  EXPECT_EQ(n.version, "unknown");
  EXPECT_EQ(n.canonical_service, "catalog");
  EXPECT_EQ(n.canonical_revision, "2.0");
}

// A delta moves rows of the peer table: the listeners keep sharing one table, rebuilt only when
// rows change.
TEST(Codec, PeerWorkloadRowsMoveByDelta) {
  tr::Snapshot s;
  tr::Listener inbound;
  inbound.name = "virtualInbound";
  inbound.bind_address = "127.0.0.1";
  inbound.port = 15006;
  inbound.protocol = "TCP";
  inbound.kind = tr::ListenerKind::kInbound;
  inbound.routes = std::make_shared<const tr::RouteTable>();
  inbound.peer_workloads = std::make_shared<const tr::PeerWorkloads>(tr::PeerWorkloads{
      {"a", "x", "x-1", "x", "v1", "v1", "x"}, {"b", "y", "y-1", "y", "v1", "v1", "y"}});
  s.listeners.push_back(inbound);
  SnapshotAssembler assembler;
  auto first = assembler.assemble(wholePush(s, 1));
  ASSERT_TRUE(first) << first.error().message;
  assembler.commit(std::move(*first));

  v1::SnapshotPush delta;
  delta.set_version(2);
  delta.set_base_version(1);
  delta.add_removed_peer_workloads(peerWorkloadKey("a", "x"));
  *delta.mutable_resources()->add_peer_workloads() =
      encodePeerWorkload({"a-b", "z", "z-1", "z", "v2", "canary", "z"});
  auto second = assembler.assemble(delta);
  ASSERT_TRUE(second) << second.error().message;
  const auto& table = second->snapshot->listeners.at(0).peer_workloads;
  ASSERT_TRUE(table);
  ASSERT_EQ(table->size(), 2u);
  // Sorted by (namespace, service account): "a-b" < "b".
  EXPECT_EQ((*table)[0].workload, "z-1");
  EXPECT_EQ((*table)[0].revision, "canary");
  EXPECT_EQ((*table)[1].workload, "y-1");
  EXPECT_EQ(tr::findPeerWorkload(*table, "a", "x"), nullptr);
  const auto kept = table;
  assembler.commit(std::move(*second));

  v1::SnapshotPush untouched;
  untouched.set_version(3);
  untouched.set_base_version(2);
  auto third = assembler.assemble(untouched);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->snapshot->listeners.at(0).peer_workloads, kept);  // the same table

  v1::SnapshotPush malformed;
  malformed.set_version(3);
  malformed.set_base_version(2);
  malformed.add_removed_peer_workloads("no-slash");
  EXPECT_FALSE(assembler.assemble(malformed));
}

}  // namespace
}  // namespace halyard::wire
