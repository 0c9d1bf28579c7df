#include <gtest/gtest.h>

#include "config/validate/analyzers/policy_analyzers.h"
#include "policy_test_util.h"

namespace halyard::config {
namespace {

using testing::runAnalyzer;
using Keys = std::vector<std::string>;

constexpr const char* kEntries = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-lower}
spec:
  hosts: [db.example.com]
  ports:
  - {number: 5432, name: pg, protocol: tcp}
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 9000, name: unset}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: with-address}
spec:
  hosts: [db2.example.com]
  addresses: [10.1.2.3]
  ports: [{number: 5432, name: pg, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: allocated}
spec:
  hosts: [db3.example.com]
  ports: [{number: 5432, name: pg, protocol: TCP}]
status:
  addresses: [{host: db3.example.com, value: 240.240.0.1}]
)";

TEST(ProtocolAddressesAnalyzer, TcpOrUnsetPortsNeedAddresses) {
  auto a = makeProtocolAddressesAnalyzer();
  auto run = runAnalyzer(*a, kEntries);
  // One per offending port; allocated status addresses only help with DNS capture.
  ASSERT_EQ(run.keys(), (Keys{"IST0134 ServiceEntry allocated", "IST0134 ServiceEntry tcp-lower",
                              "IST0134 ServiceEntry tcp-lower"}));
  EXPECT_EQ(run.diagnostics[0].field_path, "spec.ports[0]");
  EXPECT_NE(run.diagnostics[0].message.find("5432"), std::string::npos);
  EXPECT_EQ(run.diagnostics[1].field_path, "spec.ports[2]");
}

TEST(ProtocolAddressesAnalyzer, DnsCaptureAcceptsAllocatedStatusAddresses) {
  auto a = makeProtocolAddressesAnalyzer();
  MeshConfig mesh;
  mesh.proxy_metadata["ISTIO_META_DNS_CAPTURE"] = "true";
  EXPECT_EQ(runAnalyzer(*a, kEntries, mesh).keys(),
            (Keys{"IST0134 ServiceEntry tcp-lower", "IST0134 ServiceEntry tcp-lower"}));
}

TEST(ProtocolAddressesAnalyzer, DnsCaptureWithAutoAllocationSilencesAll) {
  auto a = makeProtocolAddressesAnalyzer();
  MeshConfig mesh;
  mesh.proxy_metadata["ISTIO_META_DNS_CAPTURE"] = "true";
  mesh.proxy_metadata["ISTIO_META_DNS_AUTO_ALLOCATE"] = "true";
  EXPECT_TRUE(runAnalyzer(*a, kEntries, mesh).keys().empty());
  // Auto-allocation without DNS capture does not help: nothing answers DNS with the address.
  mesh.proxy_metadata.erase("ISTIO_META_DNS_CAPTURE");
  EXPECT_EQ(runAnalyzer(*a, kEntries, mesh).keys().size(), 3u);
}

std::string entry(const std::string& name, const std::string& ns, const std::string& protocol,
                  const std::string& export_to = "") {
  std::string y =
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: " + name +
      ", namespace: " + ns + "}\nspec:\n  hosts: [example.com]\n" +
      "  ports: [{number: 8443, name: p-" + name + ", protocol: " + protocol + "}]\n";
  if (!export_to.empty()) y += "  exportTo: [" + export_to + "]\n";
  return y + "---\n";
}

TEST(ConflictingServiceEntryProtocolAnalyzer, DifferentProtocolsOnSameHostPort) {
  auto a = makeConflictingServiceEntryProtocolAnalyzer();
  auto run = runAnalyzer(*a, entry("a", "default", "HTTPS") + entry("b", "default", "http") +
                                 entry("c", "default", "HTTPS"));
  ASSERT_EQ(run.keys(), (Keys{"IST0177 ServiceEntry default/a", "IST0177 ServiceEntry default/b",
                              "IST0177 ServiceEntry default/c"}));
  EXPECT_NE(run.diagnostics[0].message.find("HTTP, HTTPS"), std::string::npos);
  EXPECT_NE(run.diagnostics[0].message.find("example.com port 8443"), std::string::npos);
}

TEST(ConflictingServiceEntryProtocolAnalyzer, SameProtocolIgnoringCaseIsFine) {
  auto a = makeConflictingServiceEntryProtocolAnalyzer();
  EXPECT_TRUE(runAnalyzer(*a, entry("a", "default", "HTTPS") + entry("b", "other", "https"))
                  .keys()
                  .empty());
}

TEST(ConflictingServiceEntryProtocolAnalyzer, ExportToScopes) {
  auto a = makeConflictingServiceEntryProtocolAnalyzer();
  // Each visible only in its own namespace: they never meet.
  EXPECT_TRUE(
      runAnalyzer(*a, entry("a", "ns1", "HTTP", "\".\"") + entry("b", "ns2", "HTTPS", "\".\""))
          .keys()
          .empty());
  // Exported to ns2, where b lives and is visible.
  EXPECT_EQ(runAnalyzer(*a, entry("a", "ns1", "HTTP", "ns2") + entry("b", "ns2", "HTTPS", "\".\""))
                .keys(),
            (Keys{"IST0177 ServiceEntry ns1/a", "IST0177 ServiceEntry ns2/b"}));
  // A mesh-wide entry meets every local one.
  EXPECT_EQ(runAnalyzer(*a, entry("a", "ns1", "HTTP") + entry("b", "ns2", "TCP", "\".\"")).keys(),
            (Keys{"IST0177 ServiceEntry ns1/a", "IST0177 ServiceEntry ns2/b"}));
  // "~" is visible nowhere.
  EXPECT_TRUE(runAnalyzer(*a, entry("a", "ns1", "HTTP") + entry("b", "ns1", "TCP", "\"~\""))
                  .keys()
                  .empty());
}

}  // namespace
}  // namespace halyard::config
