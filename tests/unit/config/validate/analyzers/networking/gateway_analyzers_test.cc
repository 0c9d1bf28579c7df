#include <gtest/gtest.h>

#include "run_analyzer.h"

namespace halyard::config {
namespace {

using testing::keys;
using testing::runAnalyzer;
using Keys = std::vector<std::string>;

constexpr std::string_view kPortAnalyzer = "gateway.IngressGatewayPortAnalyzer";

TEST(IngressGatewayPortAnalyzer, SelectorWithoutPods) {
  auto d = runAnalyzer(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector:
    istio: ingresstypo
)",
                       std::string(kPortAnalyzer));
  ASSERT_EQ(keys(d), Keys{"IST0101 Gateway gw"});
  EXPECT_EQ(d[0].message,
            "Referenced selector not found: \"istio=ingresstypo\" (no pod carries these labels)");
  EXPECT_EQ(d[0].pos.line, 7);  // the "istio: ingresstypo" label
}

TEST(IngressGatewayPortAnalyzer, PortsOfTheDefaultIngressService) {
  auto d = runAnalyzer(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
  - port: {number: 8004, name: http, protocol: HTTP}
    hosts: ["*"]
)",
                       std::string(kPortAnalyzer));
  ASSERT_EQ(keys(d), Keys{"IST0162 Gateway gw"});
  EXPECT_NE(d[0].message.find("8004"), std::string::npos);
  EXPECT_EQ(d[0].field_path, "spec.servers[1].port.number");
}

TEST(IngressGatewayPortAnalyzer, ServicePortTargetPortAndNamedTargetPort) {
  // Service port 80 -> targetPort 8003, and port 9000 -> the pod's container port "admin" (9090).
  const std::string base = R"(
apiVersion: v1
kind: Pod
metadata: {name: gw-pod, namespace: edge, labels: {app: edge-gw}}
spec:
  containers: [{name: istio-proxy, ports: [{name: admin, containerPort: 9090}]}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: edge}
spec:
  selector: {app: edge-gw}
  ports:
  - {name: http, port: 80, targetPort: 8003}
  - {name: admin, port: 9000, targetPort: admin}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  selector: {app: edge-gw}
  servers:
)";
  for (int port : {80, 8003, 9090}) {
    auto d = runAnalyzer(base + "  - port: {number: " + std::to_string(port) +
                             ", name: p, protocol: HTTP}\n    hosts: ['*']\n",
                         std::string(kPortAnalyzer));
    EXPECT_TRUE(d.empty()) << port;
  }
  for (int port : {53, 8004}) {
    auto d = runAnalyzer(base + "  - port: {number: " + std::to_string(port) +
                             ", name: p, protocol: HTTP}\n    hosts: ['*']\n",
                         std::string(kPortAnalyzer));
    EXPECT_EQ(keys(d), Keys{"IST0162 Gateway edge/gw"}) << port;
  }
}

TEST(IngressGatewayPortAnalyzer, ServicesOfOtherNamespacesOrWithoutSelectorDoNotCount) {
  auto d = runAnalyzer(R"(
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, labels: {app: gw}}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: b}
spec:
  selector: {app: gw}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: manual, namespace: a}
spec:
  ports: [{port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: a}
spec:
  selector: {app: gw}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
)",
                       std::string(kPortAnalyzer));
  EXPECT_EQ(keys(d), Keys{"IST0162 Gateway a/gw"});
}

constexpr std::string_view kValidCertBase64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJqakNDQVRPZ0F3SUJBZ0lVUGVlakp1L3FxNGNEVU5ta2lXY1JP"
    "YzBXS3FRd0NnWUlLb1pJemowRUF3SXcKR3pFWk1CY0dBMVVFQXd3UWRHVnpkQzVsZUdGdGNHeGxMbU52YlRBZ0Z3MHlO"
    "akV5TURFd09EUXlNREZhR0E4eQpNVEkyTVRFd056QTROREl3TVZvd0d6RVpNQmNHQTFVRUF3d1FkR1Z6ZEM1bGVHRnRj"
    "R3hsTG1OdmJUQlpNQk1HCkJ5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEEwSUFCR1VaNVljeFdTdEFoWmVqSW1JVU1rZkhH"
    "M2RrVURjWUQyNjgKT1BQb1VmbUloTFhBR3RKVzhNOXZRQitZUm92QkxSbk1tbnMydVFZS251SFc1V1VzZXJPalV6QlJN"
    "QjBHQTFVZApEZ1FXQkJRK0VCcFA5dW1GWENic1JjYkEwVUNPc3k1Z3lUQWZCZ05WSFNNRUdEQVdnQlErRUJwUDl1bUZY"
    "Q2JzClJjYkEwVUNPc3k1Z3lUQVBCZ05WSFJNQkFmOEVCVEFEQVFIL01Bb0dDQ3FHU000OUJBTUNBMGtBTUVZQ0lRRHMK"
    "VkhQWm40aEJTaDJMNk5mZ2I0ZzdodXFNN05jSGY5WHJ3L285YWhyTUV3SWhBTkh0T3JlUnh2aVZRWVBUN3FvZApLRWQr"
    "aTNaazBQVVRwbDlwTWFqTVYvSkYKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

// A self-signed certificate whose notAfter lies before its notBefore, both in the past.
constexpr std::string_view kExpiredCertPem = R"(      -----BEGIN CERTIFICATE-----
      MIIBLzCB1QIUPodDOcoJtuKJgxqm8kjw2jlg82QwCgYIKoZIzj0EAwIwGjEYMBYG
      A1UEAwwPb2xkLmV4YW1wbGUuY29tMB4XDTI2MTIwMTA4NDIwNVoXDTI2MTEzMDA4
      NDIwNVowGjEYMBYGA1UEAwwPb2xkLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYI
      KoZIzj0DAQcDQgAEZRnlhzFZK0CFl6MiYhQyR8cbd2RQNxgPbrw48+hR+YiEtcAa
      0lbwz29AH5hGi8EtGcyaeza5Bgqe4dblZSx6szAKBggqhkjOPQQDAgNJADBGAiEA
      s5XxRAkcdTO8WjYYHjkrgiNkzn9amLymOWkQ6mtiJ1ECIQCHO6V+iHZbYlfejSgI
      Zb5fzTnhHobP8foT2+AsCel/AA==
      -----END CERTIFICATE-----
)";

std::string gatewayWithCredential(const std::string& name, const std::string& credential) {
  return R"(
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: )" +
         name + R"(}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: )" +
         credential + "}\n";
}

TEST(GatewaySecretAnalyzer, SecretsLiveWithTheGatewayPods) {
  std::string yaml = R"(
apiVersion: v1
kind: Secret
metadata: {name: good, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: )" + std::string(kValidCertBase64) +
                     R"(
  tls.key: bm90LWNoZWNrZWQ=
---
apiVersion: v1
kind: Secret
metadata: {name: elsewhere, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: )" + std::string(kValidCertBase64) +
                     R"(
  tls.key: bm90LWNoZWNrZWQ=
)";
  yaml += gatewayWithCredential("ok", "good");
  yaml += gatewayWithCredential("missing", "nope");
  yaml += gatewayWithCredential("wrong-namespace", "elsewhere");
  auto d = runAnalyzer(yaml, "gateway.SecretAnalyzer");
  EXPECT_EQ(keys(d), (Keys{"IST0101 Gateway missing", "IST0101 Gateway wrong-namespace"}));
  for (const auto& m : d) EXPECT_EQ(m.field_path, "spec.servers[0].tls.credentialName");
}

TEST(GatewaySecretAnalyzer, InvalidCredentials) {
  // Generic keys with a valid certificate pass; the other secrets each fail one way.
  std::string yaml = R"(
apiVersion: v1
kind: Secret
metadata: {name: generic-ok, namespace: istio-system}
data:
  cert: )" + std::string(kValidCertBase64) +
                     R"(
  key: bm90LWNoZWNrZWQ=
---
apiVersion: v1
kind: Secret
metadata: {name: no-key, namespace: istio-system}
data:
  tls.crt: )" + std::string(kValidCertBase64) +
                     R"(
---
apiVersion: v1
kind: Secret
metadata: {name: garbage, namespace: istio-system}
data: {tls.crt: aHVzaCBodXNoIGh1c2gK, tls.key: c2VjcmV0IHNlY3JldAo=}
---
apiVersion: v1
kind: Secret
metadata: {name: expired, namespace: istio-system}
stringData:
  tls.key: not-checked
  tls.crt: |
)" + std::string(kExpiredCertPem);
  yaml += gatewayWithCredential("generic-ok", "generic-ok");
  yaml += gatewayWithCredential("no-key", "no-key");
  yaml += gatewayWithCredential("garbage", "garbage");
  yaml += gatewayWithCredential("expired", "expired");
  auto d = runAnalyzer(yaml, "gateway.SecretAnalyzer");
  ASSERT_EQ(keys(d),
            (Keys{"IST0161 Gateway expired", "IST0161 Gateway garbage", "IST0161 Gateway no-key"}));
  for (const auto& m : d) {
    if (m.resource.name == "expired") {
      EXPECT_NE(m.message.find("expired"), std::string::npos);
    }
    if (m.resource.name == "garbage") {
      EXPECT_NE(m.message.find("PEM"), std::string::npos);
    }
  }
}

TEST(GatewaySecretAnalyzer, GatewayWithoutPods) {
  auto d = runAnalyzer(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: nothing-here}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: x}
)",
                       "gateway.SecretAnalyzer");
  EXPECT_EQ(keys(d), Keys{"IST0101 Gateway gw"});
}

constexpr std::string_view kConflictAnalyzer = "gateway.ConflictingGatewayAnalyzer";

std::string serverGateway(const std::string& name, const std::string& selector, int port,
                          const std::string& host) {
  return "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name +
         "}\nspec:\n  selector: " + selector +
         "\n  servers:\n  - port: {number: " + std::to_string(port) +
         ", name: p, protocol: HTTP}\n    hosts: [\"" + host + "\"]\n";
}

TEST(ConflictingGatewayAnalyzer, SamePortMatchingHostsSameWorkload) {
  auto d = runAnalyzer(serverGateway("a", "{istio: ingressgateway}", 80, "foo.bar") +
                           serverGateway("b", "{istio: ingressgateway}", 80, "*.bar") +
                           serverGateway("c", "{istio: ingressgateway}", 81, "foo.bar") +
                           serverGateway("d", "{istio: ingressgateway}", 80, "other.com"),
                       std::string(kConflictAnalyzer));
  EXPECT_EQ(keys(d), (Keys{"IST0145 Gateway a", "IST0145 Gateway b"}));
}

TEST(ConflictingGatewayAnalyzer, WorkloadOverlapBySelectorOrPod) {
  const std::string pod = R"(
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {x: "1", y: "2"}}
)";
  // {x} and {y} share pod p; {z} selects nothing in common.
  auto d = runAnalyzer(pod + serverGateway("gx", "{x: \"1\"}", 80, "h.com") +
                           serverGateway("gy", "{y: \"2\"}", 80, "h.com") +
                           serverGateway("gz", "{z: \"3\"}", 80, "h.com"),
                       std::string(kConflictAnalyzer));
  EXPECT_EQ(keys(d), (Keys{"IST0145 Gateway gx", "IST0145 Gateway gy"}));
}

TEST(ConflictingGatewayAnalyzer, ServersWithoutPortNeverConflict) {
  auto d = runAnalyzer(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a}
spec:
  selector: {istio: ingressgateway}
  servers: [{hosts: [foo.bar]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b}
spec:
  selector: {istio: ingressgateway}
  servers: [{hosts: [foo.bar]}]
)",
                       std::string(kConflictAnalyzer));
  EXPECT_TRUE(d.empty());
}

std::string tlsGateway(const std::string& name, const std::string& ns, const std::string& selector,
                       const std::string& credential) {
  return "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  selector: " + selector +
         "\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [" +
         name + ".example.com]\n    tls: {mode: SIMPLE, credentialName: " + credential + "}\n";
}

TEST(GatewayCertificateAnalyzer, DuplicateCertificateOnSupersetSelector) {
  auto d = runAnalyzer(
      tlsGateway("a", "istio-system", "{istio: ingressgateway}", "shared") +
          tlsGateway("b", "istio-system", "{istio: ingressgateway}", "shared") +
          tlsGateway("c", "default", "{istio: ingressgateway}", "narrow") +
          tlsGateway("d", "istio-system", "{istio: ingressgateway, type: internal}", "narrow") +
          tlsGateway("e", "istio-system", "{istio: ingressgateway}", "own"),
      "gateway.CertificateAnalyzer");
  // c's selector is contained in d's, not the other way round: only c is reported.
  EXPECT_EQ(keys(d), (Keys{"IST0138 Gateway default/c", "IST0138 Gateway istio-system/a",
                           "IST0138 Gateway istio-system/b"}));
}

TEST(GatewayCertificateAnalyzer, FileCertificatesCompareCertAndKey) {
  const std::string head =
      "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ";
  const std::string body =
      "}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 443, name: "
      "https, protocol: HTTPS}\n    hosts: [x.com]\n    tls: {mode: SIMPLE, serverCertificate: "
      "/c.pem, privateKey: ";
  auto d = runAnalyzer(head + "a" + body + "/k.pem}\n" + head + "b" + body + "/k.pem}\n" + head +
                           "c" + body + "/other.pem}\n",
                       "gateway.CertificateAnalyzer");
  EXPECT_EQ(keys(d), (Keys{"IST0138 Gateway a", "IST0138 Gateway b"}));
}

}  // namespace
}  // namespace halyard::config
