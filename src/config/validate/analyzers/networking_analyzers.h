// The VirtualService, Gateway and deprecation analyzers of `istioctl analyze`, one per file, each
// under Istio's name. registerNetworkingAnalyzers adds them all; the factories let tests run one
// alone.
#pragma once

#include <memory>

#include "config/validate/analysis.h"

namespace halyard::config {

// gateway.IngressGatewayPortAnalyzer: IST0101 / IST0162.
std::unique_ptr<Analyzer> makeIngressGatewayPortAnalyzer();
// gateway.SecretAnalyzer: IST0101 / IST0161.
std::unique_ptr<Analyzer> makeGatewaySecretAnalyzer();
// gateway.ConflictingGatewayAnalyzer: IST0145.
std::unique_ptr<Analyzer> makeConflictingGatewayAnalyzer();
// gateway.CertificateAnalyzer: IST0138.
std::unique_ptr<Analyzer> makeGatewayCertificateAnalyzer();
// virtualservice.ConflictingMeshGatewayHostsAnalyzer: IST0109.
std::unique_ptr<Analyzer> makeConflictingMeshGatewayHostsAnalyzer();
// virtualservice.DestinationHostAnalyzer: IST0101 / IST0112 / IST0140.
std::unique_ptr<Analyzer> makeDestinationHostAnalyzer();
// virtualservice.DestinationRuleAnalyzer: IST0101.
std::unique_ptr<Analyzer> makeVirtualServiceDestinationRuleAnalyzer();
// virtualservice.GatewayAnalyzer: IST0101 / IST0132 / IST0165.
std::unique_ptr<Analyzer> makeVirtualServiceGatewayAnalyzer();
// virtualservice.JWTClaimRouteAnalyzer: IST0149.
std::unique_ptr<Analyzer> makeJwtClaimRouteAnalyzer();
// deprecation.FieldAnalyzer: IST0002.
std::unique_ptr<Analyzer> makeDeprecationFieldAnalyzer();

}  // namespace halyard::config
