// TLS at the edge, configuration half: Gateway HTTPS servers -> Listener::tls (istio-semantics.md
// §2) and DestinationRule client TLS -> Cluster::tls (§3.6). The PEM text is opaque here; the
// proxy parses it.
#include <gtest/gtest.h>

#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

// base64 of "CERT-A\n", "KEY-A\n", "CA-A\n", "CA-B\n", "CRL-B\n".
constexpr std::string_view kCertB64 = "Q0VSVC1BCg==";
constexpr std::string_view kKeyB64 = "S0VZLUEK";
constexpr std::string_view kCaAB64 = "Q0EtQQo=";
constexpr std::string_view kCaBB64 = "Q0EtQgo=";
constexpr std::string_view kCrlBB64 = "Q1JMLUIK";

// A gateway (in istio-system, as the proxy) with `servers`, a VirtualService binding every host to
// svc, and `rest`.
std::string gateway(std::string_view servers, std::string_view rest = "") {
  std::string yaml = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
)" + std::string(servers) +
                     R"(---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: svc}}]
)";
  if (!rest.empty()) yaml += "---\n" + std::string(rest);
  return yaml;
}

std::string tlsSecret(std::string_view name, std::string_view extra = "") {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + std::string(name) +
         ", namespace: istio-system}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " +
         std::string(kCertB64) + "\n  tls.key: " + std::string(kKeyB64) + "\n" + std::string(extra);
}

std::vector<std::string> hostsOf(const Listener& l) {
  std::vector<std::string> out;
  for (const auto& v : l.routes->virtual_hosts) out.push_back(v.name);
  return out;
}

TEST(GatewayTlsTest, SimpleWithACredentialNameSecretInBase64) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["default/Shop.Example.com"]
    tls: {mode: SIMPLE, credentialName: shop-cert}
)",
                                            tlsSecret("shop-cert")));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 443);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->protocol, "HTTPS");
  EXPECT_EQ(l->name, "0.0.0.0_443");
  ASSERT_EQ(l->tls.size(), 1u);
  const ServerTls& t = l->tls[0];
  EXPECT_EQ(t.mode, ServerTls::Mode::kSimple);
  EXPECT_EQ(t.sni_hosts, std::vector<std::string>{"shop.example.com"});  // no ns/, lowercase
  EXPECT_EQ(t.origin, "istio-system/gw servers[0]");
  ASSERT_EQ(t.certificates.size(), 1u);
  EXPECT_EQ(t.certificates[0].certificate_chain.inline_pem, "CERT-A\n");
  EXPECT_EQ(t.certificates[0].certificate_chain.origin, "secret istio-system/shop-cert tls.crt");
  EXPECT_TRUE(t.certificates[0].certificate_chain.path.empty());
  EXPECT_EQ(t.certificates[0].private_key.inline_pem, "KEY-A\n");
  EXPECT_TRUE(t.client_ca.empty());
  EXPECT_EQ(t.min_version, TlsVersion::kTls12);  // Istio's gateway default
  EXPECT_EQ(t.max_version, TlsVersion::kAuto);
  // The route table works as for HTTP.
  EXPECT_EQ(hostsOf(*l), std::vector<std::string>{"shop.example.com:443"});
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(GatewayTlsTest, SimpleWithStringDataUsesTheGenericKeys) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: generic}
)",
                                            R"(apiVersion: v1
kind: Secret
metadata: {name: generic, namespace: istio-system}
stringData: {cert: "PLAIN-CERT\n", key: "PLAIN-KEY\n"}
)"));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 443);
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->tls.size(), 1u);
  EXPECT_EQ(l->tls[0].sni_hosts, std::vector<std::string>{"*.example.com"});
  EXPECT_EQ(l->tls[0].certificates.at(0).certificate_chain.inline_pem, "PLAIN-CERT\n");
  EXPECT_EQ(l->tls[0].certificates.at(0).private_key.origin, "secret istio-system/generic key");
}

TEST(GatewayTlsTest, MutualTakesTheCaFromTheCredential) {
  TranslateResult r = translateYaml(gateway(
      R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: MUTUAL, credentialName: with-ca, subjectAltNames: [client.example.com]}
)",
      tlsSecret("with-ca", "  ca.crt: " + std::string(kCaAB64) + "\n")));
  const Snapshot& s = snapshotOf(r);
  const ServerTls& t = listenerOn(s, 443)->tls.at(0);
  EXPECT_EQ(t.mode, ServerTls::Mode::kMutual);
  EXPECT_EQ(t.client_ca.inline_pem, "CA-A\n");
  EXPECT_EQ(t.client_ca.origin, "secret istio-system/with-ca ca.crt");
  EXPECT_TRUE(t.crl.empty());
  EXPECT_EQ(t.subject_alt_names, std::vector<std::string>{"client.example.com"});
}

TEST(GatewayTlsTest, MutualPrefersTheCacertSecret) {
  // Istio reads "<credentialName>-cacert" first, and only then the credential's own ca.crt.
  TranslateResult r = translateYaml(
      gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: OPTIONAL_MUTUAL, credentialName: split}
)",
              tlsSecret("split", "  ca.crt: " + std::string(kCaAB64) + "\n") +
                  "---\napiVersion: v1\nkind: Secret\nmetadata: {name: split-cacert, namespace: "
                  "istio-system}\ndata: {cacert: " +
                  std::string(kCaBB64) + ", crl: " + std::string(kCrlBB64) + "}\n"));
  const Snapshot& s = snapshotOf(r);
  const ServerTls& t = listenerOn(s, 443)->tls.at(0);
  EXPECT_EQ(t.mode, ServerTls::Mode::kOptionalMutual);
  EXPECT_EQ(t.client_ca.inline_pem, "CA-B\n");
  EXPECT_EQ(t.client_ca.origin, "secret istio-system/split-cacert cacert");
  EXPECT_EQ(t.crl.inline_pem, "CRL-B\n");
}

TEST(GatewayTlsTest, MutualWithoutAnyCaIsNotServed) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: MUTUAL, credentialName: no-ca}
)",
                                            tlsSecret("no-ca")));
  const Snapshot& s = snapshotOf(r);
  EXPECT_EQ(listenerOn(s, 443), nullptr);
  EXPECT_TRUE(hasWarning(r,
                         "MUTUAL TLS needs a client CA: there is no Secret "
                         "istio-system/no-ca-cacert, and Secret istio-system/no-ca has no CA "
                         "certificate (key cacert or ca.crt)"));
}

TEST(GatewayTlsTest, FilePathsAreLeftToTheProxy) {
  TranslateResult r =
      translateYaml(gateway(R"(  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    bind: 127.0.0.1
    tls:
      mode: MUTUAL
      serverCertificate: /etc/certs/server.pem
      privateKey: /etc/certs/key.pem
      caCertificates: /etc/certs/ca.pem
      caCrl: /etc/certs/ca.crl
      verifyCertificateSpki: [c2hhMjU2]
      verifyCertificateHash: ["ab:cd"]
)"));
  const Snapshot& s = snapshotOf(r);
  const Listener* l = listenerOn(s, 8443);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->name, "127.0.0.1_8443");
  const ServerTls& t = l->tls.at(0);
  EXPECT_EQ(t.certificates.at(0).certificate_chain.path, "/etc/certs/server.pem");
  EXPECT_TRUE(t.certificates.at(0).certificate_chain.inline_pem.empty());
  EXPECT_EQ(t.certificates.at(0).private_key.path, "/etc/certs/key.pem");
  EXPECT_EQ(t.client_ca.path, "/etc/certs/ca.pem");
  EXPECT_EQ(t.crl.path, "/etc/certs/ca.crl");
  EXPECT_EQ(t.verify_spki, std::vector<std::string>{"c2hhMjU2"});
  EXPECT_EQ(t.verify_hash, std::vector<std::string>{"ab:cd"});
}

TEST(GatewayTlsTest, TwoServersOnOnePortShareTheRouteTable) {
  TranslateResult r =
      translateYaml(gateway(R"(  - port: {number: 443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: cert}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com, "*.b.example.com"]
    tls:
      mode: SIMPLE
      credentialNames: [cert, cert-ecdsa]
      minProtocolVersion: TLSV1_3
      maxProtocolVersion: TLSV1_3
      cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384]
)",
                            tlsSecret("cert") + "---\n" + tlsSecret("cert-ecdsa")));
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 1u);
  const Listener& l = s.listeners[0];
  ASSERT_EQ(l.tls.size(), 2u);
  EXPECT_EQ(l.tls[0].sni_hosts, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(l.tls[0].origin, "istio-system/gw servers[0]");
  EXPECT_EQ(l.tls[1].sni_hosts, (std::vector<std::string>{"b.example.com", "*.b.example.com"}));
  EXPECT_EQ(l.tls[1].origin, "istio-system/gw servers[1]");
  EXPECT_EQ(l.tls[1].certificates.size(), 2u);
  EXPECT_EQ(l.tls[1].certificates[1].certificate_chain.origin,
            "secret istio-system/cert-ecdsa tls.crt");
  EXPECT_EQ(l.tls[1].min_version, TlsVersion::kTls13);
  EXPECT_EQ(l.tls[1].max_version, TlsVersion::kTls13);
  EXPECT_EQ(l.tls[1].cipher_suites, (std::vector<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256",
                                                              "ECDHE-RSA-AES256-GCM-SHA384"}));
  EXPECT_EQ(l.tls[0].min_version, TlsVersion::kTls12);
  // One route table for both servers' hosts.
  EXPECT_EQ(hostsOf(l), (std::vector<std::string>{"*.b.example.com:443", "a.example.com:443",
                                                  "b.example.com:443"}));
}

TEST(GatewayTlsTest, AMissingSecretSkipsOnlyThatServer) {
  TranslateResult r =
      translateYaml(gateway(R"(  - port: {number: 443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: absent}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: cert}
  - port: {number: 8443, name: https-c, protocol: HTTPS}
    hosts: [c.example.com]
    tls: {mode: SIMPLE, credentialName: in-default}
)",
                            tlsSecret("cert") + "---\napiVersion: v1\nkind: Secret\nmetadata: "
                                                "{name: in-default, namespace: default}\n"
                                                "stringData: {tls.crt: x, tls.key: y}\n"));
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 1u);  // 8443 has no server left: no listener, never plaintext
  const Listener& l = s.listeners[0];
  ASSERT_EQ(l.tls.size(), 1u);
  EXPECT_EQ(l.tls[0].sni_hosts, std::vector<std::string>{"b.example.com"});
  EXPECT_EQ(hostsOf(l), std::vector<std::string>{"b.example.com:443"});
  EXPECT_TRUE(hasWarning(r,
                         "HTTPS server on port 443 (istio-system/gw servers[0]) is not served: "
                         "Secret istio-system/absent does not exist"));
  // A Secret in the Gateway's or another namespace is not the proxy's: say where it is.
  EXPECT_TRUE(hasWarning(r,
                         "Secret istio-system/in-default does not exist; a Secret of that "
                         "name exists in default, but the gateway reads credentials from its "
                         "own namespace istio-system"));
  for (const auto& d : r.diagnostics) {
    if (d.message.find("absent") != std::string::npos) {
      EXPECT_EQ(d.code, "HAL0105");
      EXPECT_EQ(d.resource.name, "gw");
      EXPECT_EQ(d.field_path, "spec.servers[0].tls.credentialName");
    }
  }
}

TEST(GatewayTlsTest, AMissingKeyIsNotServed) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: half}
)",
                                            R"(apiVersion: v1
kind: Secret
metadata: {name: half, namespace: istio-system}
data: {tls.crt: Q0VSVC1BCg==, tls.key: "not base64!"}
)"));
  const Snapshot& s = snapshotOf(r);
  EXPECT_TRUE(s.listeners.empty());
  EXPECT_TRUE(hasWarning(r,
                         "Secret istio-system/half has no non-empty cert and key (or tls.crt "
                         "and tls.key) (tls.key is not valid base64)"));
}

TEST(GatewayTlsTest, ModesServedByTheTcpProxyAndIstioMutual) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 444, name: https-istio, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: ISTIO_MUTUAL, minProtocolVersion: TLSV1_3}
  - port: {number: 445, name: tls, protocol: TLS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: cert}
  - port: {number: 446, name: tls-istio, protocol: TLS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
)",
                                            tlsSecret("cert")));
  const Snapshot& s = snapshotOf(r);
  // PASSTHROUGH is served by the TCP proxy (tcp_tls_routes_test.cc); so is a TLS server that
  // terminates: a TCP listener with the server's TLS, its tcp routes proxying the plaintext.
  ASSERT_EQ(s.listeners.size(), 4u);
  EXPECT_EQ(s.listeners[0].port, 443);
  EXPECT_EQ(s.listeners[0].protocol, "TLS");
  EXPECT_TRUE(s.listeners[0].tls.empty());
  // ISTIO_MUTUAL names no certificate: the proxy uses its workload certificate and mesh roots.
  EXPECT_EQ(s.listeners[1].port, 444);
  EXPECT_EQ(s.listeners[1].protocol, "HTTPS");
  ASSERT_EQ(s.listeners[1].tls.size(), 1u);
  EXPECT_EQ(s.listeners[1].tls[0].mode, ServerTls::Mode::kIstioMutual);
  EXPECT_TRUE(s.listeners[1].tls[0].certificates.empty());
  EXPECT_TRUE(s.listeners[1].tls[0].client_ca.empty());
  EXPECT_EQ(s.listeners[1].tls[0].min_version, TlsVersion::kTls13);
  EXPECT_EQ(s.listeners[1].tls[0].sni_hosts, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(s.listeners[2].port, 445);
  EXPECT_EQ(s.listeners[2].protocol, "TCP");
  ASSERT_EQ(s.listeners[2].tls.size(), 1u);
  EXPECT_EQ(s.listeners[2].tls[0].mode, ServerTls::Mode::kSimple);
  EXPECT_EQ(s.listeners[3].port, 446);
  EXPECT_EQ(s.listeners[3].protocol, "TCP");
  ASSERT_EQ(s.listeners[3].tls.size(), 1u);
  EXPECT_EQ(s.listeners[3].tls[0].mode, ServerTls::Mode::kIstioMutual);
  EXPECT_FALSE(hasWarning(r, "not served"));
}

TEST(GatewayTlsTest, PlaintextAndTlsServersDoNotShareAPort) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: [a.example.com]
  - port: {number: 8080, name: https, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: cert}
)",
                                            tlsSecret("cert")));
  const Snapshot& s = snapshotOf(r);
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].protocol, "HTTP");
  EXPECT_TRUE(s.listeners[0].tls.empty());
  EXPECT_TRUE(hasWarning(
      r, "HTTPS server on port 8080 conflicts with the HTTP server already on that port"));
}

TEST(GatewayTlsTest, HttpsRedirectStaysOnPlaintextServers) {
  TranslateResult r = translateYaml(gateway(R"(  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: cert, httpsRedirect: true}
)",
                                            tlsSecret("cert")));
  const Snapshot& s = snapshotOf(r);
  ASSERT_NE(vhostFor(s, 80, "a.example.com"), nullptr);
  EXPECT_TRUE(vhostFor(s, 80, "a.example.com")->require_tls);
  ASSERT_NE(vhostFor(s, 443, "a.example.com"), nullptr);
  EXPECT_FALSE(vhostFor(s, 443, "a.example.com")->require_tls);  // already TLS: no redirect loop
}

// ---- DestinationRule client TLS ------------------------------------------------------------

// A gateway on port 80 routing /0, /1, ... to each of `destinations`, plus ext (two ports).
std::string routingTo(const std::vector<std::string>& destinations, std::string_view rest) {
  std::string yaml = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
)";
  for (size_t i = 0; i < destinations.size(); ++i) {
    yaml += "  - match: [{uri: {prefix: /" + std::to_string(i) + "}}]\n";
    yaml += "    route: [{destination: " + destinations[i] + "}]\n";
  }
  return yaml + R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.ext.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 8443, name: https-alt, protocol: HTTPS}]
---
)" + std::string(rest);
}

TEST(ClusterTlsTest, PortLevelSettingsOverrideTheTopLevel) {
  TranslateResult r = translateYaml(routingTo(
      {"{host: api.ext.com, port: {number: 443}}", "{host: api.ext.com, port: {number: 8443}}"},
      R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext-dr, namespace: default}
spec:
  host: api.ext.com
  trafficPolicy:
    tls: {mode: SIMPLE, sni: api.ext.com, caCertificates: /etc/ca.pem, subjectAltNames: [api.ext.com]}
    portLevelSettings:
    - port: {number: 8443}
      tls:
        mode: MUTUAL
        clientCertificate: /etc/client.pem
        privateKey: /etc/client-key.pem
        insecureSkipVerify: true
        caCrl: /etc/crl.pem
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& simple = s.clusters.at("outbound|443||api.ext.com");
  ASSERT_TRUE(simple.tls);
  EXPECT_EQ(simple.tls->mode, UpstreamTls::Mode::kSimple);
  EXPECT_EQ(simple.tls->sni, "api.ext.com");
  EXPECT_EQ(simple.tls->ca.path, "/etc/ca.pem");
  EXPECT_EQ(simple.tls->subject_alt_names, std::vector<std::string>{"api.ext.com"});
  EXPECT_FALSE(simple.tls->insecure_skip_verify);
  EXPECT_EQ(simple.tls->origin, "default/ext-dr trafficPolicy.tls");
  EXPECT_TRUE(simple.not_enforced.empty());
  const Cluster& mutual = s.clusters.at("outbound|8443||api.ext.com");
  ASSERT_TRUE(mutual.tls);
  EXPECT_EQ(mutual.tls->mode, UpstreamTls::Mode::kMutual);
  EXPECT_EQ(mutual.tls->client_certificate.certificate_chain.path, "/etc/client.pem");
  EXPECT_EQ(mutual.tls->client_certificate.private_key.path, "/etc/client-key.pem");
  EXPECT_TRUE(mutual.tls->ca.empty());  // the port entry replaces the whole block
  EXPECT_EQ(mutual.tls->sni, "");
  EXPECT_TRUE(mutual.tls->insecure_skip_verify);
  EXPECT_EQ(mutual.tls->crl.path, "/etc/crl.pem");
  EXPECT_EQ(mutual.tls->origin, "default/ext-dr trafficPolicy.portLevelSettings[0].tls");
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(ClusterTlsTest, SubsetsDisableAndIstioMutual) {
  TranslateResult r =
      translateYaml(routingTo({"{host: api.ext.com, port: {number: 443}, subset: plain}",
                               "{host: api.ext.com, port: {number: 443}, subset: mesh}",
                               "{host: api.ext.com, port: {number: 443}, subset: inherits}"},
                              R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext-dr, namespace: default}
spec:
  host: api.ext.com
  trafficPolicy:
    tls: {mode: SIMPLE}
  subsets:
  - name: plain
    trafficPolicy: {tls: {mode: DISABLE}}
  - name: mesh
    trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  - name: inherits
    trafficPolicy: {loadBalancer: {simple: RANDOM}}
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& plain = s.clusters.at("outbound|443|plain|api.ext.com");
  EXPECT_FALSE(plain.tls);
  EXPECT_TRUE(plain.not_enforced.empty());
  EXPECT_EQ(plain.tls_disabled_by, "default/ext-dr subsets[plain].trafficPolicy.tls");
  EXPECT_FALSE(plain.auto_mtls);
  const Cluster& mesh = s.clusters.at("outbound|443|mesh|api.ext.com");
  ASSERT_TRUE(mesh.tls);
  EXPECT_EQ(mesh.tls->mode, UpstreamTls::Mode::kIstioMutual);
  EXPECT_EQ(mesh.tls->sni, "outbound_.443_.mesh_.api.ext.com");
  EXPECT_EQ(mesh.tls->origin, "default/ext-dr subsets[mesh].trafficPolicy.tls");
  EXPECT_FALSE(mesh.auto_mtls);  // explicit: every endpoint gets mutual TLS
  EXPECT_TRUE(mesh.not_enforced.empty());
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
  const Cluster& inherits = s.clusters.at("outbound|443|inherits|api.ext.com");
  ASSERT_TRUE(inherits.tls);
  EXPECT_EQ(inherits.tls->mode, UpstreamTls::Mode::kSimple);
  EXPECT_EQ(inherits.tls->origin, "default/ext-dr trafficPolicy.tls");
}

TEST(ClusterTlsTest, SubsetPortLevelTlsNamesItsOrigin) {
  TranslateResult r = translateYaml(routingTo({"{host: api.ext.com, port: {number: 8443}, "
                                               "subset: v1}"},
                                              R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext-dr, namespace: default}
spec:
  host: api.ext.com
  subsets:
  - name: v1
    trafficPolicy:
      portLevelSettings:
      - port: {number: 8443}
        tls: {mode: SIMPLE, sni: v1.api.ext.com}
)"));
  const Snapshot& s = snapshotOf(r);
  const Cluster& c = s.clusters.at("outbound|8443|v1|api.ext.com");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->sni, "v1.api.ext.com");
  EXPECT_EQ(c.tls->origin, "default/ext-dr subsets[v1].trafficPolicy.portLevelSettings[0].tls");
}

TEST(ClusterTlsTest, CredentialNameAtAGatewayReadsItsNamespace) {
  TranslateResult r = translateYaml(routingTo(
      {"{host: api.ext.com, port: {number: 443}}", "{host: api.ext.com, port: {number: 8443}}"},
      R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext-dr, namespace: default}
spec:
  host: api.ext.com
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: client-cred}
    portLevelSettings:
    - port: {number: 8443}
      tls: {mode: MUTUAL, credentialName: absent}
---
)" + tlsSecret("client-cred", "  ca.crt: " + std::string(kCaAB64) + "\n")));
  const Snapshot& s = snapshotOf(r);
  const Cluster& c = s.clusters.at("outbound|443||api.ext.com");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->client_certificate.certificate_chain.inline_pem, "CERT-A\n");
  EXPECT_EQ(c.tls->client_certificate.private_key.origin,
            "secret istio-system/client-cred tls.key");
  EXPECT_EQ(c.tls->ca.inline_pem, "CA-A\n");
  EXPECT_FALSE(c.endpoints.empty());
  // A missing credential fails the cluster closed: no endpoints, never plaintext.
  const Cluster& broken = s.clusters.at("outbound|8443||api.ext.com");
  EXPECT_FALSE(broken.tls);
  EXPECT_TRUE(broken.endpoints.empty());
  EXPECT_TRUE(hasWarning(r,
                         "client TLS for outbound|8443||api.ext.com cannot be set up: Secret "
                         "istio-system/absent does not exist"));
}

TEST(ClusterTlsTest, SidecarsGetClientTlsAndIgnoreCredentialNamesWithoutASelector) {
  ProxyIdentity sidecar;
  sidecar.role = "sidecar";
  sidecar.namespace_ = "default";
  sidecar.name = "app";
  sidecar.labels = {{"app", "app"}};
  TranslateResult r = translateYaml(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.ext.com]
  location: MESH_EXTERNAL
  resolution: DNS
  # TLS origination: the app speaks HTTP, the sidecar TLS (as Istio's egress TLS origination).
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext-dr, namespace: default}
spec:
  host: api.ext.com
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: ca-only, caCertificates: /etc/ca.pem}
)",
                                    sidecar);
  const Snapshot& s = snapshotOf(r);
  const Cluster& c = s.clusters.at("outbound|80||api.ext.com");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->ca.path, "/etc/ca.pem");
  EXPECT_EQ(c.endpoints.at(0).port, 443);
  EXPECT_TRUE(hasWarning(r,
                         "credentialName applies at sidecars only when the DestinationRule "
                         "has a workloadSelector"));
}

}  // namespace
}  // namespace halyard::translate
