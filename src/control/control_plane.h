// `halyard control`: a config source (a watched directory), the push controller and the gRPC
// Discovery service (and the admin listener), started in that order so the first proxy already
// gets the loaded config.
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

class AdminServer;
class ConfigSource;
class DiscoveryService;

struct ControlPlaneOptions {
  std::string config_dir;
  std::string listen = "127.0.0.1:15010";  // gRPC; port 0 picks a free one
  std::string admin;                       // HTTP admin "host:port"; empty: none
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds resync_grace{3000};  // PushControllerOptions::resync_grace
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

 private:
  ControlPlaneOptions options_;
  PushController controller_;
  std::unique_ptr<ConfigSource> source_;
  std::unique_ptr<DiscoveryService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AdminServer> admin_;
  int port_ = 0;
};

}  // namespace halyard::control
