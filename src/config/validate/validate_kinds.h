// Istio's webhook validation, kind by kind (validate_<kind>.cc), and the sub-checks several kinds
// share. Each function reads the decoded object and reports into the ObjectReport.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/model/istio_types.h"
#include "config/validate/validate_report.h"

namespace halyard::config {

// A string field set to a non-empty value: what an Istio check of a proto3 string looks at.
inline bool isSet(const std::optional<std::string>& s) {
  return s && !s->empty();
}

void validateGateway(ObjectReport& r);
void validateVirtualService(ObjectReport& r);
// IST0130 VirtualServiceUnreachableRule and IST0131 VirtualServiceIneffectiveMatch (run by
// validateVirtualService).
void analyzeRouteReachability(ObjectReport& r);
void validateDestinationRule(ObjectReport& r);
void validateServiceEntry(ObjectReport& r);
void validateWorkloadEntry(ObjectReport& r);
void validateWorkloadGroup(ObjectReport& r);
void validateSidecar(ObjectReport& r);
void validateAuthorizationPolicy(ObjectReport& r);
void validateRequestAuthentication(ObjectReport& r);

// Server-side TLS of a Gateway server or a Sidecar ingress listener.
void checkServerTls(ObjectReport& r, const std::string& path, const model::ServerTLSSettings& tls);
// Connection pool of a traffic policy or a Sidecar.
void checkConnectionPool(ObjectReport& r, const std::string& path,
                         const model::ConnectionPoolSettings& pool);
// A route or mirror destination (also a Sidecar's egress proxy).
void checkDestination(ObjectReport& r, const std::string& path, const model::Destination& dest);
// VirtualService, DestinationRule and ServiceEntry exportTo lists.
void checkExportTo(ObjectReport& r, const std::string& path,
                   const std::vector<std::string>& export_to, bool destination_rule_with_selector);
// A WorkloadEntry spec, standalone or as a ServiceEntry endpoint; `service_ports` (the entry's
// port names) is null for a standalone WorkloadEntry, which may also use a DNS name as address.
void checkWorkloadEntrySpec(ObjectReport& r, const std::string& path,
                            const model::WorkloadEntrySpec& we,
                            const std::set<std::string>* service_ports, bool allow_fqdn);
// Labels (Kubernetes key and value syntax), each reported at path[key].
void checkLabelMap(ObjectReport& r, const std::string& path,
                   const std::map<std::string, std::string>& labels);
// ServiceEntry and Sidecar workloadSelector label keys (the CRD checks the values); false when
// one was reported.
bool checkSelectorLabelKeys(ObjectReport& r, const std::string& path,
                            const std::map<std::string, std::string>& labels);
// AuthorizationPolicy and RequestAuthentication targetRef / targetRefs kinds.
void checkPolicyTargets(ObjectReport& r, const model::Boxed<model::PolicyTargetReference>& ref,
                        const std::vector<model::PolicyTargetReference>& refs);

}  // namespace halyard::config
