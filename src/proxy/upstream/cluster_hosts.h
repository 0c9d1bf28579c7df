// A cluster's endpoints as one worker uses them for one snapshot: resolved to UpstreamHosts,
// plus the load balancer's cursor. IP endpoints are resolved when the view is built; clusters
// with resolve_dns (ServiceEntry resolution: DNS) resolve their names asynchronously on first
// use and refresh them in the background after kDnsRefresh, serving the previous answer
// meanwhile. Every address a name resolves to becomes a host (Envoy's STRICT_DNS).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/net/async_event.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/hash_ring.h"
#include "proxy/upstream/locality_plan.h"
#include "proxy/upstream/outlier_detector.h"
#include "proxy/upstream/shared_upstream.h"
#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

class ClusterHosts : public std::enable_shared_from_this<ClusterHosts> {
 public:
  static constexpr std::chrono::seconds kDnsRefresh{30};

  // `cluster` usually aliases its Snapshot, which it keeps alive for background refreshes.
  ClusterHosts(std::shared_ptr<const translate::Cluster> cluster, ConnectionPool& pool,
               asio::any_io_executor executor);

  const translate::Cluster& cluster() const { return *cluster_; }
  const std::vector<std::shared_ptr<UpstreamHost>>& hosts() const { return hosts_; }
  // The config's endpoint a host came from (its workload and labels, for telemetry); null when
  // the host is not one of hosts(). A scan: clusters are small next to a request's other work.
  const translate::Endpoint* endpoint(const UpstreamHost& host) const;

  // Makes hosts() current: immediate for IP endpoints and fresh DNS answers; waits for the
  // first resolution of a DNS cluster; starts a background refresh when the answer is old.
  asio::awaitable<void> ensureResolved();
  // ensureResolved() has nothing to do (IP endpoints only): callers on the hot path skip its
  // coroutine frame.
  bool resolvedAlways() const { return !needs_dns_; }

  // TLS origination (DestinationRule tls) for this snapshot: the client context the main thread
  // built for the cluster, or, when it could not be built, why not. Set once when the worker's
  // snapshot view is built, so a request looks nothing up.
  void setTls(const tls::ClientContext* context, std::string_view error) {
    tls_context_ = context;
    tls_error_ = error;
  }
  const tls::ClientContext* tlsContext() const { return tls_context_; }
  std::string_view tlsError() const { return tls_error_; }

  // How a connection to a host is made for a request to `request_host`: plaintext, the cluster's
  // TLS, or — with auto mTLS — Istio mutual TLS only to the endpoints that run a sidecar.
  // `endpoint` is the host's (endpoint(host), which the caller has already looked up for its
  // telemetry). The error says why the cluster has TLS settings but no context.
  common::Result<TransportSettings, std::string_view> transportFor(
      const translate::Endpoint* endpoint, std::string_view request_host) const;

  // Why hosts() is empty after a failed resolution ("" when it did not fail).
  const std::string& resolveError() const { return resolve_error_; }

  // Endpoint weights (ServiceEntry/WorkloadEntry `weight`), parallel to hosts(); all 1 unless
  // the config sets them. weighted(): some differ, so the balancers must look at them.
  uint32_t weight(size_t i) const { return weights_[i]; }
  bool weighted() const { return weighted_; }

  uint64_t nextCursor() { return cursor_++; }  // ROUND_ROBIN position, equal weights
  // ROUND_ROBIN with weights: smooth weighted round robin (each host in proportion to its
  // weight, interleaved rather than in bursts).
  size_t nextWeightedRoundRobin();
  // The host whose share of the total weight contains `r` (uniform in [0, totalWeight())).
  size_t weightedIndex(uint64_t r) const;
  uint64_t totalWeight() const { return total_weight_; }

  // ---- traffic policy (issue 13) ----
  // The circuit-breaker counters and host health every worker shares for this cluster.
  ClusterState& state() { return *state_; }
  const std::shared_ptr<ClusterState>& sharedState() const { return state_; }
  // Host i's outlier-detection state (parallel to hosts(); only with outlierDetection).
  HostHealth& health(size_t i) { return *health_[i]; }
  const std::vector<HostHealth*>& healthList() const { return health_ptrs_; }
  // The index of `host` in hosts(), or hosts().size() (a scan, like endpoint()).
  size_t indexOf(const UpstreamHost& host) const;
  // Null without outlierDetection.
  OutlierDetector* outlier() { return detector_ ? &*detector_ : nullptr; }
  // The consistent-hash ring or Maglev table (empty without consistentHash).
  const HashRing& ring() const { return ring_; }
  // Per-host locality priority and distribute groups (empty without locality balancing).
  const LocalityPlan& locality() const { return locality_; }
  // Something (ejections, locality, hashing, warmup) can make hosts differ beyond their weight:
  // host selection takes the general path.
  bool filtered() const { return filtered_; }
  // Scratch space for host selection (candidate indices), so that picking never allocates.
  std::vector<uint32_t>& scratch() { return scratch_; }
  // Slow start: host i's weight scaled by how far into loadBalancer.warmup it is (its own
  // weight when warmup is off or over).
  double warmupWeight(size_t i, std::chrono::steady_clock::time_point now) const;
  // When this view's hosts first took traffic from this worker (warmup's starting point for
  // hosts that were there from the start).
  std::chrono::steady_clock::time_point hostSince(size_t i) const { return host_since_[i]; }

 private:
  asio::awaitable<void> resolve();
  void setHosts(std::vector<std::shared_ptr<UpstreamHost>> hosts, std::vector<uint32_t> weights,
                std::vector<const translate::Endpoint*> endpoints);

  std::shared_ptr<const translate::Cluster> cluster_;
  ConnectionPool* pool_;
  asio::any_io_executor executor_;
  std::vector<std::shared_ptr<UpstreamHost>> hosts_;
  std::vector<uint32_t> weights_;
  std::vector<const translate::Endpoint*> endpoints_;  // parallel to hosts_
  std::vector<uint64_t> cumulative_;                   // running sums of weights_
  std::vector<int64_t> current_;                       // smooth weighted round robin state
  uint64_t total_weight_ = 0;
  bool weighted_ = false;
  bool needs_dns_ = false;
  bool resolving_ = false;
  bool resolved_once_ = false;
  std::chrono::steady_clock::time_point resolved_at_{};
  net::AsyncEvent first_resolution_;
  std::string resolve_error_;
  uint64_t cursor_ = 0;
  const tls::ClientContext* tls_context_ = nullptr;
  std::string_view tls_error_;  // views the TlsContexts the WorkerSnapshot keeps alive
  std::shared_ptr<ClusterState> state_;
  std::vector<std::shared_ptr<HostHealth>> health_;  // parallel to hosts_
  std::vector<HostHealth*> health_ptrs_;
  std::optional<OutlierDetector> detector_;
  HashRing ring_;
  LocalityPlan locality_;
  bool filtered_ = false;
  std::vector<uint32_t> scratch_;
  std::vector<std::chrono::steady_clock::time_point> host_since_;
};

}  // namespace halyard::proxy::upstream
