// `halyard control`: a config source (a watched directory), the push controller, the CA (and the
// credential signing key) and the gRPC Discovery service over TLS (and the admin listener),
// started in that order so the first proxy already gets the loaded config.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "control/push/push_controller.h"

namespace grpc {
class Server;
}

namespace halyard::control {

namespace ca {
class BootstrapTokens;
class CertificateAuthority;
}  // namespace ca

namespace jwks {
class JwksFetcher;
}  // namespace jwks

class AdminServer;
class ConfigSource;
class DiscoveryService;
class ServingTls;

struct ControlPlaneOptions {
  std::string config_dir;
  std::string listen = "127.0.0.1:15010";  // gRPC; port 0 picks a free one
  std::string admin;                       // HTTP admin "host:port"; empty: none
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds resync_grace{3000};  // PushControllerOptions::resync_grace
  // The CA directory (certificate_authority.h): Istio's plug-in files, or where a self-signed
  // root is made; also the credential signing key. Required.
  std::string ca_dir;
  // Lifetime of workload certificates and of the control plane's own serving certificate.
  std::chrono::seconds workload_cert_ttl{24 * 3600};
  // Where the root bundle is copied for the CLI (rootBundlePath); empty: no copy. `halyard
  // control` sets it; in-process tests leave it empty.
  std::string root_bundle_dir;
  // RequestAuthentication jwksUri fetching (control/jwks/jwks_fetcher.h). The environment can
  // override these for a whole `halyard up`: HALYARD_JWKS_REFRESH_MS, HALYARD_JWKS_TIMEOUT_MS,
  // HALYARD_JWKS_CA_FILE (extra roots for https jwksUri).
  std::chrono::milliseconds jwks_refresh{20 * 60 * 1000};
  std::chrono::milliseconds jwks_timeout{5000};
  std::string jwks_ca_file;
  // The dashboard's scrape of the proxies' /stats/prometheus (admin listener only); 0: only when
  // the dashboard's API is asked.
  std::chrono::milliseconds scrape_interval{5000};
  std::chrono::milliseconds scrape_per_proxy{15};  // MeshScraperOptions::per_proxy
  // The admin listener's Zipkin collector (POST /api/v2/spans) becomes the proxies' tracing
  // provider while MeshConfig declares none (translate::setImplicitTracingCollector).
  bool trace_collector = false;
  // The dashboard reads from this Prometheus instead of scraping the proxies ("": it scrapes).
  std::string prometheus_url;
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  common::Expected<void> start();
  void stop();  // idempotent

  int port() const { return port_; }  // the gRPC port bound
  PushController& controller() { return controller_; }
  const ca::CertificateAuthority& certificateAuthority() const { return *ca_; }
  // The root bundle's copy for a control plane on `port`:
  // <dir>/halyard-control-<port>.root.pem, where the CLI looks without --ca-cert.
  static std::string rootBundlePath(const std::string& dir, int port);

 private:
  ControlPlaneOptions options_;
  PushController controller_;
  std::unique_ptr<jwks::JwksFetcher> jwks_;
  std::unique_ptr<ConfigSource> source_;
  std::unique_ptr<ca::CertificateAuthority> ca_;
  std::unique_ptr<ca::BootstrapTokens> tokens_;
  std::unique_ptr<ServingTls> serving_tls_;
  std::unique_ptr<DiscoveryService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AdminServer> admin_;
  int port_ = 0;
  bool implicit_collector_ = false;  // set translate's implicit tracing collector; unset on stop
  std::string root_bundle_;          // the copy written, removed on stop
};

}  // namespace halyard::control
