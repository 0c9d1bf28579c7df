#include "control/push/discovery_service.h"

#include "common/log.h"
#include "control/push/proxy_class.h"

namespace halyard::control {

namespace {

using StreamReactorBase = grpc::ServerBidiReactor<v1::ProxyMessage, v1::ControlMessage>;

// One proxy's stream. Lives until OnDone; its session may outlive it (the controller holds it
// until it hears of the disconnect), so the session is closed before the reactor goes away.
class StreamReactor final : public StreamReactorBase {
 public:
  StreamReactor(PushController& controller, grpc::CallbackServerContext* context, uint64_t id)
      : controller_(controller), context_(context), id_(id) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the proxy closed its side, or the stream broke
      finish(grpc::Status::OK);
      return;
    }
    if (!session_) {
      if (!in_.has_hello()) {
        finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first message of a stream must be a hello"));
        return;
      }
      auto info = proxyInfoFromHello(in_.hello(), id_, context_->peer());
      if (!info) {
        HLOG_WARN("refused a proxy stream from {}: {}", context_->peer(), info.error().message);
        finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, info.error().message));
        return;
      }
      session_ = std::make_shared<ProxySession>(
          std::move(*info), [this](const v1::ControlMessage* m) { StartWrite(m); });
      controller_.connect(session_);
    } else if (in_.has_ack()) {
      session_->onAck(in_.ack().version());
    } else if (in_.has_nack()) {
      HLOG_WARN("proxy {} rejected version {}: {}", session_->info().id(), in_.nack().version(),
                in_.nack().error());
      session_->onNack(in_.nack().version(), in_.nack().error());
    } else if (in_.has_hello()) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello sent twice"));
      return;
    }  // a message of a later protocol revision is ignored
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    if (session_) session_->onWriteDone(ok);
  }

  void OnDone() override {
    if (session_) {
      session_->close();
      controller_.disconnect(std::move(session_));
    }
    delete this;
  }

 private:
  void finish(const grpc::Status& status) {
    if (session_) session_->close();  // no write may start after Finish
    Finish(status);
  }

  PushController& controller_;
  grpc::CallbackServerContext* context_;
  const uint64_t id_;
  v1::ProxyMessage in_;
  std::shared_ptr<ProxySession> session_;
};

}  // namespace

StreamReactorBase* DiscoveryService::Stream(grpc::CallbackServerContext* context) {
  return new StreamReactor(controller_, context, next_stream_id_++);
}

grpc::ServerUnaryReactor* DiscoveryService::Status(grpc::CallbackServerContext* context,
                                                   const v1::StatusRequest*,
                                                   v1::StatusResponse* response) {
  *response = controller_.status();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DiscoveryService::ProxyConfig(grpc::CallbackServerContext* context,
                                                        const v1::ProxyConfigRequest* request,
                                                        v1::ProxyConfigResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto r = controller_.proxyConfig(request->proxy());
  if (!r) {
    reactor->Finish(grpc::Status(r.error().kind == common::ErrorKind::kNotFound
                                     ? grpc::StatusCode::NOT_FOUND
                                     : grpc::StatusCode::INVALID_ARGUMENT,
                                 r.error().message));
    return reactor;
  }
  *response = std::move(*r);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace halyard::control
