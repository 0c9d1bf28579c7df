// The gRPC side of the control plane (api/halyard/v1/discovery.proto), on gRPC's callback API:
// no thread per stream, so a thousand proxies cost a thousand small reactors. Stream turns a
// proxy's hello into a ProxySession handed to the PushController, and its ACKs and NACKs into
// session calls; Status and ProxyConfig answer from the controller.
#pragma once

#include <atomic>
#include <cstdint>

#include "control/push/push_controller.h"
#include "halyard/v1/discovery.grpc.pb.h"

namespace halyard::control {

class DiscoveryService final : public v1::Discovery::CallbackService {
 public:
  explicit DiscoveryService(PushController& controller) : controller_(controller) {}

  grpc::ServerBidiReactor<v1::ProxyMessage, v1::ControlMessage>* Stream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::StatusRequest* request,
                                   v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* ProxyConfig(grpc::CallbackServerContext* context,
                                        const v1::ProxyConfigRequest* request,
                                        v1::ProxyConfigResponse* response) override;

 private:
  PushController& controller_;
  std::atomic<uint64_t> next_stream_id_{1};
};

}  // namespace halyard::control
