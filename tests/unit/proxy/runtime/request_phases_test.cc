#include "proxy/runtime/request_phases.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace halyard::proxy::runtime {
namespace {

// The order is a contract (request_phases.h, docs/ARCHITECTURE.md): Istio's filter order, with
// route selection first because CORS and fault are per route.
TEST(RequestPhases, RunInIstiosOrder) {
  std::vector<std::string> names;
  for (const PhaseEntry& entry : kRequestPhases) names.emplace_back(phaseName(entry.phase));
  EXPECT_EQ(names, (std::vector<std::string>{"route_selection", "require_tls", "authentication",
                                             "authorization", "cors", "fault", "route_action"}));
}

TEST(RequestPhases, EveryPhaseIsFilled) {
  for (const PhaseEntry& entry : kRequestPhases) {
    EXPECT_NE(entry.run, nullptr) << phaseName(entry.phase);
  }
}

}  // namespace
}  // namespace halyard::proxy::runtime

namespace halyard::proxy::runtime {
namespace {

// remote.ip as Envoy's xff_num_trusted_hops reads X-Forwarded-For.
std::string remote(const std::string& xff, uint32_t hops, bool use_remote_address) {
  translate::Listener l;
  l.xff_trusted_hops = hops;
  l.use_remote_address = use_remote_address;
  std::vector<http::HeaderView> headers;
  if (!xff.empty()) headers.push_back({"x-forwarded-for", xff});
  http::RequestView view;
  view.headers = headers;
  return std::string(remoteAddress(l, view, "10.0.0.9"));
}

TEST(RemoteAddress, GatewaysTrustTheConfiguredHops) {
  EXPECT_EQ(remote("1.1.1.1, 2.2.2.2", 0, true), "10.0.0.9");  // no trusted proxy: the peer
  EXPECT_EQ(remote("1.1.1.1, 2.2.2.2", 1, true), "2.2.2.2");
  EXPECT_EQ(remote("1.1.1.1,2.2.2.2", 2, true), "1.1.1.1");
  EXPECT_EQ(remote("1.1.1.1, 2.2.2.2", 3, true), "10.0.0.9");  // fewer entries: the peer
  EXPECT_EQ(remote("", 1, true), "10.0.0.9");
}

TEST(RemoteAddress, SidecarsTakeWhatTheirCallerAppended) {
  EXPECT_EQ(remote("1.1.1.1, 2.2.2.2", 0, false), "2.2.2.2");
  EXPECT_EQ(remote("", 0, false), "10.0.0.9");
}

}  // namespace
}  // namespace halyard::proxy::runtime
