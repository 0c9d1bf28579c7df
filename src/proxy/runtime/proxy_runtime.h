// The data plane of one process: N workers serving one snapshot at a time. The main thread
// owns this object; it starts the workers, swaps in new snapshots (each worker rebuilds its
// indexes and keeps requests in flight on the old one) and drains them on shutdown.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "common/error.h"
#include "proxy/runtime/runtime_options.h"
#include "proxy/runtime/worker.h"
#include "proxy/runtime/worker_telemetry.h"
#include "telemetry/access_logger.h"
#include "telemetry/stats_store.h"
#include "translate/snapshot.h"
#include "translate/workload_identity.h"

namespace halyard::proxy::runtime {

class ProxyRuntime {
 public:
  // `stats` must have options.workers worker slots; it and `access_log` may be null.
  ProxyRuntime(RuntimeOptions options, telemetry::StatsStore* stats,
               telemetry::AccessLogger* access_log, WorkerTelemetry::Workload self);
  ~ProxyRuntime();
  ProxyRuntime(const ProxyRuntime&) = delete;
  ProxyRuntime& operator=(const ProxyRuntime&) = delete;

  // Opens every listener on every worker (a port that cannot be bound is an error and nothing
  // runs), then starts the worker threads.
  common::Expected<void> start(std::shared_ptr<const translate::Snapshot> snapshot);

  // Posts a new snapshot to every worker. New connections and new requests use it as soon as
  // their worker has installed it; requests in flight finish on the one they started with.
  void updateSnapshot(std::shared_ptr<const translate::Snapshot> snapshot);
  // Main thread: when a certificate, key, CA or CRL file the serving snapshot reads changed on
  // disk, builds its TLS contexts again and posts them with the same snapshot, so new
  // handshakes get the new files and open connections keep what they negotiated. True if so.
  // A change that makes something unusable that was usable (a truncated key, a certificate
  // that no longer matches it: a rotation caught halfway) is refused, logged once, and the
  // previous certificates keep serving until the files change again.
  bool reloadChangedTlsFiles();
  // Main thread: the proxy's workload certificate was issued or rotated. Builds the TLS
  // contexts again with it and posts them with the serving snapshot: new connections (inbound
  // and to upstreams) use the new certificate, open ones keep what they negotiated.
  void setWorkloadIdentity(std::shared_ptr<const translate::WorkloadIdentity> identity);
  const std::shared_ptr<const translate::WorkloadIdentity>& workloadIdentity() const {
    return identity_;
  }
  // The snapshot most recently installed or posted (main thread).
  const std::shared_ptr<const translate::Snapshot>& snapshot() const { return snapshot_; }

  // Stops accepting and lets requests in flight finish; activeConnections() reaches 0 when done.
  void drain();
  size_t activeConnections() const;
  // Stops every worker and joins its thread.
  void stop();

  const RuntimeOptions& options() const { return options_; }

 private:
  // Builds the snapshot's TLS contexts; `errors` gets what could not be built.
  std::shared_ptr<const tls::TlsContexts> buildTls(const translate::Snapshot& snapshot,
                                                   std::vector<std::string>& errors) const;
  void installTls(const translate::Snapshot& snapshot);

  RuntimeOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<const translate::Snapshot> snapshot_;
  std::shared_ptr<const tls::TlsContexts> tls_;
  std::shared_ptr<const translate::WorkloadIdentity> identity_;
  std::vector<std::string> tls_errors_;        // what tls_ could not build (logged when built)
  std::vector<tls::FileStamp> refused_files_;  // the files of the change last refused
};

}  // namespace halyard::proxy::runtime
