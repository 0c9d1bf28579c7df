// VirtualServices ready for route generation, as Istio's push context prepares them: hosts and
// destination hosts expanded from short names in the namespace of the object that wrote them,
// gateway references resolved to "ns/name", delegate routes merged into their root (one level,
// istio-semantics.md §1.3), and everything in configuration order (§0.4).
#pragma once

#include <string>
#include <vector>

#include "config/model/config_set.h"
#include "translate/diagnostic_sink.h"

namespace halyard::translate {

// One HTTP route entry after preparation.
struct PreparedRoute {
  config::model::HTTPRoute http;
  const config::model::ObjectMeta* meta = nullptr;  // who wrote it (the delegate for merged ones)
  std::string namespace_;  // of `meta`: where its short names were resolved
  std::string field_path;  // "spec.http[1]" in `meta`'s object
  std::string origin;      // "default/api-virtual http[1]" (+ " via default/delegate http[0]")
};

struct PreparedVirtualService {
  const config::model::VirtualService* source = nullptr;
  std::string namespace_;
  std::vector<std::string> hosts;     // FQDNs or wildcards, lowercase
  std::vector<std::string> gateways;  // "ns/name"; "mesh" when the YAML lists none
  std::vector<PreparedRoute> http;
};

// Every VirtualService that has hosts (delegates are merged into their roots, not listed), oldest
// first. Routes whose delegate is missing, not exported to the root, or nested are dropped with a
// warning, as are delegate routes that do not fall within the root match.
std::vector<PreparedVirtualService> prepareVirtualServices(const config::model::ConfigSet& config,
                                                           DiagnosticSink& sink);

// Where a VirtualService comes in the order Istio selects them for a proxy in `proxy_namespace`:
// 0 private to that namespace, 1 exported to it, 2 public, -1 invisible ("." or the own
// namespace is private, other names export, "*" or an empty list is public, "~" hides).
int visibilityRank(const PreparedVirtualService& vs, const std::string& proxy_namespace);

}  // namespace halyard::translate
