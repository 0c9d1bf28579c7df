// The dashboard served at the control plane admin's "/": one static page that polls
// /api/dashboard (mesh_scraper.h) and /api/traces (trace_collector.h) every two seconds and draws
// the service graph (SVG), golden signals per service, proxy status, recent denials and recent
// traces (a click, or #trace=ID in the URL, shows one as a waterfall). No external assets: it works
// offline.
#pragma once

#include <string_view>

namespace halyard::control {

std::string_view dashboardPage();

}  // namespace halyard::control
