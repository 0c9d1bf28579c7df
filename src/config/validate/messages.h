// Istio's analysis message types (pkg/config/analysis/msg/messages.yaml): code, name and level.
// Analyzers report through these so codes and levels never drift between call sites.
#pragma once

#include <string_view>

#include "config/model/diagnostic.h"

namespace halyard::config::msg {

struct MessageType {
  std::string_view code;
  std::string_view name;
  Level level;
};

// Halyard's own, for problems Istio has no code for (a file that is not YAML at all).
inline constexpr MessageType kInvalidYaml{"HAL0001", "InvalidYAML", Level::kError};
// The same resource defined twice across the analyzed files: the later definition wins, as a
// second `kubectl apply` would.
inline constexpr MessageType kDuplicateResource{"HAL0002", "DuplicateResource", Level::kWarning};

inline constexpr MessageType kDeprecated{"IST0002", "Deprecated", Level::kWarning};
inline constexpr MessageType kReferencedResourceNotFound{"IST0101", "ReferencedResourceNotFound",
                                                         Level::kError};
inline constexpr MessageType kSchemaValidationError{"IST0106", "SchemaValidationError",
                                                    Level::kError};
inline constexpr MessageType kConflictingMeshGatewayVirtualServiceHosts{
    "IST0109", "ConflictingMeshGatewayVirtualServiceHosts", Level::kError};
inline constexpr MessageType kConflictingSidecarWorkloadSelectors{
    "IST0110", "ConflictingSidecarWorkloadSelectors", Level::kError};
inline constexpr MessageType kMultipleSidecarsWithoutWorkloadSelectors{
    "IST0111", "MultipleSidecarsWithoutWorkloadSelectors", Level::kError};
inline constexpr MessageType kVirtualServiceDestinationPortSelectorRequired{
    "IST0112", "VirtualServiceDestinationPortSelectorRequired", Level::kError};
inline constexpr MessageType kPortNameIsNotUnderNamingConvention{
    "IST0118", "PortNameIsNotUnderNamingConvention", Level::kInfo};
inline constexpr MessageType kExternalNameServiceTypeInvalidPortName{
    "IST0150", "ExternalNameServiceTypeInvalidPortName", Level::kWarning};
inline constexpr MessageType kNoMatchingWorkloadsFound{"IST0127", "NoMatchingWorkloadsFound",
                                                       Level::kWarning};
inline constexpr MessageType kNoServerCertificateVerificationDestinationLevel{
    "IST0128", "NoServerCertificateVerificationDestinationLevel", Level::kWarning};
inline constexpr MessageType kNoServerCertificateVerificationPortLevel{
    "IST0129", "NoServerCertificateVerificationPortLevel", Level::kWarning};
inline constexpr MessageType kVirtualServiceUnreachableRule{
    "IST0130", "VirtualServiceUnreachableRule", Level::kWarning};
inline constexpr MessageType kVirtualServiceIneffectiveMatch{
    "IST0131", "VirtualServiceIneffectiveMatch", Level::kInfo};
inline constexpr MessageType kVirtualServiceHostNotFoundInGateway{
    "IST0132", "VirtualServiceHostNotFoundInGateway", Level::kWarning};
inline constexpr MessageType kServiceEntryAddressesRequired{
    "IST0134", "ServiceEntryAddressesRequired", Level::kWarning};
inline constexpr MessageType kGatewayDuplicateCertificate{"IST0138", "GatewayDuplicateCertificate",
                                                          Level::kWarning};
inline constexpr MessageType kIngressRouteRulesNotAffected{
    "IST0140", "IngressRouteRulesNotAffected", Level::kWarning};
inline constexpr MessageType kConflictingGateways{"IST0145", "ConflictingGateways", Level::kError};
inline constexpr MessageType kJwtClaimBasedRoutingWithoutRequestAuthN{
    "IST0149", "JwtClaimBasedRoutingWithoutRequestAuthN", Level::kError};
inline constexpr MessageType kInvalidGatewayCredential{"IST0161", "InvalidGatewayCredential",
                                                       Level::kError};
inline constexpr MessageType kGatewayPortNotDefinedOnService{
    "IST0162", "GatewayPortNotDefinedOnService", Level::kWarning};
inline constexpr MessageType kReferencedInternalGateway{"IST0165", "ReferencedInternalGateway",
                                                        Level::kWarning};
inline constexpr MessageType kIneffectiveSelector{"IST0166", "IneffectiveSelector",
                                                  Level::kWarning};
inline constexpr MessageType kIneffectivePolicy{"IST0167", "IneffectivePolicy", Level::kWarning};
inline constexpr MessageType kNegativeConditionStatus{"IST0171", "NegativeConditionStatus",
                                                      Level::kWarning};
inline constexpr MessageType kDestinationRuleSubsetNotSelectPods{
    "IST0173", "DestinationRuleSubsetNotSelectPods", Level::kError};
inline constexpr MessageType kUnknownDestinationRuleHost{"IST0174", "UnknownDestinationRuleHost",
                                                         Level::kWarning};
inline constexpr MessageType kJwksUriFetchUnrestricted{"IST0175", "JwksUriFetchUnrestricted",
                                                       Level::kWarning};
inline constexpr MessageType kConflictingServiceEntryProtocol{
    "IST0177", "ConflictingServiceEntryProtocol", Level::kWarning};

}  // namespace halyard::config::msg
