// The dashboard's data from Prometheus instead of the control plane's own scrape (`halyard
// control --prometheus-url URL`; `halyard up --prometheus` sets it): each /api/dashboard runs a
// few instant queries (/api/v1/query) over the recording rules of deploy/prometheus (edges from
// edge:istio_requests:rate1m, services from service:istio_requests:rate1m, the 5xx ratio and p99,
// counts from workload:istio_requests_total, scraped from `up`) and one range query for each
// service's requests/s over the last five minutes, and answers the same JSON as MeshScraper with
// "source": "prometheus". Proxy status and quarantined objects still come from the controller.
//
// Everything here runs on the admin listener's io_context thread.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

class PrometheusReader {
 public:
  using StatusSource = std::function<v1::StatusResponse()>;

  // `url`: "http://host:port" (a path prefix is kept: "http://host:port/prometheus").
  PrometheusReader(asio::io_context& io, StatusSource status, std::string url,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  ~PrometheusReader();
  PrometheusReader(const PrometheusReader&) = delete;
  PrometheusReader& operator=(const PrometheusReader&) = delete;

  // `done` gets the dashboard JSON once every query has answered or timed out; a query that
  // failed leaves its part empty and is named in "prometheus_errors".
  void dashboard(std::function<void(std::string)> done);

 private:
  struct Pending;
  void query(const std::shared_ptr<Pending>& pending, const std::string& name,
             const std::string& target);

  asio::io_context& io_;
  StatusSource status_;
  std::string host_, port_, prefix_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace halyard::control
