// Prometheus HTTP service discovery (`http_sd_configs`) for the whole mesh, served by the control
// plane's admin listener at /sd/prometheus: one target group per connected proxy that gave an
// admin address, plus one for the control plane itself, so a single scrape job follows the mesh
// as proxies come and go.
#pragma once

#include <string>

#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

// The JSON array Prometheus expects: [{"targets": ["host:port"], "labels": {...}}, ...].
// Proxies are labelled __metrics_path__ "/stats/prometheus", name, namespace, role, workload,
// app, version (the last two from the proxy's labels, "unknown" without them) and proxy
// ("name.namespace", what proxy-config takes). `control_admin` is this control plane's admin
// address as a scraper dials it ("" leaves it out); its group has __metrics_path__ "/metrics"
// and role "control".
std::string prometheusSdJson(const v1::StatusResponse& status, const std::string& control_admin);

}  // namespace halyard::control
