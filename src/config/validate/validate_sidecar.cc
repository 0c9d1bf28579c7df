// Sidecar: ingress and egress listeners (ports, binds, unix sockets, default endpoints, TLS),
// egress hosts, connection pools and the outbound traffic policy.
#include <set>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

void checkPortNameAndProtocol(ObjectReport& r, const std::string& path,
                              const model::SidecarPort& port) {
  if (isSet(port.name) && !isDns1123Label(*port.name)) {
    r.error(path + ".name", "invalid port name", inQuotes(*port.name), "a DNS-1123 label");
  }
  if (isSet(port.protocol) && !isKnownProtocol(*port.protocol)) {
    r.error(path + ".protocol", "unsupported protocol", inQuotes(*port.protocol),
            "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, MONGO, REDIS, MYSQL or UDP");
  }
}

void checkBindIp(ObjectReport& r, const std::string& path, const std::optional<std::string>& bind) {
  if (isSet(bind) && !isIpAddress(*bind)) {
    r.error(path, "invalid bind address", inQuotes(*bind), "an IP address");
  }
}

// "127.0.0.1:8080", "[::1]:8080", ":8080" or "unix:///path".
void checkDefaultEndpoint(ObjectReport& r, const std::string& path, const std::string& endpoint) {
  if (endpoint.starts_with("unix://")) {
    r.fail(path, checkUnixPath(endpoint.substr(7)), inQuotes(endpoint));
    return;
  }
  const char* expected =
      "127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>";
  std::string host, port;
  if (endpoint.starts_with("[")) {
    auto close = endpoint.find(']');
    if (close == std::string::npos || close + 1 >= endpoint.size() || endpoint[close + 1] != ':') {
      r.error(path, "malformed default endpoint", inQuotes(endpoint), expected);
      return;
    }
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
  } else {
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos || endpoint.substr(0, colon).find(':') != std::string::npos) {
      r.error(path, "malformed default endpoint", inQuotes(endpoint), expected);
      return;
    }
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
  }
  if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::") {
    r.error(path, "default endpoint host is not a local address", inQuotes(endpoint), expected);
  }
  if (port.empty() || port.size() > 9 || port.find_first_not_of("0123456789") != port.npos) {
    r.error(path, "default endpoint port is not a number", inQuotes(endpoint), expected);
    return;
  }
  int64_t n = std::stoll(port);
  r.fail(path, checkPort(n), inQuotes(endpoint));
}

void checkIngress(ObjectReport& r, const std::string& path, const model::IstioIngressListener& in,
                  std::set<int64_t>& ports) {
  if (!in.port) return;
  const model::SidecarPort& port = *in.port;
  if (port.target_port && *port.target_port > 0) {
    r.error(path + ".port.targetPort", "targetPort has no effect on a Sidecar",
            std::to_string(*port.target_port), "no targetPort");
  }
  checkPortNameAndProtocol(r, path + ".port", port);
  int64_t number = port.number.value_or(0);
  r.fail(path + ".port.number", checkPort(number), std::to_string(number));
  checkBindIp(r, path + ".bind", in.bind);
  if (!ports.insert(number).second) {
    r.error(path + ".port.number", "duplicate ingress listener port", std::to_string(number),
            "unique ports");
  }
  if (isSet(in.default_endpoint))
    checkDefaultEndpoint(r, path + ".defaultEndpoint", *in.default_endpoint);
  if (in.tls) {
    const model::ServerTLSSettings& tls = *in.tls;
    const std::string p = path + ".tls";
    const std::pair<const char*, bool> unsupported[] = {
        {"subjectAltNames", !tls.subject_alt_names.empty()},
        {"httpsRedirect", tls.https_redirect.value_or(false)},
        {"credentialName", isSet(tls.credential_name)},
        {"credentialNames", !tls.credential_names.empty()},
        {"tlsCertificates", !tls.tls_certificates.empty()},
    };
    for (const auto& [name, set] : unsupported) {
      if (set) {
        r.error(p + "." + name, "field not supported in Sidecar ingress TLS", name,
                "serverCertificate/privateKey files");
      }
    }
    std::string mode = tls.mode.value_or("PASSTHROUGH");
    if (mode == "ISTIO_MUTUAL" || mode == "AUTO_PASSTHROUGH") {
      r.error(p + ".mode", "TLS mode not supported in Sidecar ingress", mode,
              "SIMPLE, MUTUAL, OPTIONAL_MUTUAL or PASSTHROUGH");
    }
    if (!isTlsProtocol(port.protocol.value_or(""))) {
      r.error(p, "TLS settings on a non-TLS port", inQuotes(port.protocol.value_or("")),
              "an HTTPS or TLS port");
    }
    checkServerTls(r, p, tls);
  }
  if (in.connection_pool) checkConnectionPool(r, path + ".connectionPool", *in.connection_pool);
}

void checkEgressPort(ObjectReport& r, const std::string& path,
                     const model::IstioEgressListener& eg) {
  const model::SidecarPort& port = *eg.port;
  checkPortNameAndProtocol(r, path + ".port", port);
  int64_t number = port.number.value_or(0);
  if (number != 0) {
    r.fail(path + ".port.number", checkPort(number), std::to_string(number));
    checkBindIp(r, path + ".bind", eg.bind);
    return;
  }
  // Port 0 means a unix domain socket listener.
  std::string bind = eg.bind.value_or("");
  if (!bind.starts_with("unix://")) {
    r.error(path + ".bind", "port 0 without a unix socket bind", inQuotes(bind), "unix://<path>");
  } else {
    r.fail(path + ".bind", checkUnixPath(bind.substr(7)), inQuotes(bind));
  }
  std::string capture = eg.capture_mode.value_or("DEFAULT");
  if (capture != "DEFAULT" && capture != "NONE") {
    r.error(path + ".captureMode", "capture mode on a unix socket listener", capture,
            "DEFAULT or NONE");
  }
}

void checkOutboundTrafficPolicy(ObjectReport& r, const model::OutboundTrafficPolicy& otp) {
  if (!otp.egress_proxy) return;
  const std::string p = "spec.outboundTrafficPolicy";
  // The mode defaults to REGISTRY_ONLY.
  if (otp.mode.value_or("REGISTRY_ONLY") != "ALLOW_ANY") {
    r.error(p + ".egressProxy", "egressProxy without mode ALLOW_ANY",
            inQuotes(otp.mode.value_or("REGISTRY_ONLY")), "mode ALLOW_ANY");
    return;
  }
  const model::Destination& proxy = *otp.egress_proxy;
  std::string host = proxy.host.value_or("");
  r.fail(p + ".egressProxy.host", checkFqdn(host), inQuotes(host));
  if (!proxy.port) {
    r.error(p + ".egressProxy.port", "egressProxy without a port", "none", "port.number");
    return;
  }
  checkDestination(r, p + ".egressProxy", proxy);
}

}  // namespace

void validateSidecar(ObjectReport& r) {
  const model::SidecarSpec sc = decodeSidecar(r.object()).spec;
  if (sc.workload_selector) {
    const auto& labels = sc.workload_selector->labels;
    bool ok = checkSelectorLabelKeys(r, "spec.workloadSelector.labels", labels);
    for (const auto& [k, v] : labels) ok = ok && v.find('*') == std::string::npos;
    // Istio stops at a bad selector (the CRD itself reports a wildcard value).
    if (!ok) return;
  }
  if (sc.egress.empty() && sc.ingress.empty() && !sc.outbound_traffic_policy &&
      !sc.inbound_connection_pool) {
    r.error("spec", "empty Sidecar", "{}",
            "egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
    return;
  }
  std::set<int64_t> ingress_ports;
  for (size_t i = 0; i < sc.ingress.size(); ++i) {
    checkIngress(r, indexPath("spec.ingress", i), sc.ingress[i], ingress_ports);
  }
  if (sc.inbound_connection_pool) {
    checkConnectionPool(r, "spec.inboundConnectionPool", *sc.inbound_connection_pool);
  }
  std::set<int64_t> egress_ports;
  std::set<std::string> sockets;
  bool catch_all = false;
  for (size_t i = 0; i < sc.egress.size(); ++i) {
    const model::IstioEgressListener& eg = sc.egress[i];
    std::string p = indexPath("spec.egress", i);
    if (!eg.port) {
      // One listener without a port catches the rest; it has to come last.
      if (catch_all) {
        r.error(p, "second egress listener without a port", "no port",
                "at most one catch-all listener");
        continue;
      }
      if (i + 1 == sc.egress.size()) {
        catch_all = true;
      } else {
        r.error(p, "egress listener without a port before the last one", "no port",
                "the catch-all listener last");
      }
    } else {
      if (eg.port->target_port && *eg.port->target_port > 0) {
        r.error(p + ".port.targetPort", "targetPort has no effect on a Sidecar",
                std::to_string(*eg.port->target_port), "no targetPort");
      }
      checkEgressPort(r, p, eg);
      int64_t number = eg.port->number.value_or(0);
      if (number == 0 ? !sockets.insert(eg.bind.value_or("")).second
                      : !egress_ports.insert(number).second) {
        r.error(p + ".port.number", "duplicate egress listener",
                number == 0 ? inQuotes(eg.bind.value_or("")) : std::to_string(number),
                "unique ports and unix sockets");
      }
    }
    if (eg.hosts.empty() && r.has(p + ".hosts")) {
      r.error(p + ".hosts", "egress listener without hosts", "[]", "at least one namespace/host");
    }
    for (size_t j = 0; j < eg.hosts.size(); ++j) {
      std::string hp = indexPath(p + ".hosts", j);
      if (r.isString(hp))
        r.fail(hp, checkNamespacedHost(eg.hosts[j], false), inQuotes(eg.hosts[j]));
    }
  }
  if (sc.outbound_traffic_policy) checkOutboundTrafficPolicy(r, *sc.outbound_traffic_policy);
}

}  // namespace halyard::config
