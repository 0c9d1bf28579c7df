#include <gmock/gmock.h>

#include "validate_test_util.h"

namespace halyard::config {
namespace {

using testing::describe;
using ::testing::ElementsAre;
using testing::errorPaths;
using ::testing::IsEmpty;
using testing::validate;

std::string object(const std::string& kind, const std::string& spec,
                   const std::string& name = "obj") {
  return "apiVersion: networking.istio.io/v1\nkind: " + kind + "\nmetadata:\n  name: " + name +
         "\n  namespace: ns\nspec:\n" + spec;
}

// --- Gateway -----------------------------------------------------------------------------------

// A Gateway with one server: the port block and the rest of the server (hosts default to one).
std::string gateway(const std::string& port, const std::string& rest = "",
                    const std::string& hosts = "[\"*.example.com\"]") {
  return object("Gateway", "  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n" +
                               port + "    hosts: " + hosts + "\n" + rest);
}

const std::string kHttp = "      number: 80\n      name: http\n      protocol: HTTP\n";
const std::string kHttps = "      number: 443\n      name: https\n      protocol: HTTPS\n";

TEST(GatewayValidation, AcceptsHttpAndHttps) {
  auto d = validate(gateway(kHttp, "    tls:\n      httpsRedirect: true\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(gateway(kHttps, "    tls:\n      mode: SIMPLE\n      credentialName: cert\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

TEST(GatewayValidation, Name) {
  EXPECT_THAT(errorPaths(validate(object("Gateway", "  servers: []\n", "my.gw"))),
              ElementsAre("metadata.name", "spec.servers"));
}

TEST(GatewayValidation, ServerHosts) {
  auto hosts = [](const std::string& h) { return errorPaths(validate(gateway(kHttp, "", h))); };
  EXPECT_THAT(hosts("[\"*\", \"ns/a.example.com\", \"./b.example.com\", \"*/c.com\", 10.0.0.1]"),
              IsEmpty());
  EXPECT_THAT(hosts("[]"), ElementsAre("spec.servers[0].hosts"));
  EXPECT_THAT(hosts("[reviews]"), ElementsAre("spec.servers[0].hosts[0]"));  // short name
  EXPECT_THAT(hosts("[\"foo*.example.com\"]"), ElementsAre("spec.servers[0].hosts[0]"));
  EXPECT_THAT(hosts("[\"Bad_Ns/a.com\"]"), ElementsAre("spec.servers[0].hosts[0]"));
  EXPECT_THAT(hosts("[\"~/a.com\"]"), ElementsAre("spec.servers[0].hosts[0]"));
  EXPECT_THAT(hosts("[\"/a.com\"]"), ElementsAre("spec.servers[0].hosts[0]"));
}

TEST(GatewayValidation, Ports) {
  EXPECT_THAT(
      errorPaths(validate(gateway("      number: 80\n      name: http\n      protocol: FOO\n"))),
      ElementsAre("spec.servers[0].port.protocol"));
  EXPECT_THAT(
      errorPaths(validate(gateway("      number: 0\n      name: http\n      protocol: HTTP\n"))),
      ElementsAre("spec.servers[0].port.number"));
  EXPECT_THAT(errorPaths(validate(gateway(kHttp + "      targetPort: 8080\n"))),
              ElementsAre("spec.servers[0].port.targetPort"));
  EXPECT_THAT(
      errorPaths(validate(gateway("      number: 80\n      name: \"\"\n      protocol: HTTP\n"))),
      ElementsAre("spec.servers[0].port.name"));
}

TEST(GatewayValidation, UniquePortNames) {
  auto d = validate(object("Gateway", "  servers:\n  - port:\n" + kHttp +
                                          "    hosts: [a.com]\n"
                                          "  - port:\n      number: 8080\n      name: http\n"
                                          "      protocol: HTTP\n    hosts: [b.com]\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.servers[1].port.name"));
}

TEST(GatewayValidation, Bind) {
  EXPECT_THAT(errorPaths(validate(gateway(kHttp, "    bind: 0.0.0.0\n"))), IsEmpty());
  EXPECT_THAT(errorPaths(validate(gateway(kHttp, "    bind: localhost\n"))),
              ElementsAre("spec.servers[0].bind"));
  auto d = validate(gateway("      number: 0\n      name: uds\n      protocol: HTTP\n",
                            "    bind: unix:///var/run/gw.sock\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(gateway(kHttp, "    bind: unix:///var/run/gw.sock\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.servers[0].port.number"));
  d = validate(gateway("      number: 0\n      name: uds\n      protocol: HTTP\n",
                       "    bind: unix://relative\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.servers[0].bind"));
}

TEST(GatewayValidation, TlsPerProtocol) {
  EXPECT_THAT(errorPaths(validate(gateway(kHttps))), ElementsAre("spec.servers[0].tls"));
  EXPECT_THAT(errorPaths(validate(
                  gateway(kHttp, "    tls:\n      mode: SIMPLE\n      credentialName: c\n"))),
              ElementsAre("spec.servers[0].tls"));
  auto tcp = "      number: 31400\n      name: tcp\n      protocol: TCP\n";
  EXPECT_THAT(errorPaths(validate(gateway(tcp, "    tls:\n      httpsRedirect: true\n"))),
              ElementsAre("spec.servers[0].tls"));
}

TEST(GatewayValidation, TlsModes) {
  auto tls = [](const std::string& t) {
    return errorPaths(validate(gateway(kHttps, "    tls:\n" + t)));
  };
  EXPECT_THAT(
      tls("      mode: SIMPLE\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n"),
      IsEmpty());
  EXPECT_THAT(tls("      mode: SIMPLE\n"), ElementsAre("spec.servers[0].tls.serverCertificate",
                                                       "spec.servers[0].tls.privateKey"));
  EXPECT_THAT(
      tls("      mode: MUTUAL\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n"),
      ElementsAre("spec.servers[0].tls.caCertificates"));
  EXPECT_THAT(tls("      mode: MUTUAL\n      credentialName: cert\n"), IsEmpty());
  EXPECT_THAT(tls("      mode: ISTIO_MUTUAL\n      credentialName: cert\n"),
              ElementsAre("spec.servers[0].tls.credentialName"));
  EXPECT_THAT(tls("      mode: SIMPLE\n      credentialName: a\n      serverCertificate: /c.pem\n"
                  "      privateKey: /k.pem\n"),
              ElementsAre("spec.servers[0].tls"));  // two certificate sources
  EXPECT_THAT(
      tls("      mode: SIMPLE\n      tlsCertificates:\n      - serverCertificate: /c.pem\n"),
      ElementsAre("spec.servers[0].tls.tlsCertificates[0].privateKey"));
  EXPECT_THAT(tls("      mode: SIMPLE\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n"
                  "      caCrl: /crl.pem\n"),
              ElementsAre("spec.servers[0].tls.caCrl"));
  EXPECT_THAT(tls("      mode: PASSTHROUGH\n"), IsEmpty());
}

// --- DestinationRule ---------------------------------------------------------------------------

std::string dr(const std::string& body) {
  return object("DestinationRule", "  host: reviews.prod.svc.cluster.local\n" + body);
}

TEST(DestinationRuleValidation, Host) {
  EXPECT_THAT(
      errorPaths(validate(object("DestinationRule", "  host: \"*.prod.svc.cluster.local\"\n"))),
      IsEmpty());
  EXPECT_THAT(errorPaths(validate(object("DestinationRule", "  host: a..b\n"))),
              ElementsAre("spec.host"));
}

TEST(DestinationRuleValidation, Subsets) {
  auto d =
      validate(dr("  subsets:\n  - name: v1\n    labels:\n      version: v1\n  - name: v1\n"
                  "  - name: V_2\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.subsets[1].name", "spec.subsets[2].name"));
  d = validate(dr("  subsets:\n  - name: v1\n    labels:\n      version: \"v1!\"\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.subsets[0].labels[version]"));
}

TEST(DestinationRuleValidation, TrafficPolicyNeedsAField) {
  EXPECT_THAT(errorPaths(validate(dr("  trafficPolicy: {}\n"))), ElementsAre("spec.trafficPolicy"));
  auto d =
      validate(dr("  trafficPolicy:\n    tunnel:\n      targetHost: proxy.example.com\n"
                  "      targetPort: 3128\n    proxyProtocol:\n      version: V1\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.trafficPolicy"));
}

TEST(DestinationRuleValidation, LoadBalancer) {
  auto lb = [](const std::string& l) {
    return errorPaths(validate(dr("  trafficPolicy:\n    loadBalancer:\n" + l)));
  };
  EXPECT_THAT(lb("      consistentHash:\n        maglev:\n          tableSize: 65537\n"),
              IsEmpty());
  EXPECT_THAT(lb("      consistentHash:\n        maglev:\n          tableSize: 1000\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize"));
  EXPECT_THAT(lb("      consistentHash:\n        minimumRingSize: 1024\n        ringHash:\n"
                 "          minimumRingSize: 1024\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize"));
  EXPECT_THAT(lb("      consistentHash:\n        httpCookie:\n          name: \"\"\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name"));
  EXPECT_THAT(lb("      simple: ROUND_ROBIN\n      warmup:\n        duration: 60s\n        "
                 "aggression: 0.5\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.warmup.aggression"));
}

TEST(DestinationRuleValidation, LocalityLoadBalancing) {
  auto loc = [](const std::string& l) {
    return errorPaths(
        validate(dr("  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 5\n"
                    "    loadBalancer:\n      localityLbSetting:\n" +
                    l)));
  };
  EXPECT_THAT(loc("        distribute:\n        - from: us-west/zone1/*\n          to:\n"
                  "            \"us-west/zone1/*\": 80\n            \"us-west/zone2/*\": 20\n"),
              IsEmpty());
  EXPECT_THAT(loc("        distribute:\n        - from: us-west/*\n          to:\n            "
                  "\"us-west/*\": 90\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to"));
  EXPECT_THAT(loc("        failover:\n        - from: us-east\n          to: us-east\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]"));
  EXPECT_THAT(loc("        failover:\n        - from: us-east\n          to: eu-west\n"
                  "        distribute:\n        - from: a\n          to:\n            b: 100\n"),
              ElementsAre("spec.trafficPolicy.loadBalancer.localityLbSetting"));
  EXPECT_THAT(
      loc("        distribute:\n        - from: \"*/zone\"\n          to:\n            b: 100\n"),
      ElementsAre("spec.trafficPolicy.loadBalancer.localityLbSetting.distribute"));
}

TEST(DestinationRuleValidation, ConnectionPoolAndOutlierDetection) {
  auto tp = [](const std::string& t) { return errorPaths(validate(dr("  trafficPolicy:\n" + t))); };
  EXPECT_THAT(
      tp("    connectionPool:\n      tcp:\n        maxConnections: 100\n        idleTimeout: 0s\n"
         "      http:\n        http2MaxRequests: 1000\n        idleTimeout: 1h\n"),
      IsEmpty());
  EXPECT_THAT(tp("    connectionPool: {}\n"), ElementsAre("spec.trafficPolicy.connectionPool"));
  EXPECT_THAT(tp("    connectionPool:\n      http:\n        maxRetries: -1\n"),
              ElementsAre("spec.trafficPolicy.connectionPool.http.maxRetries"));
  EXPECT_THAT(tp("    connectionPool:\n      http:\n        h2UpgradePolicy: UPGRADE\n        "
                 "useClientProtocol: true\n"),
              ElementsAre("spec.trafficPolicy.connectionPool.http.useClientProtocol"));
  EXPECT_THAT(tp("    connectionPool:\n      tcp:\n        idleTimeout: 1x\n"),
              ElementsAre("spec.trafficPolicy.connectionPool.tcp.idleTimeout"));
  EXPECT_THAT(tp("    outlierDetection:\n      maxEjectionPercent: 120\n"),
              ElementsAre("spec.trafficPolicy.outlierDetection.maxEjectionPercent"));
  EXPECT_THAT(tp("    outlierDetection:\n      consecutiveLocalOriginFailures: 3\n"),
              ElementsAre("spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures"));
  EXPECT_THAT(tp("    outlierDetection:\n      interval: 1.5ms\n"),
              ElementsAre("spec.trafficPolicy.outlierDetection.interval"));
}

TEST(DestinationRuleValidation, ClientTls) {
  auto tls = [](const std::string& t) {
    return errorPaths(validate(dr("  trafficPolicy:\n    tls:\n" + t)));
  };
  EXPECT_THAT(tls("      mode: ISTIO_MUTUAL\n"), IsEmpty());
  EXPECT_THAT(tls("      mode: MUTUAL\n"), ElementsAre("spec.trafficPolicy.tls.clientCertificate",
                                                       "spec.trafficPolicy.tls.privateKey"));
  EXPECT_THAT(tls("      mode: MUTUAL\n      credentialName: c\n"), IsEmpty());
  EXPECT_THAT(tls("      mode: SIMPLE\n      credentialName: c\n      caCertificates: /ca.pem\n"),
              ElementsAre("spec.trafficPolicy.tls.credentialName"));
  EXPECT_THAT(
      tls("      mode: SIMPLE\n      insecureSkipVerify: true\n      subjectAltNames: [a]\n"),
      ElementsAre("spec.trafficPolicy.tls.insecureSkipVerify"));
}

TEST(DestinationRuleValidation, PortLevelSettingsAndTunnel) {
  auto tp = [](const std::string& t) { return errorPaths(validate(dr("  trafficPolicy:\n" + t))); };
  EXPECT_THAT(tp("    portLevelSettings:\n    - port:\n        number: 80\n      tls:\n        "
                 "mode: DISABLE\n"),
              IsEmpty());
  EXPECT_THAT(tp("    portLevelSettings:\n    - port:\n        number: 80\n"),
              ElementsAre("spec.trafficPolicy.portLevelSettings[0]"));
  EXPECT_THAT(tp("    portLevelSettings:\n    - tls:\n        mode: DISABLE\n"),
              ElementsAre("spec.trafficPolicy.portLevelSettings[0].port"));
  EXPECT_THAT(
      tp("    tunnel:\n      protocol: GET\n      targetHost: \"bad host\"\n      targetPort: 0\n"),
      ElementsAre("spec.trafficPolicy.tunnel.protocol", "spec.trafficPolicy.tunnel.targetHost",
                  "spec.trafficPolicy.tunnel.targetPort"));
}

TEST(DestinationRuleValidation, WorkloadSelectorExportTo) {
  auto d =
      validate(dr("  workloadSelector:\n    matchLabels:\n      app: a\n  exportTo: [\".\"]\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  d = validate(dr("  workloadSelector:\n    matchLabels:\n      app: a\n  exportTo: [\"*\"]\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.exportTo"));
  d = validate(dr("  workloadSelector:\n    matchLabels:\n      app: a\n  exportTo: [\".\", b]\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.exportTo"));
}

// --- ServiceEntry, WorkloadEntry, WorkloadGroup --------------------------------------------------

std::string se(const std::string& body) {
  return object("ServiceEntry", body);
}

TEST(ServiceEntryValidation, HostsAndAddresses) {
  auto d = validate(
      se("  hosts: [\"*.example.com\", api.example.com]\n  addresses: [10.0.0.0/16, 2001:db8::1]\n"
         "  ports:\n  - number: 443\n    name: https\n    protocol: TLS\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
  EXPECT_THAT(errorPaths(validate(se("  hosts: [\"a..com\"]\n"))), ElementsAre("spec.hosts[0]"));
  EXPECT_THAT(errorPaths(validate(se("  hosts: [a.com]\n  addresses: [1.2.3.4/99, 01.2.3.4]\n"))),
              ElementsAre("spec.addresses[0]", "spec.addresses[1]"));
}

TEST(ServiceEntryValidation, Ports) {
  auto d = validate(
      se("  hosts: [a.com]\n  ports:\n  - number: 80\n    name: HTTP_web\n    protocol: HTTPX\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.ports[0].name", "spec.ports[0].protocol"));
}

TEST(ServiceEntryValidation, ResolutionModes) {
  auto d = validate(
      se("  hosts: [a.com]\n  resolution: STATIC\n  ports:\n  - number: 80\n    name: http\n"
         "  endpoints:\n  - address: 10.0.0.1\n    ports:\n      http: 8080\n"
         "  - address: b.com\n  - address: 10.0.0.2\n    ports:\n      grpc: 9000\n"));
  EXPECT_THAT(errorPaths(d),
              ElementsAre("spec.endpoints[1].address", "spec.endpoints[2].ports[grpc]"));
  d = validate(se("  hosts: [\"*.a.com\"]\n  resolution: DNS\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.hosts[0]"));  // wildcard hosts need endpoints
  d = validate(se("  hosts: [a.com]\n  resolution: DNS\n  endpoints:\n  - address: \"b..com\"\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.endpoints[0].address"));
  d =
      validate(se("  hosts: [a.com, b.com]\n  resolution: DNS\n  ports:\n  - number: 5432\n"
                  "    name: tcp\n    protocol: TCP\n"));
  EXPECT_THAT(errorPaths(d), ElementsAre("spec.ports[0].protocol"));
}

TEST(ServiceEntryValidation, SelectorAndExportTo) {
  EXPECT_THAT(errorPaths(validate(
                  se("  hosts: [a.com]\n  workloadSelector:\n    labels:\n      \"*\": v\n"))),
              ElementsAre("spec.workloadSelector.labels[*]"));
  EXPECT_THAT(errorPaths(validate(se("  hosts: [a.com]\n  exportTo: [\"~\"]\n"))), IsEmpty());
}

TEST(WorkloadEntryValidation, Address) {
  auto we = [](const std::string& s) { return errorPaths(validate(object("WorkloadEntry", s))); };
  EXPECT_THAT(we("  address: 10.0.0.1\n  ports:\n    http: 8080\n  labels:\n    app: a\n"),
              IsEmpty());
  EXPECT_THAT(we("  address: vm.example.com\n"), IsEmpty());
  EXPECT_THAT(we("  address: unix:///var/run/a.sock\n"), IsEmpty());
  EXPECT_THAT(we("  address: \"bad address\"\n"), ElementsAre("spec.address"));
  EXPECT_THAT(we("  address: \"\"\n"), ElementsAre("spec.address"));
  EXPECT_THAT(we("  address: \"\"\n  network: remote\n"), IsEmpty());
  EXPECT_THAT(we("  address: 10.0.0.1\n  labels:\n    app: \"-bad\"\n"),
              ElementsAre("spec.labels[app]"));
}

TEST(WorkloadGroupValidation, Probe) {
  auto wg = [](const std::string& s) {
    return errorPaths(
        validate(object("WorkloadGroup", "  template:\n    ports:\n      http: 80\n" + s)));
  };
  EXPECT_THAT(wg("  probe:\n    httpGet:\n      port: 80\n      path: /ready\n"), IsEmpty());
  EXPECT_THAT(wg("  probe:\n    periodSeconds: 5\n"), ElementsAre("spec.probe"));
  EXPECT_THAT(wg("  probe:\n    exec:\n      command: []\n"),
              ElementsAre("spec.probe.exec.command"));
  EXPECT_THAT(
      wg("  probe:\n    httpGet:\n      port: 80\n      httpHeaders:\n      - name: x_custom\n"),
      ElementsAre("spec.probe.httpGet.httpHeaders[0].name"));
  EXPECT_THAT(wg("  metadata:\n    labels:\n      \"a/b/c\": v\n"),
              ElementsAre("spec.metadata.labels[a/b/c]"));
}

// --- Sidecar ----------------------------------------------------------------------------------

std::string sidecar(const std::string& body) {
  return object("Sidecar", body);
}

TEST(SidecarValidation, AcceptsTypicalSidecar) {
  auto d = validate(
      sidecar("  egress:\n  - hosts: [\"./*\", \"istio-system/*\", \"~/*\"]\n"
              "  ingress:\n  - port:\n      number: 9080\n      protocol: HTTP\n      name: http\n"
              "    defaultEndpoint: 127.0.0.1:8080\n"
              "  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n"));
  EXPECT_THAT(d, IsEmpty()) << describe(d);
}

TEST(SidecarValidation, EmptyAndSelector) {
  EXPECT_THAT(errorPaths(validate(sidecar("  workloadSelector:\n    labels:\n      app: a\n"))),
              ElementsAre("spec"));
  EXPECT_THAT(errorPaths(validate(sidecar("  workloadSelector:\n    labels:\n      \"a*\": b\n"
                                          "  egress:\n  - hosts: [\"*/*\"]\n"))),
              ElementsAre("spec.workloadSelector.labels[a*]"));
}

TEST(SidecarValidation, EgressListeners) {
  auto egress = [](const std::string& e) {
    return errorPaths(validate(sidecar("  egress:\n" + e)));
  };
  EXPECT_THAT(egress("  - hosts: [reviews]\n"), ElementsAre("spec.egress[0].hosts[0]"));
  EXPECT_THAT(egress("  - hosts: [\"ns/foo*.com\"]\n"), ElementsAre("spec.egress[0].hosts[0]"));
  EXPECT_THAT(egress("  - hosts: []\n"), ElementsAre("spec.egress[0].hosts"));
  EXPECT_THAT(egress("  - hosts: [\"*/*\"]\n  - port:\n      number: 80\n      protocol: HTTP\n"
                     "    hosts: [\"*/*\"]\n"),
              ElementsAre("spec.egress[0]"));  // the catch-all must come last
  EXPECT_THAT(egress("  - port:\n      number: 80\n      protocol: HTTP\n    hosts: [\"*/*\"]\n"
                     "  - port:\n      number: 80\n      protocol: HTTP\n    hosts: [\"*/*\"]\n"),
              ElementsAre("spec.egress[1].port.number"));
  EXPECT_THAT(egress("  - port:\n      number: 0\n      protocol: HTTP\n    bind: 127.0.0.1\n    "
                     "hosts: [\"*/*\"]\n"),
              ElementsAre("spec.egress[0].bind"));
  EXPECT_THAT(egress("  - port:\n      number: 0\n      protocol: HTTP\n    bind: unix:///sock\n"
                     "    captureMode: IPTABLES\n    hosts: [\"*/*\"]\n"),
              ElementsAre("spec.egress[0].captureMode"));
  EXPECT_THAT(egress("  - port:\n      number: 8080\n      protocol: HTTP\n      targetPort: 80\n"
                     "    hosts: [\"*/*\"]\n"),
              ElementsAre("spec.egress[0].port.targetPort"));
}

TEST(SidecarValidation, IngressListeners) {
  auto ingress = [](const std::string& i) {
    return errorPaths(validate(sidecar("  ingress:\n" + i)));
  };
  const std::string port =
      "  - port:\n      number: 9443\n      protocol: HTTPS\n      name: https\n";
  EXPECT_THAT(ingress(port + "    defaultEndpoint: 10.0.0.1:8080\n"),
              ElementsAre("spec.ingress[0].defaultEndpoint"));
  EXPECT_THAT(ingress(port + "    defaultEndpoint: 127.0.0.1:http\n"),
              ElementsAre("spec.ingress[0].defaultEndpoint"));
  EXPECT_THAT(ingress(port + "    defaultEndpoint: \"[::1]:8080\"\n"), IsEmpty());
  EXPECT_THAT(
      ingress(port +
              "    tls:\n      mode: SIMPLE\n      serverCertificate: /c\n      privateKey: /k\n"),
      IsEmpty());
  EXPECT_THAT(ingress(port + "    tls:\n      mode: ISTIO_MUTUAL\n"),
              ElementsAre("spec.ingress[0].tls.mode"));
  EXPECT_THAT(ingress(port + "    tls:\n      mode: SIMPLE\n      credentialName: c\n"),
              ElementsAre("spec.ingress[0].tls.credentialName"));
  EXPECT_THAT(
      ingress("  - port:\n      number: 80\n      protocol: HTTP\n    tls:\n      mode: SIMPLE\n"
              "      serverCertificate: /c\n      privateKey: /k\n"),
      ElementsAre("spec.ingress[0].tls"));
  EXPECT_THAT(ingress(port + port), ElementsAre("spec.ingress[1].port.number"));
  EXPECT_THAT(
      ingress("  - port:\n      number: 80\n      protocol: HTTP\n    connectionPool: {}\n"),
      ElementsAre("spec.ingress[0].connectionPool"));
}

TEST(SidecarValidation, OutboundTrafficPolicy) {
  auto otp = [](const std::string& o) {
    return errorPaths(validate(sidecar("  outboundTrafficPolicy:\n" + o)));
  };
  EXPECT_THAT(
      otp("    mode: ALLOW_ANY\n    egressProxy:\n      host: proxy.example.com\n      port:\n"
          "        number: 3128\n"),
      IsEmpty());
  EXPECT_THAT(
      otp("    egressProxy:\n      host: proxy.example.com\n      port:\n        number: 3128\n"),
      ElementsAre("spec.outboundTrafficPolicy.egressProxy"));
  EXPECT_THAT(otp("    mode: ALLOW_ANY\n    egressProxy:\n      host: proxy.example.com\n"),
              ElementsAre("spec.outboundTrafficPolicy.egressProxy.port"));
}

}  // namespace
}  // namespace halyard::config
