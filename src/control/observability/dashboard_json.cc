#include "control/observability/dashboard_json.h"

#include <string>

namespace halyard::control {

void putStatusJson(nlohmann::json& doc, const v1::StatusResponse& status,
                   const std::function<bool(int)>& scraped) {
  using nlohmann::json;
  json proxies = json::array();
  for (int i = 0; i < status.proxies_size(); ++i) {
    const auto& p = status.proxies(i);
    proxies.push_back({{"id", p.id()},
                       {"name", p.name()},
                       {"namespace", p.namespace_()},
                       {"role", p.role()},
                       {"version", p.build_version()},
                       {"acked_version", p.acked_version()},
                       {"sent_version", p.sent_version()},
                       {"last_response", p.last_response()},
                       {"last_error", p.last_error()},
                       {"certificate_not_after", p.certificate_not_after()},
                       {"admin", p.admin_address()},
                       {"scraped", scraped(i)}});
  }
  json quarantined = json::array();
  for (const auto& q : status.quarantined()) {
    std::string problem = q.problems_size() > 0 ? q.problems(0).message() : "";
    quarantined.push_back({{"kind", q.kind()},
                           {"namespace", q.namespace_()},
                           {"name", q.name()},
                           {"where", q.file() + ":" + std::to_string(q.line())},
                           {"problem", problem}});
  }
  doc["config_version"] = status.version();
  doc["proxies"] = std::move(proxies);
  doc["quarantined"] = std::move(quarantined);
}

}  // namespace halyard::control
