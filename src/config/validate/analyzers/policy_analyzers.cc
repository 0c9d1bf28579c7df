// DestinationRule, ServiceEntry, Sidecar, security and other analyzers.
#include "config/validate/analyzers/policy_analyzers.h"

namespace halyard::config {

void registerPolicyAnalyzers(AnalyzerList& list) {
  list.push_back(makeCaCertificateAnalyzer());
  list.push_back(makePodNotSelectedAnalyzer());
  list.push_back(makeProtocolAddressesAnalyzer());
  list.push_back(makeConflictingServiceEntryProtocolAnalyzer());
  list.push_back(makeSidecarSelectorAnalyzer());
  list.push_back(makeAuthorizationPoliciesAnalyzer());
  list.push_back(makeBlockedCidrsAnalyzer());
  list.push_back(makeGatewaySelectorAnalyzer());
  list.push_back(makeConditionAnalyzer());
  list.push_back(makePortNameAnalyzer());
}

}  // namespace halyard::config
