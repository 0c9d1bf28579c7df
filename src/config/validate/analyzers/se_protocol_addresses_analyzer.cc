// serviceentry.ProtocolAddressesAnalyzer: a ServiceEntry port carrying TCP (or an unset protocol,
// which may turn out to be TCP) is matched by destination address and port only, so the entry
// needs addresses (IST0134). Not needed when addresses are allocated for it: spec.addresses, or
// DNS capture with auto-allocation in the mesh proxyMetadata, or DNS capture with addresses the
// controller already allocated in status.addresses.
#include <string>

#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

bool metadataTrue(const MeshConfig& mesh, std::string_view key) {
  return policy::valueOr(mesh.proxy_metadata, key) == "true";
}

bool hasStatusAddresses(const AnalysisContext& ctx, const model::ServiceEntry& se) {
  const Object* src = ctx.sourceOf(se.meta);
  const Node* status = src ? src->root.get("status") : nullptr;
  const Node* addresses = status ? status->get("addresses") : nullptr;
  return addresses && addresses->isList() && !addresses->items.empty();
}

bool isTcpOrUnset(const std::optional<std::string>& protocol) {
  const std::string p = protocol.value_or("");
  return p.empty() || policy::equalsIgnoreCase(p, "TCP");
}

class ProtocolAddressesAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "serviceentry.ProtocolAddressesAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    const bool dns_capture = metadataTrue(ctx.mesh(), "ISTIO_META_DNS_CAPTURE");
    if (dns_capture && (metadataTrue(ctx.mesh(), "ISTIO_META_DNS_AUTO_ALLOCATE") ||
                        metadataTrue(ctx.mesh(), "PILOT_ENABLE_IP_AUTOALLOCATE"))) {
      return;
    }
    for (const auto& se : ctx.config().service_entries) {
      if (!se.spec.addresses.empty()) continue;
      if (dns_capture && hasStatusAddresses(ctx, se)) continue;
      for (size_t i = 0; i < se.spec.ports.size(); ++i) {
        const model::ServicePort& port = se.spec.ports[i];
        if (!isTcpOrUnset(port.protocol)) continue;
        const std::string protocol = port.protocol.value_or("").empty()
                                         ? std::string("no protocol")
                                         : "protocol " + *port.protocol;
        ctx.report(out, msg::kServiceEntryAddressesRequired, se.meta,
                   "spec.ports[" + std::to_string(i) + "]",
                   "ServiceEntry " + se.meta.name + " port " +
                       std::to_string(port.number.value_or(0)) + " has " + protocol +
                       " but the entry has no addresses; TCP traffic cannot be told apart by "
                       "host, so addresses are required");
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeProtocolAddressesAnalyzer() {
  return std::make_unique<ProtocolAddressesAnalyzer>();
}

}  // namespace halyard::config
