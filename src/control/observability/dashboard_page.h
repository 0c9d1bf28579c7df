// The dashboard served at the control plane admin's "/": one static page that polls
// /api/dashboard (mesh_scraper.h) every two seconds and draws the service graph (SVG), golden
// signals per service, proxy status and recent denials. No external assets: it works offline.
#pragma once

#include <string_view>

namespace halyard::control {

std::string_view dashboardPage();

}  // namespace halyard::control
