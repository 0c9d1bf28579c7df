#include "translate/virtual_service_set.h"

#include <algorithm>

#include "config/model/host_name.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

void resolveDestination(model::Boxed<model::Destination>& d, const std::string& ns) {
  if (d && d->host) d->host = toLower(model::resolveShortName(*d->host, ns));
}

// Short names and gateway references of one route entry, resolved in the writer's namespace.
void resolveRoute(model::HTTPRoute& r, const std::string& ns) {
  for (auto& dst : r.route) resolveDestination(dst.destination, ns);
  resolveDestination(r.mirror, ns);
  for (auto& m : r.mirrors) resolveDestination(m.destination, ns);
  for (auto& m : r.match) {
    for (auto& g : m.gateways) g = model::resolveGatewayName(g, ns);
  }
}

const std::string& text(const std::optional<std::string>& s) {
  static const std::string kEmpty;
  return s ? *s : kEmpty;
}

// True when `leaf` does not select a subset of what `root` selects (Istio's delegate conflict
// rule): regexes never nest; an exact root takes only the same exact; a prefix root takes a
// prefix or exact that starts with it.
bool stringMatchConflict(const model::Boxed<model::StringMatch>& root,
                         const model::Boxed<model::StringMatch>& leaf) {
  if (!root || !leaf) return false;
  if (!text(root->regex).empty() || !text(leaf->regex).empty()) return true;
  if (const std::string& exact = text(root->exact); !exact.empty()) {
    return !text(leaf->prefix).empty() || text(leaf->exact) != exact;
  }
  if (const std::string& prefix = text(root->prefix); !prefix.empty()) {
    if (!text(leaf->prefix).empty()) return !text(leaf->prefix).starts_with(prefix);
    if (!text(leaf->exact).empty()) return !text(leaf->exact).starts_with(prefix);
  }
  return true;
}

bool mapConflict(const std::map<std::string, model::StringMatch>& root,
                 const std::map<std::string, model::StringMatch>& leaf) {
  for (const auto& [key, value] : leaf) {
    auto it = root.find(key);
    if (it != root.end() && stringMatchConflict(it->second, value)) return true;
  }
  return false;
}

bool hasConflict(const model::HTTPMatchRequest& root, const model::HTTPMatchRequest& leaf) {
  if (stringMatchConflict(root.uri, leaf.uri) || stringMatchConflict(root.scheme, leaf.scheme) ||
      stringMatchConflict(root.method, leaf.method) ||
      stringMatchConflict(root.authority, leaf.authority) ||
      mapConflict(root.headers, leaf.headers) ||
      mapConflict(root.without_headers, leaf.without_headers) ||
      mapConflict(root.query_params, leaf.query_params)) {
    return true;
  }
  if (root.ignore_uri_case.value_or(false) != leaf.ignore_uri_case.value_or(false)) return true;
  const int64_t rp = root.port.value_or(0), lp = leaf.port.value_or(0);
  if (rp > 0 && lp > 0 && rp != lp) return true;
  if (!text(root.source_namespace).empty() &&
      text(leaf.source_namespace) != text(root.source_namespace)) {
    return true;
  }
  for (const auto& [key, value] : leaf.source_labels) {
    auto it = root.source_labels.find(key);
    if (it != root.source_labels.end() && it->second != value) return true;
  }
  if (!root.gateways.empty() && !leaf.gateways.empty()) {
    for (const auto& g : leaf.gateways) {
      if (std::find(root.gateways.begin(), root.gateways.end(), g) == root.gateways.end()) {
        return true;
      }
    }
  }
  return false;
}

std::string joinNames(const std::optional<std::string>& root,
                      const std::optional<std::string>& leaf) {
  if (text(leaf).empty()) return text(root);
  if (text(root).empty()) return text(leaf);
  return text(root) + "-" + text(leaf);
}

// The leaf match narrowed by the root match: the leaf's conditions, plus the root's where the
// leaf has none.
model::HTTPMatchRequest mergeMatch(const model::HTTPMatchRequest& root,
                                   const model::HTTPMatchRequest& leaf) {
  model::HTTPMatchRequest out = leaf;
  if (auto n = joinNames(root.name, leaf.name); !n.empty()) out.name = n;
  if (!out.uri) out.uri = root.uri;
  if (!out.scheme) out.scheme = root.scheme;
  if (!out.method) out.method = root.method;
  if (!out.authority) out.authority = root.authority;
  for (const auto& [k, v] : root.headers) out.headers.try_emplace(k, v);
  for (const auto& [k, v] : root.without_headers) out.without_headers.try_emplace(k, v);
  for (const auto& [k, v] : root.query_params) out.query_params.try_emplace(k, v);
  if (out.port.value_or(0) == 0) out.port = root.port;
  for (const auto& [k, v] : root.source_labels) out.source_labels.try_emplace(k, v);
  if (text(out.source_namespace).empty()) out.source_namespace = root.source_namespace;
  if (out.gateways.empty()) out.gateways = root.gateways;
  if (text(out.stat_prefix).empty()) out.stat_prefix = root.stat_prefix;
  return out;
}

// Every leaf match must fall within at least one root match; the result has one block per
// (leaf, compatible root) pair. nullopt: the delegate route conflicts with the root.
std::optional<std::vector<model::HTTPMatchRequest>> mergeMatches(
    const std::vector<model::HTTPMatchRequest>& root,
    const std::vector<model::HTTPMatchRequest>& leaf) {
  if (root.empty()) return leaf;
  if (leaf.empty()) return root;
  std::vector<model::HTTPMatchRequest> out;
  for (const auto& l : leaf) {
    bool found = false;
    for (const auto& r : root) {
      if (hasConflict(r, l)) continue;
      out.push_back(mergeMatch(r, l));
      found = true;
    }
    if (!found) return std::nullopt;
  }
  return out;
}

// The delegate route with the root entry's settings filled in where it has none.
model::Boxed<model::HTTPRoute> mergeRoute(const model::HTTPRoute& root, model::HTTPRoute leaf) {
  auto matches = mergeMatches(root.match, leaf.match);
  if (!matches) return std::nullopt;
  leaf.match = std::move(*matches);
  if (auto n = joinNames(root.name, leaf.name); !n.empty()) leaf.name = n;
  if (!leaf.rewrite) leaf.rewrite = root.rewrite;
  if (!leaf.timeout) leaf.timeout = root.timeout;
  if (!leaf.retries) leaf.retries = root.retries;
  if (!leaf.fault) leaf.fault = root.fault;
  if (!leaf.mirror) leaf.mirror = root.mirror;
  if (!leaf.mirror_percent) leaf.mirror_percent = root.mirror_percent;
  if (!leaf.mirror_percent_alias) leaf.mirror_percent_alias = root.mirror_percent_alias;
  if (!leaf.mirror_percentage) leaf.mirror_percentage = root.mirror_percentage;
  if (!leaf.cors_policy) leaf.cors_policy = root.cors_policy;
  if (leaf.mirrors.empty()) leaf.mirrors = root.mirrors;
  if (!leaf.headers) leaf.headers = root.headers;
  return leaf;
}

std::string refName(const model::ObjectMeta& meta) {
  return namespaceOf(meta) + "/" + meta.name;
}

}  // namespace

std::vector<PreparedVirtualService> prepareVirtualServices(const model::ConfigSet& config,
                                                           DiagnosticSink& sink) {
  std::vector<const model::VirtualService*> ordered;
  for (const auto& vs : config.virtual_services) ordered.push_back(&vs);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });

  // Routes of every VirtualService with short names resolved in its own namespace.
  auto resolvedRoutes = [](const model::VirtualService& vs) {
    const std::string& ns = namespaceOf(vs.meta);
    std::vector<PreparedRoute> out;
    for (size_t i = 0; i < vs.spec.http.size(); ++i) {
      PreparedRoute r;
      r.http = vs.spec.http[i];
      resolveRoute(r.http, ns);
      r.meta = &vs.meta;
      r.namespace_ = ns;
      r.field_path = "spec.http[" + std::to_string(i) + "]";
      r.origin = refName(vs.meta) + " http[" + std::to_string(i) + "]";
      out.push_back(std::move(r));
    }
    return out;
  };

  std::vector<PreparedVirtualService> out;
  for (const auto* vs : ordered) {
    if (vs->spec.hosts.empty()) continue;  // a delegate: merged below into whoever names it
    PreparedVirtualService p;
    p.source = vs;
    p.namespace_ = namespaceOf(vs->meta);
    for (const auto& h : vs->spec.hosts)
      p.hosts.push_back(toLower(model::resolveShortName(h, p.namespace_)));
    for (const auto& g : vs->spec.gateways)
      p.gateways.push_back(model::resolveGatewayName(g, p.namespace_));
    if (p.gateways.empty()) p.gateways.push_back("mesh");
    for (auto& root : resolvedRoutes(*vs)) {
      if (!root.http.delegate) {
        p.http.push_back(std::move(root));
        continue;
      }
      const auto& d = *root.http.delegate;
      const std::string name = d.name.value_or("");
      const std::string ns = d.namespace_.value_or(p.namespace_);
      const model::VirtualService* delegate = nullptr;
      for (const auto* c : ordered) {
        if (c->meta.name == name && namespaceOf(c->meta) == ns && c->spec.hosts.empty())
          delegate = c;
      }
      const std::string path = root.field_path + ".delegate";
      if (!delegate) {
        sink.report(kIgnoredRoute, vs->meta, d.line, path,
                    "delegate VirtualService " + ns + "/" + name +
                        " not found (a delegate has no " + "hosts); this route entry is dropped");
        continue;
      }
      if (!model::isVisible(delegate->spec.export_to, ns, p.namespace_)) {
        sink.report(kIgnoredRoute, vs->meta, d.line, path,
                    "delegate VirtualService " + ns + "/" + name +
                        " is not exported to namespace " + p.namespace_ +
                        "; this route entry is dropped");
        continue;
      }
      for (auto& leaf : resolvedRoutes(*delegate)) {
        if (leaf.http.delegate) {
          sink.report(kIgnoredRoute, delegate->meta, leaf.http.line, leaf.field_path + ".delegate",
                      "only one level of delegation is supported; this route entry is dropped");
          continue;
        }
        const int line = leaf.http.line;
        auto merged = mergeRoute(root.http, std::move(leaf.http));
        if (!merged) {
          sink.report(
              kIgnoredRoute, delegate->meta, line, leaf.field_path + ".match",
              "route does not fall within the match of its root " + root.origin + "; ignored");
          continue;
        }
        leaf.http = std::move(*merged);
        leaf.origin = root.origin + " via " + leaf.origin;
        p.http.push_back(std::move(leaf));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

int visibilityRank(const PreparedVirtualService& vs, const std::string& proxy_namespace) {
  const auto& export_to = vs.source->spec.export_to;
  if (export_to.empty()) return 2;
  const auto has = [&](std::string_view e) {
    return std::find(export_to.begin(), export_to.end(), e) != export_to.end();
  };
  if (has("*")) return 2;
  if (has("~")) return -1;
  bool private_here = false, exported_here = false;
  for (const auto& e : export_to) {
    if (e == "." || e == vs.namespace_) {
      private_here |= vs.namespace_ == proxy_namespace;
    } else {
      exported_here |= e == proxy_namespace;
    }
  }
  return private_here ? 0 : exported_here ? 1 : -1;
}

}  // namespace halyard::translate
