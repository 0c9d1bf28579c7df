// ServiceEntry: hosts, addresses, ports, endpoints per resolution mode, exportTo.
#include <set>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

void validateServiceEntry(ObjectReport& r) {
  const model::ServiceEntrySpec se = decodeServiceEntry(r.object()).spec;
  if (se.workload_selector) {
    const auto& labels = se.workload_selector->labels;
    bool ok = checkSelectorLabelKeys(r, "spec.workloadSelector.labels", labels);
    for (const auto& [k, v] : labels) ok = ok && v.find('*') == std::string::npos;
    // Istio stops at a bad selector (the CRD itself reports a wildcard value).
    if (!ok) return;
  }
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    std::string p = indexPath("spec.hosts", i);
    // "*" alone is rejected by the CRD.
    if (!r.isString(p) || se.hosts[i] == "*") continue;
    r.fail(p, checkWildcardDomain(se.hosts[i]), inQuotes(se.hosts[i]));
  }
  for (size_t i = 0; i < se.addresses.size(); ++i) {
    std::string p = indexPath("spec.addresses", i);
    if (r.isString(p)) r.fail(p, checkIpSubnet(se.addresses[i]), inQuotes(se.addresses[i]));
  }
  std::set<std::string> port_names;
  for (size_t i = 0; i < se.ports.size(); ++i) {
    const model::ServicePort& port = se.ports[i];
    std::string p = indexPath("spec.ports", i);
    if (port.name) {
      port_names.insert(*port.name);
      if (!isDns1123Label(*port.name)) {
        r.error(p + ".name", "invalid port name", inQuotes(*port.name), "a DNS-1123 label");
      }
    }
    if (port.protocol && !port.protocol->empty() && !isKnownProtocol(*port.protocol)) {
      r.error(p + ".protocol", "unsupported protocol", inQuotes(*port.protocol),
              "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL or UDP");
    }
  }

  const std::string resolution = se.resolution.value_or("NONE");
  if (resolution == "STATIC") {
    for (size_t i = 0; i < se.endpoints.size(); ++i) {
      checkWorkloadEntrySpec(r, indexPath("spec.endpoints", i), se.endpoints[i], &port_names,
                             false);
    }
  } else if (resolution == "DNS" || resolution == "DNS_ROUND_ROBIN") {
    if (se.endpoints.empty()) {
      for (size_t i = 0; i < se.hosts.size(); ++i) {
        if (r.isString(indexPath("spec.hosts", i)) && checkFqdn(se.hosts[i])) {
          r.error(indexPath("spec.hosts", i), "DNS resolution of a host that is not a DNS name",
                  inQuotes(se.hosts[i]), "a fully qualified name, or endpoints to resolve");
        }
      }
    }
    for (size_t i = 0; i < se.endpoints.size(); ++i) {
      const model::WorkloadEntrySpec& ep = se.endpoints[i];
      std::string p = indexPath("spec.endpoints", i);
      std::string address = ep.address.value_or("");
      if (!isIpAddress(address) && checkFqdn(address)) {
        r.error(p + ".address", "endpoint address is neither an IP nor a DNS name",
                inQuotes(address), "an IP address or an FQDN");
      }
      checkLabelMap(r, p + ".labels", ep.labels);
      for (const auto& [name, number] : ep.ports) {
        if (!port_names.contains(name)) {
          r.error(keyPath(p + ".ports", name), "endpoint port not defined by the ServiceEntry",
                  inQuotes(name), "one of the ServiceEntry's port names");
        }
      }
    }
  }
  // Without a VIP, plain TCP traffic to several hosts cannot be told apart.
  if (resolution != "NONE" && se.hosts.size() > 1) {
    for (size_t i = 0; i < se.ports.size(); ++i) {
      std::string protocol = se.ports[i].protocol.value_or("");
      if (!isHttpProtocol(protocol) && !isTlsProtocol(protocol)) {
        r.error(indexPath("spec.ports", i) + ".protocol",
                "several hosts with a port that is neither HTTP nor TLS", inQuotes(protocol),
                "HTTP or TLS ports, or resolution NONE");
        break;
      }
    }
  }
  checkExportTo(r, "spec.exportTo", se.export_to, false);
}

}  // namespace halyard::config
