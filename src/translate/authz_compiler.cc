#include "translate/authz_compiler.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <tuple>

namespace halyard::translate {

namespace {

namespace model = config::model;
using Kind = AuthzMatcher::Kind;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

AuthzMatcher stringMatcher(const std::string& v) {
  return authzStringMatcher(v);
}

AuthzMatcher pathMatcher(const std::string& v) {
  if (v.find("{*}") != std::string::npos || v.find("{**}") != std::string::npos) {
    return {Kind::kTemplate, v};
  }
  return stringMatcher(v);
}

// "10.0.0.1", "10.0.0.0/8", "2001:db8::/32"; nullopt when it is none of these.
std::optional<AuthzMatcher> cidrMatcher(const std::string& v) {
  const size_t slash = v.find('/');
  const std::string address = v.substr(0, slash);
  unsigned char bytes[16];
  size_t size = 0;
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    size = 4;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    size = 16;
  } else {
    return std::nullopt;
  }
  int length = static_cast<int>(size * 8);
  if (slash != std::string::npos) {
    const std::string digits = v.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    length = std::stoi(digits);
    if (length > static_cast<int>(size * 8)) return std::nullopt;
  }
  return AuthzMatcher{Kind::kCidr, std::string(reinterpret_cast<char*>(bytes), size),
                      static_cast<uint8_t>(length)};
}

bool httpOnly(AuthzAttribute a) {
  switch (a) {
    case AuthzAttribute::kRequestPrincipal:
    case AuthzAttribute::kHost:
    case AuthzAttribute::kMethod:
    case AuthzAttribute::kPath:
    case AuthzAttribute::kHeader:
    case AuthzAttribute::kAuthAudience:
    case AuthzAttribute::kAuthPresenter:
    case AuthzAttribute::kAuthClaim:
      return true;
    default:
      return false;
  }
}

class Compiler {
 public:
  Compiler(const model::AuthorizationPolicy& p, std::vector<std::string>& warnings)
      : policy_(p), warnings_(warnings) {
    name_ = (p.meta.namespace_.empty() ? "default" : p.meta.namespace_) + "/" + p.meta.name;
  }

  const std::string& name() const { return name_; }

  // Appends a condition of `values` (negated: the not* list) when there are any.
  void add(std::vector<AuthzCondition>& out, AuthzAttribute a,
           const std::vector<std::string>& values, bool negated, const char* field,
           std::string key = {}) {
    if (values.empty()) return;
    AuthzCondition c{a, std::move(key), {}, negated};
    for (const auto& v : values) {
      if (auto m = matcher(a, v, field)) c.values.push_back(std::move(*m));
    }
    out.push_back(std::move(c));
  }

  std::vector<AuthzCondition> source(const model::Source& s) {
    std::vector<AuthzCondition> out;
    add(out, AuthzAttribute::kPrincipal, s.principals, false, "principals");
    add(out, AuthzAttribute::kPrincipal, s.not_principals, true, "notPrincipals");
    add(out, AuthzAttribute::kRequestPrincipal, s.request_principals, false, "requestPrincipals");
    add(out, AuthzAttribute::kRequestPrincipal, s.not_request_principals, true,
        "notRequestPrincipals");
    add(out, AuthzAttribute::kSourceNamespace, s.namespaces, false, "namespaces");
    add(out, AuthzAttribute::kSourceNamespace, s.not_namespaces, true, "notNamespaces");
    add(out, AuthzAttribute::kPrincipal, serviceAccounts(s.service_accounts), false,
        "serviceAccounts");
    add(out, AuthzAttribute::kPrincipal, serviceAccounts(s.not_service_accounts), true,
        "notServiceAccounts");
    add(out, AuthzAttribute::kSourceTrustDomain, s.trust_domains, false, "trustDomains");
    add(out, AuthzAttribute::kSourceTrustDomain, s.not_trust_domains, true, "notTrustDomains");
    add(out, AuthzAttribute::kSourceIp, s.ip_blocks, false, "ipBlocks");
    add(out, AuthzAttribute::kSourceIp, s.not_ip_blocks, true, "notIpBlocks");
    add(out, AuthzAttribute::kRemoteIp, s.remote_ip_blocks, false, "remoteIpBlocks");
    add(out, AuthzAttribute::kRemoteIp, s.not_remote_ip_blocks, true, "notRemoteIpBlocks");
    return out;
  }

  std::vector<AuthzCondition> operation(const model::Operation& o) {
    std::vector<AuthzCondition> out;
    add(out, AuthzAttribute::kHost, o.hosts, false, "hosts");
    add(out, AuthzAttribute::kHost, o.not_hosts, true, "notHosts");
    add(out, AuthzAttribute::kPort, o.ports, false, "ports");
    add(out, AuthzAttribute::kPort, o.not_ports, true, "notPorts");
    add(out, AuthzAttribute::kMethod, o.methods, false, "methods");
    add(out, AuthzAttribute::kMethod, o.not_methods, true, "notMethods");
    add(out, AuthzAttribute::kPath, o.paths, false, "paths");
    add(out, AuthzAttribute::kPath, o.not_paths, true, "notPaths");
    return out;
  }

  // A `when` condition: its key names the attribute. False when the key is not one Istio takes.
  bool when(const model::Condition& c, std::vector<AuthzCondition>& out) {
    const std::string key = c.key.value_or("");
    std::string inner;
    AuthzAttribute a;
    if (bracketed(key, "request.headers", inner)) {
      a = AuthzAttribute::kHeader;
      inner = lower(inner);
    } else if (bracketed(key, "request.auth.claims", inner)) {
      a = AuthzAttribute::kAuthClaim;
    } else if (key == "source.ip") {
      a = AuthzAttribute::kSourceIp;
    } else if (key == "remote.ip") {
      a = AuthzAttribute::kRemoteIp;
    } else if (key == "destination.ip") {
      a = AuthzAttribute::kDestinationIp;
    } else if (key == "destination.port") {
      a = AuthzAttribute::kPort;
    } else if (key == "source.namespace") {
      a = AuthzAttribute::kSourceNamespace;
    } else if (key == "source.principal") {
      a = AuthzAttribute::kPrincipal;
    } else if (key == "source.trustDomain") {
      a = AuthzAttribute::kSourceTrustDomain;
    } else if (key == "request.auth.principal") {
      a = AuthzAttribute::kRequestPrincipal;
    } else if (key == "request.auth.audiences") {
      a = AuthzAttribute::kAuthAudience;
    } else if (key == "request.auth.presenter") {
      a = AuthzAttribute::kAuthPresenter;
    } else if (key == "connection.sni") {
      a = AuthzAttribute::kSni;
    } else if (key == "source.serviceAccount") {
      add(out, AuthzAttribute::kPrincipal, serviceAccounts(c.values), false, "when");
      add(out, AuthzAttribute::kPrincipal, serviceAccounts(c.not_values), true, "when");
      return true;
    } else {
      return false;
    }
    add(out, a, c.values, false, "when", inner);
    add(out, a, c.not_values, true, "when", inner);
    return true;
  }

  void warn(const std::string& what) {
    std::string where;
    if (!policy_.meta.pos.fileName().empty()) where = policy_.meta.pos.str() + ": ";
    warnings_.push_back(where + "AuthorizationPolicy " + name_ + ": " + what);
  }

 private:
  // "request.headers[x-user]" -> "x-user"; "request.auth.claims[a][b]" -> "a\0b".
  static bool bracketed(const std::string& key, const std::string& prefix, std::string& inner) {
    if (key.size() < prefix.size() + 3 || key.compare(0, prefix.size(), prefix) != 0 ||
        key[prefix.size()] != '[' || key.back() != ']') {
      return false;
    }
    inner.clear();
    std::string rest = key.substr(prefix.size());
    while (!rest.empty()) {
      if (rest.front() != '[') return false;
      const size_t close = rest.find(']');
      if (close == std::string::npos || close == 1) return false;
      if (!inner.empty()) inner.push_back('\0');
      inner.append(rest, 1, close - 1);
      rest.erase(0, close + 1);
    }
    return true;
  }

  // "ns/sa" or "sa" (the policy's namespace) -> a principal suffix "*/ns/<ns>/sa/<sa>".
  std::vector<std::string> serviceAccounts(const std::vector<std::string>& accounts) const {
    std::vector<std::string> out;
    const std::string own = policy_.meta.namespace_.empty() ? "default" : policy_.meta.namespace_;
    for (const auto& a : accounts) {
      const size_t slash = a.find('/');
      const std::string ns = slash == std::string::npos ? own : a.substr(0, slash);
      const std::string sa = slash == std::string::npos ? a : a.substr(slash + 1);
      out.push_back("*/ns/" + ns + "/sa/" + sa);
    }
    return out;
  }

  std::optional<AuthzMatcher> matcher(AuthzAttribute a, const std::string& v, const char* field) {
    switch (a) {
      case AuthzAttribute::kSourceIp:
      case AuthzAttribute::kRemoteIp:
      case AuthzAttribute::kDestinationIp: {
        auto m = cidrMatcher(v);
        if (!m) warn(std::string(field) + ": \"" + v + "\" is not an IP address or block; ignored");
        return m;
      }
      case AuthzAttribute::kHost:
        return stringMatcher(lower(v));
      case AuthzAttribute::kPath:
        return pathMatcher(v);
      default:
        return stringMatcher(v);
    }
  }

  const model::AuthorizationPolicy& policy_;
  std::vector<std::string>& warnings_;
  std::string name_;
};

bool usesHttpOnly(const std::vector<AuthzCondition>& conditions) {
  return std::any_of(conditions.begin(), conditions.end(),
                     [](const AuthzCondition& c) { return httpOnly(c.attribute); });
}

void dropHttpOnly(std::vector<AuthzCondition>& conditions) {
  std::erase_if(conditions, [](const AuthzCondition& c) { return httpOnly(c.attribute); });
}

bool selects(const model::AuthorizationPolicy& p, const AuthzScope& scope) {
  if (!p.spec.selector) return true;
  for (const auto& [k, v] : p.spec.selector->match_labels) {
    const auto it = scope.labels.find(k);
    if (it == scope.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

AuthzMatcher authzStringMatcher(const std::string& v) {
  if (v == "*") return {Kind::kPresence, ""};
  if (v.size() > 1 && v.front() == '*') return {Kind::kSuffix, v.substr(1)};
  if (v.size() > 1 && v.back() == '*') return {Kind::kPrefix, v.substr(0, v.size() - 1)};
  return {Kind::kExact, v};
}

AuthzPolicy compileAuthzPolicy(const model::AuthorizationPolicy& policy, bool tcp,
                               std::vector<std::string>& warnings) {
  Compiler c(policy, warnings);
  AuthzPolicy out;
  out.name = c.name();
  const std::string action = policy.spec.action.value_or("ALLOW");
  out.action = action == "DENY"     ? AuthzAction::kDeny
               : action == "AUDIT"  ? AuthzAction::kAudit
               : action == "CUSTOM" ? AuthzAction::kCustom
                                    : AuthzAction::kAllow;
  if (policy.spec.provider) out.provider = policy.spec.provider->name.value_or("");
  const auto dry = policy.meta.annotations.find("istio.io/dry-run");
  out.dry_run = dry != policy.meta.annotations.end() && lower(dry->second) == "true";
  const bool allow = out.action == AuthzAction::kAllow;
  for (size_t i = 0; i < policy.spec.rules.size(); ++i) {
    const model::Rule& r = policy.spec.rules[i];
    AuthzRule rule;
    bool valid = true;
    for (const auto& f : r.from)
      rule.from.push_back(f.source ? c.source(*f.source) : std::vector<AuthzCondition>{});
    for (const auto& t : r.to)
      rule.to.push_back(t.operation ? c.operation(*t.operation) : std::vector<AuthzCondition>{});
    for (const auto& w : r.when) {
      if (!c.when(w, rule.when)) {
        c.warn("rules[" + std::to_string(i) + "] when key \"" + w.key.value_or("") +
               "\" is not one Istio takes; the rule " +
               (allow ? "is dropped (it allows nothing)" : "keeps its other conditions"));
        valid = !allow && valid;
      }
    }
    if (tcp) {
      bool http = usesHttpOnly(rule.when);
      for (const auto& s : rule.from) http = http || usesHttpOnly(s);
      for (const auto& o : rule.to) http = http || usesHttpOnly(o);
      if (http && allow) {
        c.warn("rules[" + std::to_string(i) +
               "] uses HTTP-only attributes on TCP traffic; the ALLOW rule is dropped, as Istio");
        valid = false;
      } else if (http) {
        dropHttpOnly(rule.when);
        for (auto& s : rule.from) dropHttpOnly(s);
        for (auto& o : rule.to) dropHttpOnly(o);
      }
    }
    if (valid) out.rules.push_back(std::move(rule));
  }
  return out;
}

namespace {

// "file.yaml:12: AuthorizationPolicy ns/name: " for a warning about `p`.
std::string warningPrefix(const model::AuthorizationPolicy& p) {
  const std::string ns = p.meta.namespace_.empty() ? "default" : p.meta.namespace_;
  std::string out;
  if (!p.meta.pos.fileName().empty()) out = p.meta.pos.str() + ": ";
  return out + "AuthorizationPolicy " + ns + "/" + p.meta.name + ": ";
}

constexpr const char* kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

// Istio's targetRefs: a Gateway API Gateway selects the proxies deployed for it (labelled with
// its name, in the policy's namespace). Service, ServiceEntry and GatewayClass references act on
// waypoints, which this mesh does not run: said once, and the policy selects nothing here.
bool targets(const model::AuthorizationPolicy& p, const AuthzScope& scope, const std::string& ns,
             std::vector<std::string>& warnings) {
  std::vector<const model::PolicyTargetReference*> refs;
  if (p.spec.target_ref) refs.push_back(&*p.spec.target_ref);
  for (const auto& r : p.spec.target_refs) refs.push_back(&r);
  bool selected = false;
  for (const auto* r : refs) {
    const std::string kind = r->kind.value_or("");
    const std::string group = r->group.value_or("");
    if (kind == "Gateway" && group == "gateway.networking.k8s.io") {
      if (r->namespace_ && !r->namespace_->empty() && *r->namespace_ != ns) {
        warnings.push_back(warningPrefix(p) + "targetRefs Gateway " + r->name.value_or("") +
                           " names namespace " + *r->namespace_ +
                           "; a policy can only target its own namespace, the reference is "
                           "ignored");
        continue;
      }
      const auto it = scope.labels.find(kGatewayNameLabel);
      selected = selected || (ns == scope.namespace_ && it != scope.labels.end() &&
                              it->second == r->name.value_or(""));
    } else {
      warnings.push_back(warningPrefix(p) + "targetRefs " + (group.empty() ? "" : group + "/") +
                         kind + " " + r->name.value_or("") +
                         " is not enforced: Istio applies Service, ServiceEntry and GatewayClass "
                         "references at waypoint proxies, which this mesh does not run (only "
                         "gateway.networking.k8s.io Gateway references select proxies here)");
    }
  }
  return selected;
}

std::shared_ptr<const AuthzExtProvider> findProvider(const MeshSettings& mesh,
                                                     const std::string& name) {
  for (const auto& p : mesh.ext_authz_providers) {
    if (p.name != name) continue;
    auto out = std::make_shared<AuthzExtProvider>(p);
    // "ns/host" names the namespace the host is looked up from; the cluster is by host.
    const size_t slash = out->service.find('/');
    const std::string host =
        lower(slash == std::string::npos ? out->service : out->service.substr(slash + 1));
    out->cluster = "outbound|" + std::to_string(out->port) + "||" + host;
    return out;
  }
  return nullptr;
}

}  // namespace

std::vector<AuthzPolicy> authzPoliciesFor(const model::ConfigSet& config, const MeshSettings& mesh,
                                          const AuthzScope& scope,
                                          std::vector<std::string>& warnings) {
  std::vector<const model::AuthorizationPolicy*> applying;
  for (const auto& p : config.authorization_policies) {
    const std::string ns = p.meta.namespace_.empty() ? "default" : p.meta.namespace_;
    if (ns != scope.namespace_ && ns != mesh.root_namespace) continue;
    if (!p.spec.target_refs.empty() || p.spec.target_ref) {
      if (targets(p, scope, ns, warnings)) applying.push_back(&p);
      continue;
    }
    if (selects(p, scope)) applying.push_back(&p);
  }
  std::sort(applying.begin(), applying.end(), [](const auto* a, const auto* b) {
    return std::tie(a->meta.namespace_, a->meta.name) < std::tie(b->meta.namespace_, b->meta.name);
  });
  std::vector<AuthzPolicy> out;
  for (const auto* p : applying) {
    AuthzPolicy compiled = compileAuthzPolicy(*p, scope.tcp, warnings);
    if (compiled.action == AuthzAction::kCustom) {
      compiled.ext_provider = findProvider(mesh, compiled.provider);
      if (!compiled.ext_provider) {
        warnings.push_back(warningPrefix(*p) + "CUSTOM provider \"" + compiled.provider +
                           "\" is not an envoyExtAuthzHttp or envoyExtAuthzGrpc "
                           "extensionProvider of the mesh config; the requests it matches are "
                           "denied");
      } else if (scope.tcp &&
                 compiled.ext_provider->protocol == AuthzExtProvider::Protocol::kHttp) {
        warnings.push_back(warningPrefix(*p) + "CUSTOM provider \"" + compiled.provider +
                           "\" is an HTTP authorizer, which cannot check TCP traffic; the "
                           "connections it matches are denied");
        compiled.ext_provider = nullptr;
      }
    }
    out.push_back(std::move(compiled));
  }
  return out;
}

}  // namespace halyard::translate
