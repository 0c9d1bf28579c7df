// The parts of the dashboard JSON that come from the controller's status whatever feeds the
// metrics (mesh_scraper.h, prometheus_reader.h): the proxies and the quarantined objects.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

// Sets doc["config_version"], doc["proxies"] (each with "scraped": scraped(index)) and
// doc["quarantined"].
void putStatusJson(nlohmann::json& doc, const v1::StatusResponse& status,
                   const std::function<bool(int)>& scraped);

}  // namespace halyard::control
