// MeshConfig protocolDetectionTimeout: read with Istio's validation (a duration of at least 1ms,
// or 0s), and given to the sidecar listeners that sniff: the inbound listener in front of an app
// port of undeclared protocol, and the outbound listener (CONNECT tunnels to such ports).
#include <gtest/gtest.h>

#include "translate/mesh_settings.h"
#include "translate_test_util.h"

namespace halyard::translate {
namespace {

using namespace testing;

std::string meshConfig(const std::string& mesh) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
         "data:\n  mesh: |\n    " +
         mesh + "\n---\n";
}

TEST(ProtocolDetectionTimeout, IstiosDefaultIsNoTimeout) {
  EXPECT_EQ(readMeshSettings(parseConfig("")).settings.protocol_detection_timeout, Millis(0));
  const MeshSettingsSource s =
      readMeshSettings(parseConfig(meshConfig("protocolDetectionTimeout: 250ms")));
  ASSERT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.settings.protocol_detection_timeout, Millis(250));
  const MeshSettingsSource off =
      readMeshSettings(parseConfig(meshConfig("protocolDetectionTimeout: 0s")));
  ASSERT_TRUE(off.error.empty()) << off.error;
  EXPECT_EQ(off.settings.protocol_detection_timeout, Millis(0));
}

TEST(ProtocolDetectionTimeout, ProblemsAreSentences) {
  auto error = [](const std::string& value) {
    return readMeshSettings(parseConfig(meshConfig("protocolDetectionTimeout: " + value))).error;
  };
  EXPECT_NE(error("soon").find("protocolDetectionTimeout \"soon\" is not a duration of at least "
                               "1ms or 0s"),
            std::string::npos)
      << error("soon");
  EXPECT_NE(error("0.5ms").find("at least 1ms"), std::string::npos) << error("0.5ms");
  EXPECT_NE(error("[1s]").find("protocolDetectionTimeout is a"), std::string::npos)
      << error("[1s]");
}

ProxyIdentity sidecar(uint16_t app_port) {
  ProxyIdentity p;
  p.role = "sidecar";
  p.namespace_ = "default";
  p.labels = {{"app", "db"}};
  p.name = "db-1";
  p.service_account = "db";
  p.address = "10.1.0.5";
  p.app_port = app_port;
  p.inbound_port = 15006;
  p.outbound_port = 15001;
  return p;
}

const Listener* listenerNamed(const Snapshot& s, std::string_view name) {
  for (const auto& l : s.listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// db: port 5432 undeclared (sniffed), 6432 declared TCP.
constexpr std::string_view kServices = R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  selector: {app: db}
  ports: [{name: db, port: 5432}, {name: tcp-pool, port: 6432}]
)";

TEST(ProtocolDetectionTimeout, GoesToTheListenersThatSniff) {
  const std::string yaml = meshConfig("protocolDetectionTimeout: 300ms") + std::string(kServices);
  TranslateResult sniffed = translateYaml(yaml, sidecar(5432));
  const Listener* in = listenerNamed(snapshotOf(sniffed), "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->protocol, "HTTP");
  EXPECT_FALSE(in->tcp_routes.empty());
  EXPECT_EQ(in->protocol_detection_timeout, Millis(300));
  const Listener* out = listenerNamed(snapshotOf(sniffed), "virtualOutbound");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->protocol_detection_timeout, Millis(300));

  // A declared TCP port is not sniffed for HTTP, but PERMISSIVE still tells TLS from plaintext
  // by the first bytes: the timeout goes there too.
  TranslateResult tcp = translateYaml(yaml, sidecar(6432));
  const Listener* tcp_in = listenerNamed(snapshotOf(tcp), "virtualInbound");
  ASSERT_NE(tcp_in, nullptr);
  EXPECT_EQ(tcp_in->protocol, "TCP");
  EXPECT_EQ(tcp_in->protocol_detection_timeout, Millis(300));
}

}  // namespace
}  // namespace halyard::translate
