// `halyard up --prometheus`: Debian's Prometheus next to the mesh, configured from here. Its
// configuration (written to LOG_DIR/prometheus/prometheus.yml) has one scrape job that finds every
// proxy and the control plane through the control plane's /sd/prometheus, and loads the rule files
// of deploy/prometheus (or --prometheus-rules). It runs under the supervisor like an app: started
// once the control plane is ready, stopped with the mesh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "up/supervisor.h"
#include "up/up_plan.h"

namespace halyard::cli {

struct PrometheusOptions {
  uint16_t port = 0;      // 0: a free port the kernel picks
  std::string rules_dir;  // "": deploy/prometheus found from the halyard binary
  std::string scrape_interval = "5s";
};

struct PrometheusLaunch {
  up::ProcessSpec spec;
  std::string url;          // "http://127.0.0.1:PORT"
  std::string config_path;  // the generated prometheus.yml
  std::string rules_dir;
  std::vector<std::string> rule_files;
};

// Finds the prometheus binary and the rules, picks the port and writes the config. The error is a
// sentence naming what is missing and how to get it.
common::Result<PrometheusLaunch, std::string> preparePrometheus(const up::UpPlan& plan,
                                                                const PrometheusOptions& options,
                                                                char* const* env);

}  // namespace halyard::cli
