#include "translate/mesh_settings.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "config/yaml/loader.h"
#include "translate/authz_compiler.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace {

// A DNS-1123 label: lowercase letters, digits and '-', 1 to 63 of them, not starting or ending
// with '-'.
bool isDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Istio's trust domain grammar (its MeshConfig validation): dot-separated DNS-1123 labels, a
// trailing dot allowed. Anything else would make SPIFFE IDs nobody can match.
bool isTrustDomain(std::string_view s) {
  if (s.empty()) return false;
  if (s.back() == '.') s.remove_suffix(1);
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!isDnsLabel(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// "an object", "a string": the YAML type of a node, for sentences.
std::string typeOf(const config::Node& node) {
  const std::string name = config::toString(node.type);
  return (std::string("aeiou").find(name.front()) == std::string::npos ? "a " : "an ") + name;
}

// A string field of the mesh config: absent or empty keeps `out` (Istio's default); present with
// another type is an error.
bool readString(const config::Node& mesh, std::string_view key, std::string& out,
                std::string& error) {
  const config::Node* node = mesh.get(key);
  if (!node || node->isNull()) return true;
  if (!node->isString()) {
    error = std::string(key) + " is " + typeOf(*node) + ", a string was expected";
    return false;
  }
  if (!node->text.empty()) out = node->text;
  return true;
}

// A list of strings (absent: nothing); anything else is an error naming `key`.
bool readStrings(const config::Node& parent, std::string_view key, std::vector<std::string>& out,
                 std::string& error) {
  const config::Node* node = parent.get(key);
  if (!node || node->isNull()) return true;
  if (!node->isList()) {
    error = std::string(key) + " is " + typeOf(*node) + ", a list of strings was expected";
    return false;
  }
  for (const auto& item : node->items) {
    if (!item.isString()) {
      error = std::string(key) + " holds " + typeOf(item) + ", strings were expected";
      return false;
    }
    out.push_back(item.text);
  }
  return true;
}

// Header names in Istio's string forms, compared lowercase.
bool readHeaderMatchers(const config::Node& parent, std::string_view key,
                        std::vector<AuthzMatcher>& out, std::string& error) {
  std::vector<std::string> names;
  if (!readStrings(parent, key, names, error)) return false;
  for (const auto& n : names) out.push_back(authzStringMatcher(toLower(n)));
  return true;
}

// A non-negative integer field (a number, or a string of digits); absent keeps `out`.
bool readUint(const config::Node& parent, std::string_view key, uint64_t max, uint64_t& out,
              std::string& error) {
  const config::Node* node = parent.get(key);
  if (!node || node->isNull()) return true;
  const std::string& t = node->text;
  const bool digits = node->isScalar() && !t.empty() && t.size() <= 10 &&
                      std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoull(t) > max) {
    error = std::string(key) + " is \"" + t + "\", an integer from 0 to " + std::to_string(max) +
            " was expected";
    return false;
  }
  out = std::stoull(t);
  return true;
}

bool readBool(const config::Node& parent, std::string_view key, bool& out, std::string& error) {
  const config::Node* node = parent.get(key);
  if (!node || node->isNull()) return true;
  if (node->type != config::NodeType::kBool) {
    error = std::string(key) + " is " + typeOf(*node) + ", true or false was expected";
    return false;
  }
  out = node->text == "true" || node->text == "True" || node->text == "TRUE";
  return true;
}

// One envoyExtAuthzHttp / envoyExtAuthzGrpc block (`body`) of the provider `name`.
bool readExtAuthz(const config::Node& body, bool http, AuthzExtProvider& p, std::string& error) {
  if (!body.isMap()) {
    error = "is " + typeOf(body) + ", a map was expected";
    return false;
  }
  p.protocol = http ? AuthzExtProvider::Protocol::kHttp : AuthzExtProvider::Protocol::kGrpc;
  uint64_t port = 0;
  uint64_t status = 0;
  std::string timeout;
  if (!readString(body, "service", p.service, error) ||
      !readUint(body, "port", 65535, port, error) || !readString(body, "timeout", timeout, error) ||
      !readBool(body, "failOpen", p.fail_open, error)) {
    return false;
  }
  // A string in Istio's API ("503"); readUint takes the digits of any scalar.
  if (body.get("statusOnError")) {
    if (!readUint(body, "statusOnError", 599, status, error)) return false;
    if (status < 100) {
      error = "statusOnError " + std::to_string(status) + " is not an HTTP status (100-599)";
      return false;
    }
    p.status_on_error = static_cast<uint16_t>(status);
  }
  if (p.service.empty()) {
    error = "has no service (the host of the authorization service was expected)";
    return false;
  }
  if (port == 0) {
    error = "has no port (the authorization service's port, 1-65535, was expected)";
    return false;
  }
  p.port = static_cast<uint16_t>(port);
  if (!timeout.empty()) {
    const auto t = parseMillis(timeout);
    if (!t) {
      error = "timeout \"" + timeout + "\" is not a duration (\"0.5s\", \"200ms\")";
      return false;
    }
    p.timeout_ms = static_cast<uint32_t>(std::min<int64_t>(t->count(), UINT32_MAX));
  }
  if (!http) return true;
  if (!readString(body, "pathPrefix", p.path_prefix, error) ||
      !readHeaderMatchers(body, "includeRequestHeadersInCheck", p.include_request_headers, error) ||
      !readHeaderMatchers(body, "includeHeadersInCheck", p.include_request_headers, error) ||
      !readHeaderMatchers(body, "headersToUpstreamOnAllow", p.headers_to_upstream_on_allow,
                          error) ||
      !readHeaderMatchers(body, "headersToDownstreamOnAllow", p.headers_to_downstream_on_allow,
                          error) ||
      !readHeaderMatchers(body, "headersToDownstreamOnDeny", p.headers_to_downstream_on_deny,
                          error)) {
    return false;
  }
  if (!p.path_prefix.empty() && p.path_prefix.front() != '/') {
    error = "pathPrefix \"" + p.path_prefix + "\" does not start with '/'";
    return false;
  }
  if (const config::Node* extra = body.get("includeAdditionalHeadersInCheck");
      extra && !extra->isNull()) {
    if (!extra->isMap()) {
      error = "includeAdditionalHeadersInCheck is " + typeOf(*extra) +
              ", a map of header names to values was expected";
      return false;
    }
    for (const auto& f : extra->fields) {
      if (!f.value.isScalar() || f.value.isNull()) {
        error = "includeAdditionalHeadersInCheck." + f.key + " is " + typeOf(f.value) +
                ", a string was expected";
        return false;
      }
      p.include_additional_headers.emplace_back(toLower(f.key), f.value.text);
    }
  }
  return true;
}

// MeshConfig extensionProviders: the ext_authz ones are kept, the others (tracing, access
// logging) are another reader's.
bool readExtensionProviders(const config::Node& mesh, std::vector<AuthzExtProvider>& out,
                            std::string& error) {
  const config::Node* list = mesh.get("extensionProviders");
  if (!list || list->isNull()) return true;
  if (!list->isList()) {
    error = "extensionProviders is " + typeOf(*list) + ", a list was expected";
    return false;
  }
  for (size_t i = 0; i < list->items.size(); ++i) {
    const config::Node& item = list->items[i];
    const std::string where = "extensionProviders[" + std::to_string(i) + "]";
    if (!item.isMap()) {
      error = where + " is " + typeOf(item) + ", a map was expected";
      return false;
    }
    AuthzExtProvider p;
    if (!readString(item, "name", p.name, error)) {
      error = where + "." + error;
      return false;
    }
    for (const bool http : {true, false}) {
      const char* kind = http ? "envoyExtAuthzHttp" : "envoyExtAuthzGrpc";
      const config::Node* body = item.get(kind);
      if (!body || body->isNull()) continue;
      if (p.name.empty()) {
        error = where + " (" + kind + ") has no name";
        return false;
      }
      if (!readExtAuthz(*body, http, p, error)) {
        error = where + " \"" + p.name + "\" " + kind + ": " + error;
        return false;
      }
      out.push_back(p);
    }
  }
  return true;
}

// gatewayTopology.numTrustedProxies of `parent` (mesh or defaultConfig), when present.
bool readTrustedProxies(const config::Node& parent, std::optional<uint32_t>& out,
                        std::string& error) {
  const config::Node* topology = parent.get("gatewayTopology");
  if (!topology || topology->isNull()) return true;
  if (!topology->isMap()) {
    error = "gatewayTopology is " + typeOf(*topology) + ", a map was expected";
    return false;
  }
  if (!topology->get("numTrustedProxies")) return true;
  uint64_t n = 0;
  if (!readUint(*topology, "numTrustedProxies", UINT32_MAX, n, error)) {
    error = "gatewayTopology." + error;
    return false;
  }
  out = static_cast<uint32_t>(n);
  return true;
}

bool readPathNormalization(const config::Node& mesh, PathNormalization& out, std::string& error) {
  const config::Node* block = mesh.get("pathNormalization");
  if (!block || block->isNull()) return true;
  if (!block->isMap()) {
    error = "pathNormalization is " + typeOf(*block) + ", a map with a normalization was expected";
    return false;
  }
  std::string mode = "DEFAULT";
  if (!readString(*block, "normalization", mode, error)) {
    error = "pathNormalization." + error;
    return false;
  }
  if (mode == "DEFAULT" || mode == "BASE") {
    out = PathNormalization::kBase;
  } else if (mode == "NONE") {
    out = PathNormalization::kNone;
  } else if (mode == "MERGE_SLASHES") {
    out = PathNormalization::kMergeSlashes;
  } else if (mode == "DECODE_AND_MERGE_SLASHES") {
    out = PathNormalization::kDecodeAndMergeSlashes;
  } else {
    error = "pathNormalization.normalization \"" + mode +
            "\" is not DEFAULT, NONE, BASE, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES";
    return false;
  }
  return true;
}

// protocolDetectionTimeout: a duration of at least 1ms, or 0s (no timeout), as Istio validates it.
bool readProtocolDetectionTimeout(const config::Node& mesh, Millis& out, std::string& error) {
  const config::Node* node = mesh.get("protocolDetectionTimeout");
  if (!node || node->isNull()) return true;
  if (!node->isString()) {
    error = "protocolDetectionTimeout is " + typeOf(*node) +
            ", a duration such as \"1s\" or \"100ms\" was expected";
    return false;
  }
  const std::optional<Millis> timeout = parseMillis(node->text);
  const bool zero = timeout && timeout->count() == 0 &&
                    node->text.find_first_of("123456789") == std::string::npos;
  if (!timeout || (timeout->count() == 0 && !zero)) {
    error = "protocolDetectionTimeout \"" + node->text +
            "\" is not a duration of at least 1ms or 0s (no timeout)";
    return false;
  }
  out = *timeout;
  return true;
}

// The settings of a `mesh` value, or the sentence saying why it cannot be used.
common::Result<MeshSettings, std::string> parseMesh(const std::string& text,
                                                    const std::string& where) {
  auto root = config::parseYaml(text, where);
  if (!root.ok()) return common::unexpected("it does not parse as YAML: " + root.error());
  MeshSettings settings;
  if (root->isNull()) return settings;  // an empty mesh value: every default
  if (!root->isMap()) {
    return common::unexpected("it is " + typeOf(*root) +
                              ", a map of MeshConfig fields was expected");
  }
  std::string error;
  if (!readString(*root, "trustDomain", settings.trust_domain, error) ||
      !readString(*root, "rootNamespace", settings.root_namespace, error)) {
    return common::unexpected(std::move(error));
  }
  if (const config::Node* policy = root->get("outboundTrafficPolicy");
      policy && !policy->isNull()) {
    if (!policy->isMap()) {
      return common::unexpected("outboundTrafficPolicy is " + typeOf(*policy) +
                                ", a map with a mode was expected");
    }
    std::string mode = "ALLOW_ANY";
    if (!readString(*policy, "mode", mode, error)) {
      return common::unexpected("outboundTrafficPolicy." + std::move(error));
    }
    if (mode != "ALLOW_ANY" && mode != "REGISTRY_ONLY") {
      return common::unexpected("outboundTrafficPolicy.mode \"" + mode +
                                "\" is not ALLOW_ANY or REGISTRY_ONLY");
    }
    settings.registry_only = mode == "REGISTRY_ONLY";
  }
  if (!readExtensionProviders(*root, settings.ext_authz_providers, error) ||
      !readPathNormalization(*root, settings.path_normalization, error) ||
      !readProtocolDetectionTimeout(*root, settings.protocol_detection_timeout, error)) {
    return common::unexpected(std::move(error));
  }
  std::optional<uint32_t> trusted;
  if (!readTrustedProxies(*root, trusted, error)) return common::unexpected(std::move(error));
  if (const config::Node* defaults = root->get("defaultConfig"); defaults && defaults->isMap()) {
    // The proxies' default ProxyConfig wins over the mesh-level field.
    if (!readTrustedProxies(*defaults, trusted, error)) {
      return common::unexpected("defaultConfig." + std::move(error));
    }
  }
  settings.num_trusted_proxies = trusted.value_or(0);
  if (!isTrustDomain(settings.trust_domain)) {
    return common::unexpected("trustDomain \"" + settings.trust_domain +
                              "\" is not a DNS name (dot-separated lowercase labels of letters, "
                              "digits and '-')");
  }
  if (!isDnsLabel(settings.root_namespace)) {
    return common::unexpected("rootNamespace \"" + settings.root_namespace +
                              "\" is not a namespace name (a DNS-1123 label)");
  }
  return settings;
}

}  // namespace

MeshSettingsSource readMeshSettings(const config::model::ConfigSet& config) {
  MeshSettingsSource out;
  for (const auto& m : config.config_maps) {
    if (m.meta.name == kMeshConfigName && namespaceOf(m.meta) == kMeshConfigNamespace) {
      out.config_map = &m;
      break;
    }
  }
  if (!out.config_map) return out;
  const auto mesh = out.config_map->data.find("mesh");
  if (mesh == out.config_map->data.end()) return out;
  auto parsed = parseMesh(mesh->second, "data.mesh");
  if (parsed.ok()) {
    out.settings = std::move(*parsed);
  } else {
    out.error = "the mesh config (data.mesh) is not used: " + parsed.error() +
                "; Istio's defaults apply (trust domain cluster.local, root namespace "
                "istio-system, outboundTrafficPolicy ALLOW_ANY)";
  }
  return out;
}

MeshSettings meshSettings(const config::model::ConfigSet& config) {
  return readMeshSettings(config).settings;
}

}  // namespace halyard::translate
