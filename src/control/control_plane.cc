#include "control/control_plane.h"

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "control/admin_server.h"
#include "control/push/discovery_service.h"
#include "control/sources/directory_source.h"

namespace halyard::control {

namespace {

// A proxy that vanished without closing its connection (a killed host) is noticed by keepalive
// pings within about 40 s, and its registered workload leaves the registry.
constexpr int kKeepaliveTimeMs = 30'000;
constexpr int kKeepaliveTimeoutMs = 10'000;

}  // namespace

ControlPlane::ControlPlane(ControlPlaneOptions options)
    : options_(std::move(options)), controller_(PushControllerOptions{options_.debounce, options_.resync_grace}) {}

ControlPlane::~ControlPlane() {
  stop();
}

common::Expected<void> ControlPlane::start() {
  controller_.start();
  source_ = std::make_unique<DirectorySource>(
      DirectorySourceOptions{options_.config_dir, options_.debounce});
  auto started =
      source_->start([this](SourceUpdate u) { controller_.onSourceUpdate(std::move(u)); });
  if (!started) return started;
  controller_.waitFirstGeneration();

  service_ = std::make_unique<DiscoveryService>(controller_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port_);
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
  if (!options_.admin.empty()) {
    admin_ = std::make_unique<AdminServer>(controller_);
    if (auto listening = admin_->start(options_.admin); !listening) return listening;
  }
  HLOG_INFO("control plane serving {} on port {} ({})", source_->describe(), port_,
            options_.listen);
  return common::Ok{};
}

void ControlPlane::stop() {
  if (admin_) admin_->stop();
  if (server_) {
    // Streams are open forever: give them a moment to end, then cancel them.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_.reset();
  }
  if (source_) source_->stop();
  controller_.stop();
}

}  // namespace halyard::control
