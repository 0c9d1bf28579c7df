// The control plane's admin listener (--admin 127.0.0.1:15011): GET /ready, /status (the Status
// answer as JSON), /metrics (Prometheus text: config version, proxies, pushes and their latency,
// NACKs, quarantined objects, certificates issued, refused credentials, and per proxy its
// versions, last answer and certificate expiry) and /sd/prometheus (http_sd_configs targets: every
// connected proxy's admin address and this listener; control/observability/prometheus_sd.h), the
// dashboard at / with its data at /api/dashboard (control/observability/mesh_scraper.h). One
// request per connection, all on the listener's own thread, which also runs the dashboard's
// scrapes of the proxies.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/error.h"
#include "control/observability/mesh_scraper.h"
#include "control/observability/prometheus_reader.h"
#include "control/observability/trace_collector.h"
#include "control/push/identity_counters.h"
#include "control/push/push_controller.h"

namespace halyard::control {

struct AdminOptions {
  MeshScraperOptions scrape;  // the dashboard's scrape of the proxies
  // Non-empty: the dashboard reads from this Prometheus (prometheus_reader.h) and the periodic
  // scrape is off (/api/dashboard?source=scrape still scrapes on demand).
  std::string prometheus_url;
};

class AdminServer {
 public:
  // `identity`: the Discovery service's counters (null: none shown).
  explicit AdminServer(const PushController& controller, const IdentityCounters* identity = nullptr,
                       AdminOptions options = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // "host:port"; port 0 picks a free one.
  common::Expected<void> start(const std::string& address);
  void stop();
  // The bound address as a scraper dials it (a wildcard host as loopback); "" before start().
  const std::string& address() const { return address_; }

 private:
  struct Request {
    std::string method;
    std::string target;  // the path, without the query
    std::string query;   // after '?'
    std::string body;
  };
  void accept();
  // Answers one request through `reply` (now, or later for a dashboard that waits for a scrape).
  void respond(const Request& request, std::function<void(std::string)> reply);
  std::string respondNow(const Request& request);

  const PushController& controller_;
  const IdentityCounters* identity_;
  asio::io_context io_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  std::string address_;
  AdminOptions options_;
  std::unique_ptr<MeshScraper> scraper_;  // the dashboard's scrapes of the proxies (/api/dashboard)
  std::unique_ptr<PrometheusReader> prometheus_;  // when options_.prometheus_url is set
  TraceCollector traces_;                         // POST /api/v2/spans; /api/traces
};

}  // namespace halyard::control
