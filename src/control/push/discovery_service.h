// The gRPC side of the control plane (api/halyard/v1/discovery.proto), on gRPC's callback API:
// no thread per stream, so a thousand proxies cost a thousand small reactors. Stream checks a
// proxy's hello (its credential must prove the namespace and service account it claims, and it
// must carry a CSR), signs the CSR, and turns the hello into a ProxySession handed to the
// PushController; its ACKs and NACKs become session calls and its certificate requests new
// certificates. Status and ProxyConfig answer from the controller.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "control/ca/bootstrap_token.h"
#include "control/ca/certificate_authority.h"
#include "control/push/identity_counters.h"
#include "control/push/push_controller.h"
#include "halyard/v1/discovery.grpc.pb.h"

namespace halyard::control {

struct DiscoveryIdentity {
  const ca::CertificateAuthority* ca = nullptr;
  const ca::BootstrapTokens* tokens = nullptr;
  std::chrono::seconds workload_cert_ttl{24 * 3600};
};

class DiscoveryService final : public v1::Discovery::CallbackService {
 public:
  DiscoveryService(PushController& controller, DiscoveryIdentity identity)
      : controller_(controller), identity_(identity) {}

  grpc::ServerBidiReactor<v1::ProxyMessage, v1::ControlMessage>* Stream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::StatusRequest* request,
                                   v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* ProxyConfig(grpc::CallbackServerContext* context,
                                        const v1::ProxyConfigRequest* request,
                                        v1::ProxyConfigResponse* response) override;

  const IdentityCounters& counters() const { return counters_; }

  // For the streams: signs `csr` for the proxy's proven identity.
  common::Expected<ca::IssuedCertificate> sign(const std::string& csr,
                                               const std::string& spiffe_id);
  std::string spiffeId(const std::string& namespace_, const std::string& service_account) const;
  const std::string& roots() const { return identity_.ca->rootCertificatesPem(); }
  const ca::BootstrapTokens& tokens() const { return *identity_.tokens; }
  PushController& controller() { return controller_; }
  IdentityCounters& counters() { return counters_; }
  // Logs a refused stream, at most once per ten seconds for the same reason from the same host.
  void logRefusal(const std::string& peer, const std::string& reason);

 private:
  PushController& controller_;
  const DiscoveryIdentity identity_;
  std::atomic<uint64_t> next_stream_id_{1};
  IdentityCounters counters_;

  struct Refusal {
    std::chrono::steady_clock::time_point logged;
    uint64_t suppressed = 0;
  };
  std::mutex refusals_mu_;
  std::map<std::string, Refusal> refusals_;  // by host and reason
};

}  // namespace halyard::control
