#include "proxy/authz/authorizer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "telemetry/peer_identity.h"

namespace halyard::proxy::authz {

namespace {

namespace tr = halyard::translate;
using Kind = tr::AuthzMatcher::Kind;
using Attribute = tr::AuthzAttribute;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Segment by segment: {*} is one non-empty segment, {**} one or more (it is last).
bool templateMatches(std::string_view pattern, std::string_view path) {
  while (true) {
    if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
    if (pattern.front() != '/' || path.front() != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const size_t ps = pattern.find('/');
    const std::string_view segment = pattern.substr(0, ps);
    if (segment == "{**}") return !path.empty();
    const size_t qs = path.find('/');
    const std::string_view part = path.substr(0, qs);
    if (segment == "{*}") {
      if (part.empty()) return false;
    } else if (segment != part) {
      return false;
    }
    pattern = ps == std::string_view::npos ? std::string_view() : pattern.substr(ps);
    path = qs == std::string_view::npos ? std::string_view() : path.substr(qs);
  }
}

bool cidrContains(const tr::AuthzMatcher& m, const AuthzAddress& a) {
  if (a.size == 0 || a.size != m.value.size()) return false;
  const auto* want = reinterpret_cast<const unsigned char*>(m.value.data());
  const int full = m.prefix_length / 8;
  const int rest = m.prefix_length % 8;
  if (!std::equal(a.bytes, a.bytes + full, want)) return false;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a.bytes[full] & mask) == (want[full] & mask);
}

bool anyCidr(const tr::AuthzCondition& c, const AuthzAddress& a) {
  return std::any_of(c.values.begin(), c.values.end(), [&](const tr::AuthzMatcher& m) {
    return m.kind == Kind::kCidr && cidrContains(m, a);
  });
}

bool valueMatches(const tr::AuthzMatcher& m, std::string_view v, bool ignore_case = false) {
  switch (m.kind) {
    case Kind::kPresence:
      return !v.empty();
    case Kind::kExact:
      return ignore_case ? equalsIgnoreCase(v, m.value) : v == m.value;
    case Kind::kPrefix:
      return v.size() >= m.value.size() &&
             (ignore_case ? equalsIgnoreCase(v.substr(0, m.value.size()), m.value)
                          : v.starts_with(m.value));
    case Kind::kSuffix:
      return v.size() >= m.value.size() &&
             (ignore_case ? equalsIgnoreCase(v.substr(v.size() - m.value.size()), m.value)
                          : v.ends_with(m.value));
    case Kind::kTemplate:
      return templateMatches(m.value, v);
    case Kind::kCidr:
      return cidrContains(m, parseAuthzAddress(v));
  }
  return false;
}

std::string_view withoutPort(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// Whether any value of the condition matches what the request has for its attribute.
bool anyValueMatches(const tr::AuthzCondition& c, const AuthzRequest& r) {
  auto any = [&](std::string_view v, bool ignore_case = false) {
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const tr::AuthzMatcher& m) { return valueMatches(m, v, ignore_case); });
  };
  // The SPIFFE ID is parsed only for the conditions that look at it.
  std::string_view td, ns, sa;
  auto peer = [&] { return telemetry::parseSpiffeId(r.peer_principal, td, ns, sa); };
  switch (c.attribute) {
    case Attribute::kPrincipal:
      return peer() && any(r.peer_principal.substr(9));  // without "spiffe://"
    case Attribute::kSourceNamespace:
      return peer() && any(ns);
    case Attribute::kSourceTrustDomain:
      return peer() && any(td);
    case Attribute::kRequestPrincipal:
      return r.has_jwt && any(r.request_principal);
    case Attribute::kSourceIp:
      return anyCidr(c, r.sourceAddress());
    case Attribute::kRemoteIp:
      return anyCidr(c, r.remoteAddress());
    case Attribute::kDestinationIp:
      return anyCidr(c, r.destinationAddress());
    case Attribute::kHost:
      return any(withoutPort(r.host), true);
    case Attribute::kMethod:
      return any(r.method);
    case Attribute::kPath:
      return any(r.path);
    case Attribute::kPort: {
      char digits[8];
      const auto end = std::to_chars(digits, digits + sizeof(digits), r.destination_port).ptr;
      return r.destination_port != 0 && any(std::string_view(digits, end - digits));
    }
    case Attribute::kSni:
      return any(r.sni);
    case Attribute::kHeader: {
      if (!r.header) return false;
      const auto value = r.header(r.context, c.key);
      return value && any(*value);
    }
    case Attribute::kAuthPresenter:
      return r.has_jwt && any(r.presenter);
    case Attribute::kAuthAudience:
      if (!r.has_jwt || !r.audiences) return false;
      return std::any_of(r.audiences->begin(), r.audiences->end(),
                         [&](const std::string& a) { return any(a); });
    case Attribute::kAuthClaim: {
      if (!r.has_jwt || !r.claim) return false;
      std::vector<std::string> values;
      r.claim(r.context, c.key, values);
      return std::any_of(values.begin(), values.end(),
                         [&](const std::string& v) { return any(v); });
    }
  }
  return false;
}

bool conditionHolds(const tr::AuthzCondition& c, const AuthzRequest& r) {
  return anyValueMatches(c, r) != c.negated;
}

bool allHold(const std::vector<tr::AuthzCondition>& conditions, const AuthzRequest& r) {
  return std::all_of(conditions.begin(), conditions.end(),
                     [&](const tr::AuthzCondition& c) { return conditionHolds(c, r); });
}

// Any of the alternatives holds; none given is no constraint.
bool anyHolds(const std::vector<std::vector<tr::AuthzCondition>>& alternatives,
              const AuthzRequest& r) {
  return alternatives.empty() ||
         std::any_of(alternatives.begin(), alternatives.end(),
                     [&](const auto& conditions) { return allHold(conditions, r); });
}

}  // namespace

AuthzAddress parseAuthzAddress(std::string_view ip) {
  AuthzAddress out;
  char text[64];
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() >= sizeof(text)) return out;
  std::copy(ip.begin(), ip.end(), text);
  text[ip.size()] = '\0';
  if (inet_pton(AF_INET, text, out.bytes) == 1) {
    out.size = 4;
  } else if (inet_pton(AF_INET6, text, out.bytes) == 1) {
    out.size = 16;
    // An IPv4 client seen through a dual-stack socket is compared as IPv4.
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::equal(out.bytes, out.bytes + 12, kMapped)) {
      std::copy(out.bytes + 12, out.bytes + 16, out.bytes);
      out.size = 4;
    }
  }
  return out;
}

bool policyMatches(const tr::AuthzPolicy& policy, const AuthzRequest& request) {
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const tr::AuthzRule& rule) {
    return anyHolds(rule.from, request) && anyHolds(rule.to, request) &&
           allHold(rule.when, request);
  });
}

AuthzDecision authorize(const std::vector<tr::AuthzPolicy>& policies, const AuthzRequest& request) {
  AuthzDecision d;
  const tr::AuthzPolicy* deny = nullptr;
  const tr::AuthzPolicy* allow = nullptr;
  bool any_allow_policy = false;
  for (const tr::AuthzPolicy& p : policies) {
    const bool matched = policyMatches(p, request);
    if (p.dry_run) {
      if (matched) d.dry_run_matched.push_back(&p);
      if (p.action == tr::AuthzAction::kDeny) {
        d.dry_run_deny_allowed = d.dry_run_deny_allowed.value_or(true) && !matched;
      } else if (p.action == tr::AuthzAction::kAllow) {
        d.dry_run_allow_allowed = d.dry_run_allow_allowed.value_or(false) || matched;
      }
      continue;
    }
    switch (p.action) {
      case tr::AuthzAction::kCustom:
        if (matched && !d.custom) d.custom = &p;
        break;
      case tr::AuthzAction::kDeny:
        if (matched && !deny) deny = &p;
        break;
      case tr::AuthzAction::kAudit:
        d.audit = d.audit || matched;
        break;
      case tr::AuthzAction::kAllow:
        any_allow_policy = true;
        if (matched && !allow) allow = &p;
        break;
    }
  }
  if (deny) {
    d.allowed = false;
    d.policy = deny;
  } else if (!any_allow_policy) {
    d.allowed = true;
  } else {
    d.allowed = allow != nullptr;
    d.policy = allow;
  }
  return d;
}

std::string AuthzDecision::reason() const {
  if (allowed) {
    return policy ? "allowed by AuthorizationPolicy " + policy->name
                  : "allowed: no ALLOW AuthorizationPolicy applies";
  }
  return policy ? "denied by AuthorizationPolicy " + policy->name
                : "denied: no ALLOW AuthorizationPolicy matched";
}

}  // namespace halyard::proxy::authz
