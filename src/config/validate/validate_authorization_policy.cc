// AuthorizationPolicy: action and provider, rules (from/to/when), CUSTOM restrictions, targets.
#include <re2/re2.h>

#include <string_view>

#include "config/validate/validate_kinds.h"
#include "config/yaml/istio_decode.h"

namespace halyard::config {

namespace {

using StringList = std::vector<std::string>;

bool checkNonEmptyValues(ObjectReport& r, const std::string& path, const StringList& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!r.isString(indexPath(path, i))) continue;
    if (values[i].empty()) {
      r.error(indexPath(path, i), "empty value", "\"\"", "a non-empty string");
      return false;
    }
  }
  return true;
}

void checkIps(ObjectReport& r, const std::string& path, const StringList& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!r.isString(indexPath(path, i))) continue;
    const std::string& v = values[i];
    if (v.empty()) continue;  // reported as an empty value
    bool ok = v.find('/') != std::string::npos ? isCidr(v) : isIpAddress(v);
    if (!ok)
      r.error(indexPath(path, i), "invalid IP or CIDR", inQuotes(v), "an IP address or CIDR");
  }
}

void checkPorts(ObjectReport& r, const std::string& path, const StringList& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!r.isString(indexPath(path, i))) continue;
    const std::string& v = values[i];
    if (v.empty()) continue;
    if (v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(v) > 65535) {
      r.error(indexPath(path, i), "invalid port", inQuotes(v), "a port number 0..65535");
    }
  }
}

// Service accounts "sa" or "ns/sa", without wildcards.
void checkServiceAccounts(ObjectReport& r, const std::string& path, const StringList& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!r.isString(indexPath(path, i))) continue;
    const std::string& v = values[i];
    if (v.find('*') != std::string::npos || v.find('/') != v.rfind('/') || v.starts_with("/") ||
        v.ends_with("/")) {
      r.error(indexPath(path, i), "invalid service account", inQuotes(v),
              "\"<serviceaccount>\" or \"<namespace>/<serviceaccount>\" without wildcards");
    }
  }
}

// Path templates may use only whole-segment {*} and a trailing {**}: no named variables
// ({name}, {name=*}), no bare * or ** segments.
void checkPathTemplates(ObjectReport& r, const std::string& path, const StringList& paths) {
  static const RE2 kUnsupported(R"(/\{\w+=\*\*?\}|\{\w*\}|/\*\*?|\*\*?/)");
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!r.isString(indexPath(path, i))) continue;
    const std::string& p = paths[i];
    bool is_template = p.find("{*}") != p.npos || p.find("{**}") != p.npos;
    if (is_template && RE2::PartialMatch(p, kUnsupported)) {
      r.error(indexPath(path, i), "unsupported path template", inQuotes(p),
              "only {*} segments and a trailing {**}");
    }
  }
}

// "a[b]" with a non-empty a and b.
bool isMapKey(std::string_view key) {
  auto open = key.find('[');
  return key.ends_with("]") && open != key.npos && open > 0 && open + 2 < key.size();
}

// Why an AuthorizationPolicy condition key is not usable; nothing when it is.
std::optional<std::string> conditionKeyProblem(std::string_view key) {
  constexpr std::string_view kPlain[] = {"source.namespace",
                                         "source.principal",
                                         "source.serviceAccount",
                                         "source.trustDomain",
                                         "request.auth.principal",
                                         "request.auth.audiences",
                                         "request.auth.presenter",
                                         "connection.sni",
                                         "source.ip",
                                         "remote.ip",
                                         "destination.ip",
                                         "destination.port"};
  for (auto k : kPlain) {
    if (key == k) return std::nullopt;
  }
  for (auto prefix : {"request.headers", "request.auth.claims", "experimental.envoy.filters."}) {
    if (key.starts_with(prefix)) {
      if (isMapKey(key)) return std::nullopt;
      return "malformed key, expected the form a[b]";
    }
  }
  if (key == "destination.namespace") return "replaced by the policy's namespace";
  if (key.starts_with("destination.labels")) return "replaced by the workload selector";
  if (key == "destination.name" || key == "destination.user") return "only supported in v1alpha1";
  return "unknown attribute";
}

void checkCondition(ObjectReport& r, const std::string& path, const model::Condition& c) {
  const std::string key = c.key.value_or("");
  if (c.key && key.empty()) {
    r.error(path + ".key", "empty condition key", "\"\"", "an attribute name");
    return;
  }
  if (!c.key) return;  // the CRD requires the key
  if (c.values.empty() && c.not_values.empty()) {
    r.error(path, "condition without values", inQuotes(key), "values and/or notValues");
    return;
  }
  if (auto problem = conditionKeyProblem(key)) {
    r.error(path + ".key", "invalid condition key: " + *problem, inQuotes(key),
            "request.headers[..], source.ip, source.namespace, source.principal, "
            "request.auth.claims[..], destination.port, ...");
    return;
  }
  for (const auto* list : {&c.values, &c.not_values}) {
    std::string p = path + (list == &c.values ? ".values" : ".notValues");
    if (!checkNonEmptyValues(r, p, *list)) continue;
    if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") checkIps(r, p, *list);
    if (key == "destination.port") checkPorts(r, p, *list);
  }
}

void checkSource(ObjectReport& r, const std::string& path, const model::Source& s) {
  const std::pair<const char*, const StringList*> lists[] = {
      {"principals", &s.principals},
      {"requestPrincipals", &s.request_principals},
      {"namespaces", &s.namespaces},
      {"serviceAccounts", &s.service_accounts},
      {"ipBlocks", &s.ip_blocks},
      {"remoteIpBlocks", &s.remote_ip_blocks},
      {"trustDomains", &s.trust_domains},
      {"notPrincipals", &s.not_principals},
      {"notRequestPrincipals", &s.not_request_principals},
      {"notNamespaces", &s.not_namespaces},
      {"notServiceAccounts", &s.not_service_accounts},
      {"notIpBlocks", &s.not_ip_blocks},
      {"notRemoteIpBlocks", &s.not_remote_ip_blocks},
      {"notTrustDomains", &s.not_trust_domains},
  };
  bool empty = true;
  for (const auto& [name, list] : lists) {
    empty = empty && list->empty();
    checkNonEmptyValues(r, path + "." + name, *list);
  }
  if (empty) r.error(path, "empty source", "{}", "at least one source condition");
  checkIps(r, path + ".ipBlocks", s.ip_blocks);
  checkIps(r, path + ".notIpBlocks", s.not_ip_blocks);
  checkIps(r, path + ".remoteIpBlocks", s.remote_ip_blocks);
  checkIps(r, path + ".notRemoteIpBlocks", s.not_remote_ip_blocks);
  checkServiceAccounts(r, path + ".serviceAccounts", s.service_accounts);
  checkServiceAccounts(r, path + ".notServiceAccounts", s.not_service_accounts);
}

void checkOperation(ObjectReport& r, const std::string& path, const model::Operation& op) {
  const std::pair<const char*, const StringList*> lists[] = {
      {"hosts", &op.hosts},
      {"ports", &op.ports},
      {"methods", &op.methods},
      {"paths", &op.paths},
      {"notHosts", &op.not_hosts},
      {"notPorts", &op.not_ports},
      {"notMethods", &op.not_methods},
      {"notPaths", &op.not_paths},
  };
  bool empty = true;
  for (const auto& [name, list] : lists) {
    empty = empty && list->empty();
    checkNonEmptyValues(r, path + "." + name, *list);
  }
  if (empty) r.error(path, "empty operation", "{}", "at least one operation condition");
  checkPorts(r, path + ".ports", op.ports);
  checkPorts(r, path + ".notPorts", op.not_ports);
  checkPathTemplates(r, path + ".paths", op.paths);
  checkPathTemplates(r, path + ".notPaths", op.not_paths);
}

// What a CUSTOM (external authorizer) policy cannot match on.
void checkCustomRule(ObjectReport& r, const std::string& path, const model::Rule& rule) {
  for (size_t i = 0; i < rule.from.size(); ++i) {
    if (!rule.from[i].source) continue;
    const model::Source& s = *rule.from[i].source;
    const std::pair<const char*, bool> fields[] = {
        {"namespaces", !s.namespaces.empty()},
        {"notNamespaces", !s.not_namespaces.empty()},
        {"serviceAccounts", !s.service_accounts.empty()},
        {"notServiceAccounts", !s.not_service_accounts.empty()},
        {"principals", !s.principals.empty()},
        {"notPrincipals", !s.not_principals.empty()},
        {"requestPrincipals", !s.request_principals.empty()},
        {"notRequestPrincipals", !s.not_request_principals.empty()},
    };
    for (const auto& [name, set] : fields) {
      if (set) {
        r.error(indexPath(path + ".from", i) + ".source." + name,
                "field not supported with action CUSTOM", name,
                "ipBlocks, remoteIpBlocks or operation fields");
      }
    }
  }
  for (size_t i = 0; i < rule.when.size(); ++i) {
    const std::string key = rule.when[i].key.value_or("");
    if (key == "source.namespace" || key == "source.serviceAccount" || key == "source.principal" ||
        key.starts_with("request.auth.")) {
      r.error(indexPath(path + ".when", i) + ".key", "condition not supported with action CUSTOM",
              inQuotes(key), "conditions on request headers, IPs, ports or SNI");
    }
  }
}

}  // namespace

void validateAuthorizationPolicy(ObjectReport& r) {
  const model::AuthorizationPolicySpec ap = decodeAuthorizationPolicy(r.object()).spec;
  checkPolicyTargets(r, ap.target_ref, ap.target_refs);
  const std::string action = ap.action.value_or("ALLOW");
  if (action == "CUSTOM") {
    if (ap.rules.empty()) {
      r.error("spec.rules", "CUSTOM policy without rules never applies", "no rules",
              "rules (an empty rule {} matches every request)");
    } else if (!ap.provider || ap.provider->name.value_or("").empty()) {
      r.error("spec.provider.name", "CUSTOM policy without a provider name", "none",
              "the name of an extension provider");
    }
    for (size_t i = 0; i < ap.rules.size(); ++i) {
      checkCustomRule(r, indexPath("spec.rules", i), ap.rules[i]);
    }
  } else if (ap.provider) {
    r.error("spec.provider", "provider on a policy that is not CUSTOM", action, "action CUSTOM");
  }
  if (action == "DENY" && ap.rules.empty()) {
    r.error("spec.rules", "DENY policy without rules never applies", "no rules",
            "rules (an empty rule {} matches every request)");
  }
  for (size_t i = 0; i < ap.rules.size(); ++i) {
    const model::Rule& rule = ap.rules[i];
    std::string p = indexPath("spec.rules", i);
    for (size_t j = 0; j < rule.from.size(); ++j) {
      std::string fp = indexPath(p + ".from", j);
      if (!rule.from[j].source) {
        r.error(fp + ".source", "from without source", "none", "a source");
      } else {
        checkSource(r, fp + ".source", *rule.from[j].source);
      }
    }
    for (size_t j = 0; j < rule.to.size(); ++j) {
      std::string tp = indexPath(p + ".to", j);
      if (!rule.to[j].operation) {
        r.error(tp + ".operation", "to without operation", "none", "an operation");
      } else {
        checkOperation(r, tp + ".operation", *rule.to[j].operation);
      }
    }
    for (size_t j = 0; j < rule.when.size(); ++j) {
      checkCondition(r, indexPath(p + ".when", j), rule.when[j]);
    }
  }
}

}  // namespace halyard::config
