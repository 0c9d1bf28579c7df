// The dashboard's data without Prometheus: the control plane scrapes every connected proxy's
// /stats/prometheus when the dashboard asks (GET /api/dashboard), and turns Istio's request
// metrics into a service graph (workload -> workload edges with requests/s, error %, p99 and
// whether mutual TLS carried them), golden signals per service and recent denials. Rates are the
// difference to the previous scrape, so the first answer has counts and no rates yet.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

class MeshScraper {
 public:
  // The dashboard JSON: {"proxies": [...], "edges": [...], "services": [...], "denials": [...],
  // "quarantined": [...], "scraped_at": ms}.
  std::string dashboardJson(const v1::StatusResponse& status);

  // One series of istio_requests_total or of the duration histogram's buckets, as parsed.
  struct Sample {
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  // The samples of `metric` in Prometheus text (exact name; labels unescaped).
  static std::vector<Sample> parse(const std::string& text, const std::string& metric);

 private:
  using Clock = std::chrono::steady_clock;
  struct Totals {
    double requests = 0;
    double errors = 0;  // 5xx
    bool mtls = false;
    std::map<double, double> buckets;  // le -> cumulative count
  };
  std::mutex mu_;
  std::map<std::string, Totals> previous_;  // by edge / service key
  Clock::time_point previous_at_{};
  bool has_previous_ = false;
};

}  // namespace halyard::control
