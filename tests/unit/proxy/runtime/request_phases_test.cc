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
