// authn.BlockedCIDRsAnalyzer: istiod fetches the jwksUri of every RequestAuthentication itself;
// without BLOCKED_CIDRS_IN_JWKS_URIS on its Deployment those fetches may reach any address,
// including cluster-internal ones (IST0175, reported on the istiod Deployment).
#include <string>
#include <vector>

#include "config/validate/analyzers/policy_analyzers.h"
#include "config/validate/analyzers/policy_support.h"

namespace halyard::config {

namespace {

constexpr std::string_view kBlockedCidrsEnv = "BLOCKED_CIDRS_IN_JWKS_URIS";
constexpr size_t kNamesShown = 5;

bool fetchesJwks(const model::RequestAuthentication& ra) {
  for (const auto& rule : ra.spec.jwt_rules) {
    if (!rule.jwks_uri.value_or("").empty() || !rule.jwks_uri_alias.value_or("").empty()) {
      return true;
    }
  }
  return false;
}

// Whether any container of the Deployment's pod template sets the variable to a non-empty value.
bool setsBlockedCidrs(const Object& deployment) {
  const Node* spec = deployment.spec();
  const Node* tmpl = spec ? spec->get("template") : nullptr;
  const Node* pod = tmpl ? tmpl->get("spec") : nullptr;
  const Node* containers = pod ? pod->get("containers") : nullptr;
  if (!containers || !containers->isList()) return false;
  for (const Node& c : containers->items) {
    const Node* env = c.get("env");
    if (!env || !env->isList()) continue;
    for (const Node& e : env->items) {
      const Node* name = e.get("name");
      const Node* value = e.get("value");
      if (name && name->str() == kBlockedCidrsEnv && value && !value->str().empty()) return true;
    }
  }
  return false;
}

class BlockedCidrsAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "authn.BlockedCIDRsAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    std::vector<std::string> names;
    for (const auto& ra : ctx.config().request_authentications) {
      if (!fetchesJwks(ra)) continue;
      names.push_back(AnalysisContext::namespaceOf(ra.meta) + "/" + ra.meta.name);
    }
    if (names.empty()) return;
    std::string listed;
    for (size_t i = 0; i < names.size() && i < kNamesShown; ++i) {
      listed += (i ? ", " : "") + names[i];
    }
    if (names.size() > kNamesShown) {
      listed += " and " + std::to_string(names.size() - kNamesShown) + " more";
    }
    for (const Object* d : policy::objectsOf(ctx, "apps", "Deployment")) {
      if (policy::valueOr(d->labels, "app") != "istiod" || setsBlockedCidrs(*d)) continue;
      ctx.report(out, msg::kJwksUriFetchUnrestricted, policy::metaOf(*d),
                 "spec.template.spec.containers",
                 std::to_string(names.size()) + " RequestAuthentication(s) (" + listed +
                     ") use jwksUri, but istiod does not set " + std::string(kBlockedCidrsEnv) +
                     ", so it may fetch keys from any address, internal ones included");
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeBlockedCidrsAnalyzer() {
  return std::make_unique<BlockedCidrsAnalyzer>();
}

}  // namespace halyard::config
