// The TLS identity of the control plane's gRPC listener: a certificate its own CA issues
// (istiod.istio-system.svc, localhost, 127.0.0.1, the listen address, and
// spiffe://<trust domain>/ns/istio-system/sa/istiod), renewed at half of its lifetime.
//
// gRPC's SslServerCredentials take a certificate once, for the life of the server. The installed
// gRPC (1.51) rotates only through experimental::TlsServerCredentials with a certificate
// provider, and of its providers only FileWatcherCertificateProvider changes after creation. So
// the key and chain are written to one file in a private directory (0700, removed on stop), and
// the provider re-reads it every few seconds. Key and chain are in the same file, renamed into
// place at once, so the provider never pairs a new key with an old certificate.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "control/ca/certificate_authority.h"

namespace grpc {
class ServerCredentials;
}

namespace halyard::control {

class ServingTls {
 public:
  ServingTls(const ca::CertificateAuthority& ca, ca::ServingNames names, std::chrono::seconds ttl);
  ~ServingTls();
  ServingTls(const ServingTls&) = delete;
  ServingTls& operator=(const ServingTls&) = delete;

  // Issues the first certificate, starts the renewal timer, and returns the credentials for
  // ServerBuilder::AddListeningPort.
  common::Expected<std::shared_ptr<grpc::ServerCredentials>> start();
  // Stops renewing and removes the files. Call after the server has shut down. Idempotent.
  void stop();

  // The SANs of a control plane listening on `listen` ("127.0.0.1:15010", "[::1]:0", ":15010").
  static ca::ServingNames namesFor(const std::string& listen, const std::string& trust_domain);

 private:
  common::Expected<void> renew();  // issues a certificate and writes the file
  void run();

  const ca::CertificateAuthority& ca_;
  const ca::ServingNames names_;
  const std::chrono::seconds ttl_;
  std::string dir_;
  std::string pem_path_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::chrono::system_clock::time_point renew_at_;
  std::thread thread_;
};

}  // namespace halyard::control
