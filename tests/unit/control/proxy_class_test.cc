// A hello's identity and class: a sidecar's listener ports get their defaults and must not clash,
// gateway replicas share one class, and sidecars differing in anything translation reads do not.
#include "control/push/proxy_class.h"

#include <gtest/gtest.h>

namespace halyard::control {
namespace {

v1::ProxyHello sidecar(const std::string& name = "reviews-1") {
  v1::ProxyHello h;
  h.set_name(name);
  h.set_namespace_("default");
  h.set_role("sidecar");
  h.set_service_account("reviews");
  (*h.mutable_labels())["app"] = "reviews";
  // Not in name order: the app port is the first one the hello lists.
  auto* http = h.add_ports();
  http->set_name("http");
  http->set_number(9080);
  auto* admin = h.add_ports();
  admin->set_name("admin");
  admin->set_number(9090);
  return h;
}

v1::ProxyHello gateway(const std::string& name) {
  v1::ProxyHello h;
  h.set_name(name);
  h.set_namespace_("istio-system");
  h.set_role("gateway");
  (*h.mutable_labels())["istio"] = "ingressgateway";
  return h;
}

ProxyInfo info(const v1::ProxyHello& hello) {
  auto r = proxyInfoFromHello(hello, 1, "ipv4:127.0.0.1:5000");
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ProxyInfo{};
}

std::string refusal(const v1::ProxyHello& hello) {
  auto r = proxyInfoFromHello(hello, 1, "peer");
  EXPECT_FALSE(r);
  if (r) return "";
  EXPECT_EQ(r.error().kind, common::ErrorKind::kInvalidArgument);
  return r.error().message;
}

TEST(ProxyClass, ASidecarsIdentityIsWhatItsHelloSaysWithDefaults) {
  const translate::ProxyIdentity id = proxyIdentity(info(sidecar()));
  EXPECT_EQ(id.role, "sidecar");
  EXPECT_EQ(id.name, "reviews-1");
  EXPECT_EQ(id.namespace_, "default");
  EXPECT_EQ(id.labels, (std::map<std::string, std::string>{{"app", "reviews"}}));
  EXPECT_EQ(id.service_account, "reviews");
  EXPECT_EQ(id.address, "127.0.0.1");
  EXPECT_EQ(id.app_port, 9080);
  EXPECT_EQ(id.inbound_port, 15006);
  EXPECT_EQ(id.outbound_port, 15001);

  v1::ProxyHello h = sidecar();
  h.set_address("10.1.2.3");
  h.set_inbound_port(15123);
  h.set_outbound_port(15124);
  h.clear_ports();
  const translate::ProxyIdentity explicit_id = proxyIdentity(info(h));
  EXPECT_EQ(explicit_id.address, "10.1.2.3");
  EXPECT_EQ(explicit_id.app_port, 0);  // no app: no inbound listener
  EXPECT_EQ(explicit_id.inbound_port, 15123);
  EXPECT_EQ(explicit_id.outbound_port, 15124);
}

TEST(ProxyClass, GatewayReplicasShareOneClassAndSidecarsDoNot) {
  EXPECT_EQ(proxyClassKey(info(gateway("gw-1"))), proxyClassKey(info(gateway("gw-2"))));
  v1::ProxyHello other_labels = gateway("gw-3");
  (*other_labels.mutable_labels())["istio"] = "egressgateway";
  EXPECT_NE(proxyClassKey(info(gateway("gw-1"))), proxyClassKey(info(other_labels)));
  // A gateway's hello fields that only sidecars use do not split its class.
  v1::ProxyHello ports = gateway("gw-4");
  ports.set_inbound_port(15123);
  EXPECT_EQ(proxyClassKey(info(gateway("gw-1"))), proxyClassKey(info(ports)));

  const std::string base = proxyClassKey(info(sidecar()));
  EXPECT_EQ(base, proxyClassKey(info(sidecar())));
  std::vector<v1::ProxyHello> variants(6, sidecar());
  variants[0].set_name("reviews-2");
  variants[1].set_service_account("other");
  variants[2].set_address("10.1.2.3");
  variants[3].mutable_ports(0)->set_number(9081);
  variants[4].set_inbound_port(15123);
  variants[5].set_outbound_port(15124);
  for (const auto& v : variants) {
    EXPECT_NE(proxyClassKey(info(v)), base) << v.ShortDebugString();
  }
  // Explicit defaults are the defaults.
  v1::ProxyHello defaults = sidecar();
  defaults.set_inbound_port(15006);
  defaults.set_outbound_port(15001);
  defaults.set_address("127.0.0.1");
  EXPECT_EQ(proxyClassKey(info(defaults)), base);
}

TEST(ProxyClass, LabelsCannotForgeAnotherClass) {
  v1::ProxyHello one = gateway("gw");
  one.mutable_labels()->clear();
  (*one.mutable_labels())["a"] = "b\n1:c=d";
  v1::ProxyHello two = gateway("gw");
  two.mutable_labels()->clear();
  (*two.mutable_labels())["a"] = "b";
  (*two.mutable_labels())["c"] = "d";
  EXPECT_NE(proxyClassKey(info(one)), proxyClassKey(info(two)));
}

TEST(ProxyClass, ASidecarsPortsMustNotClash) {
  v1::ProxyHello out_of_range = sidecar();
  out_of_range.set_inbound_port(70000);
  EXPECT_EQ(refusal(out_of_range), "inbound_port 70000 is out of range");
  out_of_range = sidecar();
  out_of_range.set_outbound_port(65536);
  EXPECT_EQ(refusal(out_of_range), "outbound_port 65536 is out of range");

  v1::ProxyHello same = sidecar();
  same.set_outbound_port(15006);  // the default inbound port
  EXPECT_EQ(refusal(same), "inbound_port and outbound_port are both 15006");

  v1::ProxyHello app_inbound = sidecar();
  app_inbound.set_inbound_port(9080);
  EXPECT_EQ(refusal(app_inbound), "port http 9080 is also the sidecar's inbound_port");
  v1::ProxyHello app_outbound = sidecar();
  app_outbound.mutable_ports(1)->set_number(15001);
  EXPECT_EQ(refusal(app_outbound), "port admin 15001 is also the sidecar's outbound_port");

  v1::ProxyHello app_range = sidecar();
  app_range.mutable_ports(0)->set_number(80000);
  EXPECT_EQ(refusal(app_range), "port http 80000 is out of range");

  // A gateway's hello is not held to them.
  v1::ProxyHello gw = gateway("gw");
  gw.set_inbound_port(15001);
  EXPECT_TRUE(proxyInfoFromHello(gw, 1, "peer"));
}

}  // namespace
}  // namespace halyard::control
