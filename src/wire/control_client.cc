#include "wire/control_client.h"

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "halyard/v1/discovery.grpc.pb.h"

namespace halyard::wire {

namespace {

// A control plane that vanished without closing the connection is noticed within about 40 s,
// and the client reconnects.
constexpr int kKeepaliveTimeMs = 30'000;
constexpr int kKeepaliveTimeoutMs = 10'000;

}  // namespace

ControlClient::ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error)
    : options_(std::move(options)), apply_(std::move(apply)), on_error_(std::move(on_error)) {}

ControlClient::~ControlClient() {
  stop();
}

void ControlClient::start() {
  thread_ = std::thread([this] { run(); });
}

void ControlClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (context_) context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t ControlClient::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

bool ControlClient::waitToRetry() {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, options_.retry_delay, [this] { return stopping_; });
}

void ControlClient::run() {
  do {
    runStream();
  } while (waitToRetry());
}

void ControlClient::runStream() {
  grpc::ChannelArguments args;
  // A whole snapshot of a large mesh can pass gRPC's 4 MB default; the control plane is trusted.
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  auto channel =
      grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::Discovery::NewStub(channel);
  grpc::ClientContext context;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    context_ = &context;
  }
  auto stream = stub->Stream(&context);
  v1::ProxyMessage hello;
  *hello.mutable_hello() = options_.hello;
  hello.mutable_hello()->set_last_version(assembler_.version());

  if (stream->Write(hello)) {
    v1::ControlMessage in;
    while (stream->Read(&in)) {
      if (in.has_error()) {
        for (const auto& e : in.error().errors()) {
          HLOG_WARN("control plane has no snapshot for this proxy at version {}: {}",
                    in.error().version(), e);
        }
        if (on_error_) on_error_(in.error());
        continue;
      }
      if (!in.has_push()) continue;
      const v1::SnapshotPush& push = in.push();
      v1::ProxyMessage answer;
      auto assembled = assembler_.assemble(push);
      common::Result<void, std::string> applied =
          assembled
              ? apply_(assembled->snapshot)
              : common::Result<void, std::string>(common::unexpected(assembled.error().message));
      if (applied) {
        assembler_.commit(std::move(*assembled));
        {
          std::lock_guard lock(mu_);
          version_ = assembler_.version();
        }
        answer.mutable_ack()->set_version(push.version());
      } else {
        HLOG_WARN("rejected snapshot version {}: {}", push.version(), applied.error());
        answer.mutable_nack()->set_version(push.version());
        answer.mutable_nack()->set_error(applied.error());
      }
      if (!stream->Write(answer)) break;
    }
  }
  const grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mu_);
    context_ = nullptr;
    if (stopping_) return;
  }
  HLOG_WARN("control plane stream to {} ended: {}", options_.address,
            status.ok() ? std::string("closed by the control plane") : status.error_message());
}

}  // namespace halyard::wire
