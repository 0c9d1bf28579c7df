// Gateway: servers (hosts, port, bind, TLS per protocol) and unique port names; server-side TLS
// settings, shared with Sidecar ingress listeners.
#include <set>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

// A server's TLS mode; a tls block without one is PASSTHROUGH.
std::string modeOf(const model::ServerTLSSettings& tls) {
  return tls.mode.value_or("PASSTHROUGH");
}

// Returns whether the port itself is valid: Istio checks the TLS/protocol fit only then.
bool checkServerPort(ObjectReport& r, const std::string& path, const model::Server& server) {
  const model::ServerPort& port = *server.port;
  bool ok = true;
  if (port.protocol && !isKnownProtocol(*port.protocol)) {
    r.error(path + ".protocol", "unsupported protocol", inQuotes(*port.protocol),
            "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS or MYSQL");
    ok = false;
  }
  int64_t number = port.number.value_or(0);
  bool unix_bind = server.bind && server.bind->starts_with("unix://");
  if ((number > 0 || !unix_bind) &&
      r.fail(path + ".number", checkPort(number), std::to_string(number))) {
    ok = false;
  }
  if (port.target_port && *port.target_port > 0) {
    r.error(path + ".targetPort", "targetPort has no effect on a Gateway",
            std::to_string(*port.target_port), "no targetPort");
    ok = false;
  }
  if (port.name && port.name->empty()) {
    r.error(path + ".name", "empty port name", "\"\"", "a port name");
    ok = false;
  }
  return ok;
}

void checkServer(ObjectReport& r, const std::string& path, const model::Server& server) {
  if (server.hosts.empty() && r.has(path + ".hosts")) {
    r.error(path + ".hosts", "server without hosts", "[]", "at least one host");
  }
  for (size_t i = 0; i < server.hosts.size(); ++i) {
    std::string p = indexPath(path + ".hosts", i);
    if (r.isString(p))
      r.fail(p, checkNamespacedHost(server.hosts[i], true), inQuotes(server.hosts[i]));
  }
  bool port_ok = server.port && checkServerPort(r, path + ".port", server);
  if (server.bind && server.bind->starts_with("unix://")) {
    r.fail(path + ".bind", checkUnixPath(server.bind->substr(7)), inQuotes(*server.bind));
    if (server.port && server.port->number.value_or(0) != 0) {
      r.error(path + ".port.number", "a unix socket server must use port 0",
              std::to_string(*server.port->number), "0");
    }
  } else if (isSet(server.bind) && !isIpAddress(*server.bind)) {
    r.error(path + ".bind", "invalid bind address", inQuotes(*server.bind),
            "an IP address or unix://<path>");
  }
  if (server.tls) checkServerTls(r, path + ".tls", *server.tls);
  if (!port_ok) return;
  const std::string protocol = server.port->protocol.value_or("");
  if (isTlsProtocol(protocol) && !server.tls) {
    r.error(path + ".tls", "HTTPS/TLS server without TLS settings", inQuotes(protocol),
            "a tls block for HTTPS and TLS ports");
  } else if (!isTlsProtocol(protocol) && server.tls) {
    const model::ServerTLSSettings& tls = *server.tls;
    std::string mode = modeOf(tls);
    bool passthrough = mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH";
    if (!isHttpProtocol(protocol)) {
      r.error(path + ".tls", "TLS settings on a non-TLS port", inQuotes(protocol),
              "tls only on HTTPS/TLS ports (or httpsRedirect on HTTP)");
    } else if (!passthrough || isSet(tls.ca_certificates) || isSet(tls.private_key) ||
               isSet(tls.server_certificate)) {
      r.error(path + ".tls", "TLS termination settings on a plain-text HTTP port",
              inQuotes(protocol), "only httpsRedirect on HTTP ports");
    }
  }
}

}  // namespace

void checkServerTls(ObjectReport& r, const std::string& path, const model::ServerTLSSettings& tls) {
  const std::string mode = modeOf(tls);
  if (mode == "ISTIO_MUTUAL") {
    // Istio's own certificates: no certificate field may be given.
    const std::pair<const char*, bool> fields[] = {
        {"serverCertificate", isSet(tls.server_certificate)},
        {"privateKey", isSet(tls.private_key)},
        {"caCertificates", isSet(tls.ca_certificates)},
        {"tlsCertificates", !tls.tls_certificates.empty()},
        {"credentialName", isSet(tls.credential_name)},
        {"credentialNames", !tls.credential_names.empty()},
    };
    for (const auto& [name, set] : fields) {
      if (set) {
        r.error(path + "." + name, "certificate field set with ISTIO_MUTUAL", name,
                "no certificate fields with mode ISTIO_MUTUAL");
      }
    }
    return;
  }
  bool key_pair = isSet(tls.server_certificate) && isSet(tls.private_key);
  bool credential = isSet(tls.credential_name);
  bool credentials = !tls.credential_names.empty();
  bool certificates = !tls.tls_certificates.empty();
  // The CRD already rejects credentialNames with credentialName or tlsCertificates.
  if (key_pair + credential + certificates > 1 || (credentials && key_pair)) {
    r.error(path, "more than one certificate source",
            "several of serverCertificate/privateKey, "
            "credentialName, credentialNames, tlsCertificates",
            "exactly one");
  }
  bool terminating = mode == "SIMPLE" || mode == "MUTUAL" || mode == "OPTIONAL_MUTUAL";
  // With a credential the certificates come from a secret.
  if (terminating && (credential || credentials)) return;
  if (terminating) {
    std::string label = mode == "SIMPLE" ? "SIMPLE" : "MUTUAL";
    if (mode != "SIMPLE" && !isSet(tls.ca_certificates)) {
      r.error(path + ".caCertificates", label + " TLS without a client CA bundle", "none",
              "caCertificates or a credentialName");
    }
    auto check_pair = [&](const std::string& p, const std::optional<std::string>& cert,
                          const std::optional<std::string>& key) {
      if (!isSet(cert)) {
        r.error(p + ".serverCertificate", label + " TLS without a server certificate", "none",
                "serverCertificate (or a credentialName)");
      }
      if (!isSet(key)) {
        r.error(p + ".privateKey", label + " TLS without a private key", "none",
                "privateKey (or a credentialName)");
      }
    };
    if (certificates) {
      for (size_t i = 0; i < tls.tls_certificates.size(); ++i) {
        const auto& c = tls.tls_certificates[i];
        check_pair(indexPath(path + ".tlsCertificates", i), c.server_certificate, c.private_key);
      }
    } else {
      check_pair(path, tls.server_certificate, tls.private_key);
    }
  }
  if (isSet(tls.ca_crl)) {
    if (credential) {
      r.error(path + ".caCrl", "CRL with credentialName", inQuotes(*tls.ca_crl),
              "the CRL inside the credential");
    }
    if (mode == "SIMPLE") {
      r.error(path + ".caCrl", "CRL with SIMPLE TLS", inQuotes(*tls.ca_crl),
              "caCrl only with MUTUAL or OPTIONAL_MUTUAL");
    }
  }
}

void validateGateway(ObjectReport& r) {
  const model::Gateway gw = decodeGateway(r.object());
  if (!isDns1123Label(r.object().name)) {
    r.error("metadata.name", "invalid Gateway name", inQuotes(r.object().name),
            "a DNS-1123 label (no dots)");
  }
  const auto& servers = gw.spec.servers;
  if (servers.empty()) {
    r.error("spec.servers", "Gateway without servers", "[]", "at least one server");
  }
  std::set<std::string> port_names;
  for (size_t i = 0; i < servers.size(); ++i) {
    std::string p = indexPath("spec.servers", i);
    checkServer(r, p, servers[i]);
    if (!servers[i].port || !servers[i].port->name) continue;
    const std::string& name = *servers[i].port->name;
    if (!port_names.insert(name).second) {
      r.error(p + ".port.name", "duplicate server port name", inQuotes(name),
              "port names unique within the Gateway");
    }
  }
}

}  // namespace halyard::config
