#include "control/observability/prometheus_sd.h"

#include <nlohmann/json.hpp>

namespace halyard::control {

namespace {

std::string labelOr(const v1::ProxyStatus& p, const char* key, const std::string& fallback) {
  auto it = p.labels().find(key);
  return it == p.labels().end() || it->second.empty() ? fallback : it->second;
}

}  // namespace

std::string prometheusSdJson(const v1::StatusResponse& status, const std::string& control_admin) {
  nlohmann::json groups = nlohmann::json::array();
  if (!control_admin.empty()) {
    groups.push_back(
        {{"targets", {control_admin}},
         {"labels",
          {{"__metrics_path__", "/metrics"},
           {"name", "halyard-control"},
           {"namespace", "istio-system"},
           {"role", "control"},
           {"workload", "halyard-control"},
           {"app", "halyard-control"},
           {"version", status.build_version().empty() ? "unknown" : status.build_version()}}}});
  }
  for (const auto& p : status.proxies()) {
    if (p.admin_address().empty()) continue;  // a proxy started without --admin
    // Istio's canonical names: the app label (else the workload's name) and the version label.
    const std::string app =
        labelOr(p, "app", labelOr(p, "service.istio.io/canonical-name", p.name()));
    const std::string version =
        labelOr(p, "version", labelOr(p, "service.istio.io/canonical-revision", "unknown"));
    groups.push_back({{"targets", {p.admin_address()}},
                      {"labels",
                       {{"__metrics_path__", "/stats/prometheus"},
                        {"name", p.name()},
                        {"namespace", p.namespace_()},
                        {"role", p.role()},
                        {"workload", p.name()},
                        {"app", app},
                        {"version", version},
                        {"proxy", p.id()}}}});
  }
  return groups.dump(2) + "\n";
}

}  // namespace halyard::control
