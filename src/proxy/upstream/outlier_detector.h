// Outlier detection (DestinationRule outlierDetection, Envoy's consecutive-error detectors) over
// the HostHealth all workers share: whichever worker sees the failure that completes a streak
// ejects the host, and every worker skips it from then on. Ejection takes effect at once (as in
// Envoy); it ends baseEjectionTime x (number of ejections) later, checked lazily when hosts are
// picked rather than by a timer. The multiplier is forgiven by one per `interval` the host
// spends back in service (Envoy decrements it on each interval tick). maxEjectionPercent caps
// the ejected share of the cluster, but one host can always be ejected when none is.
//
// What counts (Envoy, with Istio's settings):
//  - a response: 5xx (or, with outlierDetectionHttpErrorCodes, one of those) adds to
//    consecutive5xxErrors, 502/503/504 also to consecutiveGatewayErrors; anything else resets
//    both;
//  - a locally originated failure (connect failure, connect or response timeout, reset):
//    without splitExternalLocalOriginErrors it is a 503 (a timeout a 504) for both streaks
//    above; with it, it adds to consecutiveLocalOriginFailures, which a successful connect
//    resets.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/upstream/shared_upstream.h"
#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

enum class Ejection {
  kNone,
  kConsecutive5xx,
  kConsecutiveGateway,
  kConsecutiveLocalOrigin,
  kOverflow
};

enum class LocalOrigin { kConnectFailure, kTimeout, kReset };

class OutlierDetector {
 public:
  // `hosts`: the health of every host of the cluster (for maxEjectionPercent).
  OutlierDetector(const translate::OutlierPolicy& policy, ClusterState& state,
                  const std::vector<HostHealth*>& hosts)
      : policy_(&policy), state_(&state), hosts_(&hosts) {}

  Ejection response(HostHealth& host, uint16_t status, int64_t now_ns);
  Ejection localFailure(HostHealth& host, LocalOrigin what, int64_t now_ns);
  void connected(HostHealth& host);

 private:
  Ejection eject(HostHealth& host, Ejection why, int64_t now_ns);
  bool isError(uint16_t status) const;

  const translate::OutlierPolicy* policy_;
  ClusterState* state_;
  const std::vector<HostHealth*>* hosts_;
};

}  // namespace halyard::proxy::upstream
