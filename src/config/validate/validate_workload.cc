// WorkloadEntry (standalone or as a ServiceEntry endpoint) and WorkloadGroup.
#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

void checkWorkloadEntrySpec(ObjectReport& r, const std::string& path,
                            const model::WorkloadEntrySpec& we,
                            const std::set<std::string>* service_ports, bool allow_fqdn) {
  const std::string address = we.address.value_or("");
  if (address.empty()) {
    // With neither field present the CRD reports it.
    if (!we.address && !we.network) return;
    if (we.network.value_or("").empty()) {
      r.error(path + ".address", "workload without address", "\"\"",
              "an address, or a network for a remote workload");
      return;
    }
  }
  // The CRD checks unix:// paths and that they carry no ports.
  bool unix_socket = address.starts_with("unix://");
  if (!unix_socket && !address.empty() && !isIpAddress(address)) {
    if (!allow_fqdn) {
      r.error(path + ".address", "endpoint address is not an IP address", inQuotes(address),
              "an IP address (resolution STATIC)");
    } else if (checkFqdn(address)) {
      r.error(path + ".address", "workload address is neither an IP nor a DNS name",
              inQuotes(address), "an IP address or an FQDN");
    }
  }
  if (service_ports) {
    for (const auto& [name, number] : we.ports) {
      if (!service_ports->contains(name)) {
        r.error(keyPath(path + ".ports", name), "endpoint port not defined by the ServiceEntry",
                inQuotes(name), "one of the ServiceEntry's port names");
      }
    }
    if (unix_socket && service_ports->size() != 1) {
      r.error(path + ".address", "unix socket endpoint with several service ports",
              std::to_string(service_ports->size()) + " ports", "exactly one ServiceEntry port");
    }
  }
  checkLabelMap(r, path + ".labels", we.labels);
}

void validateWorkloadEntry(ObjectReport& r) {
  checkWorkloadEntrySpec(r, "spec", decodeWorkloadEntry(r.object()).spec, nullptr, true);
}

void validateWorkloadGroup(ObjectReport& r) {
  const model::WorkloadGroupSpec wg = decodeWorkloadGroup(r.object()).spec;
  if (wg.metadata) checkLabelMap(r, "spec.metadata.labels", wg.metadata->labels);
  if (!wg.probe) return;
  const model::ReadinessProbe& probe = *wg.probe;
  if (probe.http_get) {
    const auto& headers = probe.http_get->http_headers;
    for (size_t i = 0; i < headers.size(); ++i) {
      // The CRD pattern admits '_', which Kubernetes probes (and Istio) do not.
      const std::string name = headers[i].name.value_or("");
      if (name.find('_') != std::string::npos &&
          name.find_first_not_of("-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789") == std::string::npos) {
        r.error(indexPath("spec.probe.httpGet.httpHeaders", i) + ".name",
                "invalid probe header name", inQuotes(name), "letters, digits and '-'");
      }
    }
  } else if (probe.exec) {
    if (probe.exec->command.empty() && r.has("spec.probe.exec.command")) {
      r.error("spec.probe.exec.command", "exec probe without a command", "[]", "a command");
    }
  } else if (!probe.tcp_socket && !probe.grpc) {
    r.error("spec.probe", "readiness probe without a check", "no httpGet, tcpSocket, exec or grpc",
            "one of httpGet, tcpSocket, exec or grpc");
  }
}

}  // namespace halyard::config
