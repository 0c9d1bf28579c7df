// The DestinationRule, ServiceEntry, Sidecar, security, Gateway API selector and status-condition
// analyzers of `istioctl analyze`, one per file, each under Istio's name. registerPolicyAnalyzers
// adds them all; the factories let tests run one alone.
#pragma once

#include <memory>

#include "config/validate/analysis.h"

namespace halyard::config {

// destinationrule.CaCertificateAnalyzer: IST0128 / IST0129.
std::unique_ptr<Analyzer> makeCaCertificateAnalyzer();
// destinationrule.PodNotSelectedAnalyzer: IST0173 / IST0174.
std::unique_ptr<Analyzer> makePodNotSelectedAnalyzer();
// serviceentry.ProtocolAddressesAnalyzer: IST0134.
std::unique_ptr<Analyzer> makeProtocolAddressesAnalyzer();
// serviceentry.ConflictingServiceEntryProtocolAnalyzer: IST0177.
std::unique_ptr<Analyzer> makeConflictingServiceEntryProtocolAnalyzer();
// sidecar.SelectorAnalyzer: IST0101 / IST0110 / IST0111 / IST0167.
std::unique_ptr<Analyzer> makeSidecarSelectorAnalyzer();
// authz.AuthorizationPoliciesAnalyzer: IST0127 / IST0101.
std::unique_ptr<Analyzer> makeAuthorizationPoliciesAnalyzer();
// authn.BlockedCIDRsAnalyzer: IST0175.
std::unique_ptr<Analyzer> makeBlockedCidrsAnalyzer();
// k8sgateway.SelectorAnalyzer: IST0166.
std::unique_ptr<Analyzer> makeGatewaySelectorAnalyzer();
// conditions.ConditionAnalyzer: IST0171.
std::unique_ptr<Analyzer> makeConditionAnalyzer();
// service.PortNameAnalyzer: IST0118.
std::unique_ptr<Analyzer> makePortNameAnalyzer();

}  // namespace halyard::config
