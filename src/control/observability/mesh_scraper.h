// The dashboard's data without Prometheus: the control plane scrapes every connected proxy's
// admin /stats/prometheus itself, periodically (every `interval`) and concurrently (non-blocking
// sockets on the admin listener's own io_context, at most `concurrency` at once, each bounded by
// `timeout`). Of each body it keeps only the series the dashboard shows (istio_requests_total and
// the client-side duration buckets), summed into a service graph (workload -> workload edges with
// requests, 5xx and whether mutual TLS carried them), per-service totals and recent denials.
// Each round's totals join a short history (`history`), so rates, error % and p99 are the
// difference between the newest round and the oldest within `rate_window`, and each service has
// its golden signals per round over the last minutes.
//
// Everything here runs on the io_context's thread: start() schedules the rounds and dashboard()
// answers from the newest round, or after a fresh one when the newest is too old for the caller.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

struct MeshScraperOptions {
  std::chrono::milliseconds interval{5000};  // between rounds; 0: only when the dashboard asks
  // A large mesh stretches the interval to this much per proxy (15 ms: 15 s for 1,000 proxies),
  // which bounds the scrape's CPU: each scrape reads and sifts a 50-150 KB body. 0: fixed.
  std::chrono::milliseconds per_proxy{15};
  std::chrono::milliseconds timeout{1000};  // per proxy: connect, request and the whole body
  size_t concurrency = 64;                  // scrapes under way at once
  std::chrono::seconds history{300};        // rounds kept for the per-service series
  std::chrono::seconds rate_window{60};     // rates are over this much of the history
};

class MeshScraper {
 public:
  using StatusSource = std::function<v1::StatusResponse()>;

  MeshScraper(asio::io_context& io, StatusSource status, MeshScraperOptions options = {});
  ~MeshScraper();
  MeshScraper(const MeshScraper&) = delete;
  MeshScraper& operator=(const MeshScraper&) = delete;

  // Schedules the periodic rounds (none when the interval is 0). Call before the io_context runs
  // or on its thread.
  void start();

  // On the io_context's thread: `done` gets the dashboard JSON ({"proxies", "edges", "services",
  // "denials", "quarantined", "scrape", ...}) from the newest round when it started at most
  // `max_age` ago, else once a round started after this call has finished.
  void dashboard(std::chrono::milliseconds max_age, std::function<void(std::string)> done);

  // One series of a metric as parsed.
  struct Sample {
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  // The samples of `metric` in Prometheus text (exact name; labels unescaped).
  static std::vector<Sample> parse(const std::string& text, const std::string& metric);

  // What the dashboard keeps of one edge or service between rounds.
  struct Totals {
    double requests = 0;
    double errors = 0;  // 5xx
    bool mtls = false;
    std::map<double, double> buckets;  // le -> cumulative count (services only)
  };
  struct Denial {
    std::string source, source_namespace, principal, destination, code;
    double count = 0;
  };
  // The dashboard's series of one proxy's /stats/prometheus body, summed by edge
  // ("source|destination|service") and by destination service. `gateway`: the proxy is a gateway
  // (its own reports count for requests that reached no workload).
  struct ProxyTotals {
    std::map<std::string, Totals> edges;
    std::map<std::string, Totals> services;
    std::vector<Denial> denials;
  };
  static ProxyTotals summarize(std::string_view body, bool gateway);

 private:
  using Clock = std::chrono::steady_clock;
  struct Fetch;
  struct Round;
  struct Waiter {
    Clock::time_point not_before;  // a round that started at or after this answers it
    std::function<void(std::string)> done;
  };
  // One finished round's mesh-wide totals.
  struct Point {
    Clock::time_point at;
    int64_t wall_ms = 0;
    std::map<std::string, Totals> edges;
    std::map<std::string, Totals> services;
  };

  using FetchDone = std::function<void(const std::shared_ptr<Fetch>&, bool ok)>;
  static void readMore(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish);
  static void send(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish);
  void connect(const std::shared_ptr<Fetch>& fetch, const FetchDone& finish);
  FetchDone fetchDone();
  void finishFetchOf(const std::shared_ptr<Fetch>& fetch, bool ok);
  void schedule(Clock::duration delay);
  void beginRound();
  void launchNext();
  void finishFetch(size_t index, bool ok, std::string_view body);
  void endRound();
  std::string render();

  asio::io_context& io_;
  StatusSource status_;
  MeshScraperOptions options_;
  asio::steady_timer timer_;
  std::unique_ptr<Round> round_;  // the round under way, if any
  std::vector<Waiter> waiters_;
  // The newest good totals of each proxy (by id), used when a scrape of it fails.
  std::map<std::string, ProxyTotals> last_good_;
  std::deque<Point> history_;
  v1::StatusResponse last_status_;
  std::vector<bool> last_scraped_;
  std::vector<Denial> last_denials_;
  Clock::time_point last_started_{};
  bool has_round_ = false;
  std::deque<double> durations_ms_;  // the last rounds' durations
  uint64_t rounds_ = 0;
  int targets_ = 0;                   // proxies in the last round begun
  std::vector<std::string> buffers_;  // read buffers of finished scrapes, reused
  // Keep-alive connections to proxies' admin addresses between rounds: a scrape on one saves
  // the connect and the close (most of a scrape's cost once the body is filtered).
  std::map<std::string, asio::ip::tcp::socket, std::less<>> idle_;
  std::string rendered_;  // render() of the newest round, made once
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace halyard::control
