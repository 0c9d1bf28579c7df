// serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible in the same
// namespace that declare the same host and port with different protocols; the proxy can build
// only one listener/cluster for it, so one of them silently loses (IST0177).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

// One (host, port) declaration of a ServiceEntry and where it is visible.
struct Declaration {
  const model::ServiceEntry* se = nullptr;
  std::string protocol;  // upper case; "" when unset
  bool everywhere = false;
  std::set<std::string> namespaces;  // when not everywhere
};

// Where a ServiceEntry is visible: everywhere (empty or "*"), else the named namespaces, "."
// meaning its own and "~" none.
void setScope(const model::ServiceEntry& se, Declaration& d) {
  const auto& export_to = se.spec.export_to;
  if (export_to.empty()) d.everywhere = true;
  for (const std::string& e : export_to) {
    if (e == "*") {
      d.everywhere = true;
    } else if (e == ".") {
      d.namespaces.insert(AnalysisContext::namespaceOf(se.meta));
    } else if (e != "~") {
      d.namespaces.insert(e);
    }
  }
}

std::string fullName(const model::ServiceEntry& se) {
  return AnalysisContext::namespaceOf(se.meta) + "/" + se.meta.name;
}

class ConflictingServiceEntryProtocolAnalyzer : public Analyzer {
 public:
  std::string_view name() const override {
    return "serviceentry.ConflictingServiceEntryProtocolAnalyzer";
  }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    std::map<std::pair<std::string, int64_t>, std::vector<Declaration>> by_host_port;
    for (const auto& se : ctx.config().service_entries) {
      for (const std::string& host : se.spec.hosts) {
        for (const auto& port : se.spec.ports) {
          if (!port.number) continue;
          Declaration d;
          d.se = &se;
          d.protocol = policy::toUpper(port.protocol.value_or(""));
          setScope(se, d);
          by_host_port[{host, *port.number}].push_back(std::move(d));
        }
      }
    }
    std::set<const model::ServiceEntry*> reported;
    for (const auto& [key, decls] : by_host_port) {
      // Every namespace some declaration is visible in; "" stands for "any other namespace",
      // where only the everywhere-visible declarations meet.
      std::set<std::string> scopes = {""};
      for (const auto& d : decls) scopes.insert(d.namespaces.begin(), d.namespaces.end());
      for (const std::string& scope : scopes) {
        std::vector<const Declaration*> seen;
        std::set<std::string> protocols;
        for (const auto& d : decls) {
          if (!d.everywhere && !d.namespaces.contains(scope)) continue;
          seen.push_back(&d);
          protocols.insert(d.protocol.empty() ? "(unset)" : d.protocol);
        }
        if (protocols.size() < 2) continue;
        report(ctx, key.first, key.second, seen, protocols, reported, out);
      }
    }
  }

 private:
  static void report(const AnalysisContext& ctx, const std::string& host, int64_t port,
                     const std::vector<const Declaration*>& seen,
                     const std::set<std::string>& protocols,
                     std::set<const model::ServiceEntry*>& reported, Diagnostics& out) {
    std::set<std::string> names;
    for (const auto* d : seen) names.insert(fullName(*d->se));
    std::string name_list, protocol_list;
    for (const auto& n : names) name_list += (name_list.empty() ? "" : ", ") + n;
    for (const auto& p : protocols) protocol_list += (protocol_list.empty() ? "" : ", ") + p;
    for (const auto* d : seen) {
      if (!reported.insert(d->se).second) continue;
      ctx.report(out, msg::kConflictingServiceEntryProtocol, d->se->meta, "spec.ports",
                 "ServiceEntries " + name_list + " declare host " + host + " port " +
                     std::to_string(port) + " with different protocols: " + protocol_list);
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeConflictingServiceEntryProtocolAnalyzer() {
  return std::make_unique<ConflictingServiceEntryProtocolAnalyzer>();
}

}  // namespace halyard::config
