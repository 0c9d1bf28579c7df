// Every TLS context one snapshot needs, built once on the main thread when the snapshot, the
// workload certificate or a certificate file it names changes, and handed to the workers with
// it: a ListenerTls per HTTPS listener and per sidecar inbound listener that takes mutual TLS,
// and a ClientContext per cluster that originates TLS. A certificate file that changes on disk is
// seen by filesChanged(); the runtime then builds a fresh set for the same snapshot, so new
// handshakes get the new certificate while open connections keep theirs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/tls/client_context.h"
#include "proxy/tls/listener_tls.h"
#include "proxy/tls/pem_loader.h"
#include "translate/snapshot.h"
#include "translate/workload_identity.h"

namespace halyard::proxy::tls {

class TlsContexts {
 public:
  // What could not be built is left out (its hosts get no handshake, its cluster's connections
  // fail with the reason) and described in `errors`, one line each. `identity` (null: none yet,
  // or a proxy without a control plane) is the workload certificate of mesh mutual TLS.
  static std::shared_ptr<const TlsContexts> build(const translate::Snapshot& snapshot,
                                                  const translate::WorkloadIdentity* identity,
                                                  std::vector<std::string>& errors);

  const ListenerTls* listener(std::string_view name) const;
  const ClientContext* cluster(std::string_view name) const;
  // Why a cluster has TLS settings but no context, for the reason of its 503s; empty when none.
  std::string_view clusterError(std::string_view name) const;

  // The proxy's own SPIFFE ID (x-forwarded-client-cert's By); empty without a certificate.
  const std::string& spiffeId() const { return spiffe_id_; }

  // A certificate, key, CA or CRL file read for this set is no longer what was read.
  bool filesChanged() const;
  // The files as they were read (their paths, to look at them again).
  const std::vector<FileStamp>& files() const { return files_; }

 private:
  std::unordered_map<std::string, std::shared_ptr<const ListenerTls>> listeners_;
  std::unordered_map<std::string, std::unique_ptr<ClientContext>> clusters_;
  std::unordered_map<std::string, std::string> cluster_errors_;
  std::vector<FileStamp> files_;
  std::string spiffe_id_;
};

}  // namespace halyard::proxy::tls
