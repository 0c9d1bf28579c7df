// VirtualService, Gateway and deprecation analyzers, in Istio's order of registration.
#include "config/validate/analyzers/networking_analyzers.h"

namespace halyard::config {

void registerNetworkingAnalyzers(AnalyzerList& list) {
  list.push_back(makeDeprecationFieldAnalyzer());
  list.push_back(makeGatewayCertificateAnalyzer());
  list.push_back(makeConflictingGatewayAnalyzer());
  list.push_back(makeIngressGatewayPortAnalyzer());
  list.push_back(makeGatewaySecretAnalyzer());
  list.push_back(makeConflictingMeshGatewayHostsAnalyzer());
  list.push_back(makeDestinationHostAnalyzer());
  list.push_back(makeVirtualServiceDestinationRuleAnalyzer());
  list.push_back(makeVirtualServiceGatewayAnalyzer());
  list.push_back(makeJwtClaimRouteAnalyzer());
}

}  // namespace halyard::config
