#include "control/control_plane.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>

#include "common/log.h"
#include "control/admin_server.h"
#include "control/ca/bootstrap_token.h"
#include "control/ca/certificate_authority.h"
#include "control/ca/duration.h"
#include "control/jwks/jwks_fetcher.h"
#include "control/push/discovery_service.h"
#include "control/serving_tls.h"
#include "control/sources/directory_source.h"
#include "translate/request_authentication.h"
#include "translate/telemetry_config.h"

namespace halyard::control {

namespace {

// A proxy that vanished without closing its connection (a killed host) is noticed by keepalive
// pings within about 40 s, and its registered workload leaves the registry.
constexpr int kKeepaliveTimeMs = 30'000;
constexpr int kKeepaliveTimeoutMs = 10'000;

std::chrono::milliseconds envMillis(const char* name, std::chrono::milliseconds fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long ms = std::strtoll(v, &end, 10);
  if (*end != '\0' || ms <= 0) {
    HLOG_WARN("{}={} is not a positive number of milliseconds; using {} ms", name, v,
              fallback.count());
    return fallback;
  }
  return std::chrono::milliseconds(ms);
}

}  // namespace

ControlPlane::ControlPlane(ControlPlaneOptions options)
    : options_(std::move(options)),
      controller_(PushControllerOptions{options_.debounce, options_.resync_grace}) {}

ControlPlane::~ControlPlane() {
  stop();
}

common::Expected<void> ControlPlane::start() {
  // jwksUri key sets are fetched here and pushed inline; a change translates and pushes again.
  jwks::JwksFetcherOptions jwks_options;
  jwks_options.refresh = envMillis("HALYARD_JWKS_REFRESH_MS", options_.jwks_refresh);
  jwks_options.timeout = envMillis("HALYARD_JWKS_TIMEOUT_MS", options_.jwks_timeout);
  jwks_options.ca_file = options_.jwks_ca_file;
  if (const char* ca = std::getenv("HALYARD_JWKS_CA_FILE"); ca && *ca) jwks_options.ca_file = ca;
  jwks_ =
      std::make_unique<jwks::JwksFetcher>(jwks_options, [this] { controller_.requestRebuild(); });
  jwks_->start();
  jwks::setActiveFetcher(jwks_.get());
  translate::setJwksResolver(
      [fetcher = jwks_.get()](const std::string& uri) { return fetcher->resolve(uri); });
  controller_.start();
  source_ = std::make_unique<DirectorySource>(
      DirectorySourceOptions{options_.config_dir, options_.debounce});
  auto started =
      source_->start([this](SourceUpdate u) { controller_.onSourceUpdate(std::move(u)); });
  if (!started) return started;
  controller_.waitFirstGeneration();

  if (options_.workload_cert_ttl.count() <= 0) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "the workload certificate lifetime must be positive");
  }
  const std::string trust_domain = controller_.meshSettings().trust_domain;
  auto ca = ca::CertificateAuthority::open(options_.ca_dir, trust_domain);
  if (!ca) return common::unexpected(ca.error());
  ca_ = std::move(*ca);
  auto tokens = ca::BootstrapTokens::open(options_.ca_dir);
  if (!tokens) return common::unexpected(tokens.error());
  tokens_ = std::make_unique<ca::BootstrapTokens>(std::move(*tokens));
  serving_tls_ = std::make_unique<ServingTls>(
      *ca_, ServingTls::namesFor(options_.listen, trust_domain), options_.workload_cert_ttl);
  auto credentials = serving_tls_->start();
  if (!credentials) return common::unexpected(credentials.error());

  service_ = std::make_unique<DiscoveryService>(
      controller_, DiscoveryIdentity{ca_.get(), tokens_.get(), options_.workload_cert_ttl});
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *credentials, &port_);
  builder.RegisterService(service_.get());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Proxies ping as often as we do; without this gRPC answers their pings with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveTimeoutMs);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return common::fail(common::ErrorKind::kIo, "cannot listen on " + options_.listen);
  }
  if (!options_.root_bundle_dir.empty()) {
    const std::string path = rootBundlePath(options_.root_bundle_dir, port_);
    if (auto written = ca::writeFileAtomically(path, ca_->rootCertificatesPem(), 0644); !written) {
      return written;
    }
    root_bundle_ = path;
  }
  if (!options_.admin.empty()) {
    AdminOptions admin;
    admin.scrape.interval = options_.scrape_interval;
    admin.scrape.per_proxy = options_.scrape_per_proxy;
    admin.prometheus_url = options_.prometheus_url;
    admin_ = std::make_unique<AdminServer>(controller_, &service_->counters(), admin);
    if (auto listening = admin_->start(options_.admin); !listening) return listening;
    if (options_.trace_collector) {
      const std::string& at = admin_->address();
      translate::TracingProvider collector;
      collector.name = "halyard-control";
      collector.kind = translate::TracingProvider::Kind::kZipkin;
      collector.host = at.substr(0, at.rfind(':'));
      if (collector.host.size() > 1 && collector.host.front() == '[') {
        collector.host = collector.host.substr(1, collector.host.size() - 2);
      }
      collector.port = static_cast<uint16_t>(std::stoi(at.substr(at.rfind(':') + 1)));
      collector.path = "/api/v2/spans";
      translate::setImplicitTracingCollector(collector);
      implicit_collector_ = true;
      controller_.requestRebuild();  // proxies that came before the admin listener get it too
    }
  }
  HLOG_INFO("workload certificates live {}; the root bundle is {}",
            ca::formatDuration(options_.workload_cert_ttl),
            root_bundle_.empty() ? options_.ca_dir + "/root-cert.pem" : root_bundle_);
  HLOG_INFO("control plane serving {} on port {} ({}, TLS)", source_->describe(), port_,
            options_.listen);
  return common::Ok{};
}

std::string ControlPlane::rootBundlePath(const std::string& dir, int port) {
  return dir + "/halyard-control-" + std::to_string(port) + ".root.pem";
}

void ControlPlane::stop() {
  if (implicit_collector_) {
    translate::setImplicitTracingCollector(std::nullopt);
    implicit_collector_ = false;
  }
  if (admin_) admin_->stop();
  if (server_) {
    // Streams are open forever: give them a moment to end, then cancel them.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_.reset();
  }
  if (serving_tls_) serving_tls_->stop();
  if (!root_bundle_.empty()) {
    unlink(root_bundle_.c_str());
    root_bundle_.clear();
  }
  if (source_) source_->stop();
  controller_.stop();
  if (jwks_) {
    if (jwks::activeFetcher() == jwks_.get()) {
      jwks::setActiveFetcher(nullptr);
      translate::setJwksResolver({});
    }
    jwks_->stop();
  }
}

}  // namespace halyard::control
