// The little upstream state a proxy's workers share (everything else is per worker): per
// cluster, the circuit-breaker counters (Envoy's thresholds are per process, and Istio users
// read maxConnections: 1 as one connection, not one per worker), and per cluster and endpoint,
// the outlier detector's counters and ejection, so that a host one worker ejects gets no more
// traffic from any worker. All of it is atomics read on the request path; the mutexes guard
// only the lookups made when a worker builds its view of a snapshot, and ejection decisions.
//
// State lives as long as some worker's snapshot view uses it (the registries hold weak
// pointers), so a config reload that keeps a cluster keeps its ejections and counters.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace halyard::proxy::upstream {

// One endpoint of one cluster, as the outlier detector sees it.
struct HostHealth {
  std::atomic<uint32_t> consecutive_5xx{0};
  std::atomic<uint32_t> consecutive_gateway{0};
  std::atomic<uint32_t> consecutive_local_origin{0};
  // steady_clock nanoseconds until which the host is ejected; 0: never ejected.
  std::atomic<int64_t> ejected_until{0};
  std::atomic<uint32_t> ejections{0};  // so far; the ejection time is base x this
  // steady_clock nanoseconds of the last ejection's end, to forgive old ejections.
  std::atomic<int64_t> last_ejection_end{0};

  bool ejected(int64_t now_ns) const {
    return ejected_until.load(std::memory_order_relaxed) > now_ns;
  }
};

// Process-wide counters of one cluster, with its endpoints' health.
class ClusterState {
 public:
  std::atomic<uint32_t> connections{0};  // open (busy or idle) upstream connections
  std::atomic<uint32_t> pending{0};      // requests waiting for a connection
  std::atomic<uint32_t> requests{0};     // requests in flight
  std::atomic<uint32_t> retries{0};      // retries in flight
  // steady_clock nanoseconds when the last ejection of any host ends: before it, host
  // selection must look at each host's health; after it, none is ejected.
  std::atomic<int64_t> ejections_end{0};

  std::shared_ptr<HostHealth> health(const asio::ip::tcp::endpoint& endpoint);
  // Ejected hosts among `hosts` now (a scan; only on ejection decisions and for admin output).
  size_t ejectedCount(const std::vector<HostHealth*>& hosts, int64_t now_ns) const;
  // Serialises ejection decisions (maxEjectionPercent counts the others).
  std::mutex& ejectionMutex() { return ejection_mutex_; }

 private:
  std::mutex mutex_;
  std::mutex ejection_mutex_;
  std::map<asio::ip::tcp::endpoint, std::shared_ptr<HostHealth>> health_;
};

class SharedUpstream {
 public:
  // The state of cluster `name`, created when no worker has it.
  std::shared_ptr<ClusterState> cluster(const std::string& name);
  // The state of a cluster if some worker uses it (admin output); null otherwise.
  std::shared_ptr<ClusterState> find(const std::string& name) const;

  // The proxy's own locality ("region/zone/subzone", "" unknown) and labels, for
  // locality-aware balancing.
  void setProxy(std::string locality, std::map<std::string, std::string> labels);
  std::string locality() const;
  std::map<std::string, std::string> labels() const;

  // Every worker's pool registers a callback that closes its idle connections to the given
  // endpoints, on its own thread: a request waiting for a connection slot (maxConnections)
  // calls reclaimIdle() so that idle keep-alive connections of other workers give their slots up.
  using Reclaimer = std::function<void(std::vector<asio::ip::tcp::endpoint>)>;
  size_t addReclaimer(Reclaimer reclaimer);
  void removeReclaimer(size_t id);
  void reclaimIdle(size_t except_id, const std::vector<asio::ip::tcp::endpoint>& endpoints);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<ClusterState>, std::less<>> clusters_;
  size_t swept_size_ = 0;
  std::string locality_;
  std::map<std::string, std::string> labels_;
  std::map<size_t, Reclaimer> reclaimers_;
  size_t next_reclaimer_ = 1;
};

inline int64_t steadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace halyard::proxy::upstream
