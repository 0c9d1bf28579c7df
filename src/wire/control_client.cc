#include "wire/control_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <random>

#include "common/log.h"
#include "halyard/v1/discovery.grpc.pb.h"

namespace halyard::wire {

namespace {

// A control plane that vanished without closing the connection is noticed within about 40 s,
// and the client reconnects.
constexpr int kKeepaliveTimeMs = 30'000;
constexpr int kKeepaliveTimeoutMs = 10'000;

}  // namespace

ControlClient::ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error,
                             OnAnswer on_answer)
    : options_(std::move(options)),
      apply_(std::move(apply)),
      on_error_(std::move(on_error)),
      on_answer_(std::move(on_answer)) {}

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

bool ControlClient::waitToRetry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void ControlClient::run() {
  std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  std::chrono::milliseconds backoff = options_.retry_delay;
  while (true) {
    if (runStream()) backoff = options_.retry_delay;
    const auto delay = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(random)));
    if (!waitToRetry(delay)) return;
    backoff = std::min(backoff * 2, options_.max_retry_delay);
  }
}

bool ControlClient::runStream() {
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
    if (stopping_) return false;
    context_ = &context;
  }
  auto stream = stub->Stream(&context);
  v1::ProxyMessage hello;
  *hello.mutable_hello() = options_.hello;
  hello.mutable_hello()->set_last_version(assembler_.version());

  bool pushed = false;
  if (stream->Write(hello)) {
    v1::ControlMessage in;
    while (stream->Read(&in)) {
      if (!connected_logged_) {
        connected_logged_ = true;
        unreachable_logged_ = false;
        HLOG_INFO("connected to the control plane at {}", options_.address);
      }
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
      pushed = true;
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
      if (on_answer_) on_answer_(applied.ok(), push.version());
      if (!stream->Write(answer)) break;
    }
  }
  const grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mu_);
    context_ = nullptr;
    if (stopping_) return pushed;
  }
  // Logged once per lost connection: the retries that follow stay quiet until one succeeds.
  if (connected_logged_) {
    connected_logged_ = false;
    HLOG_WARN("control plane stream to {} ended: {}; reconnecting", options_.address,
              status.ok() ? std::string("closed by the control plane") : status.error_message());
  } else if (!unreachable_logged_) {
    unreachable_logged_ = true;
    HLOG_WARN("control plane at {} unreachable ({}); retrying", options_.address,
              status.error_message());
  }
  return pushed;
}

}  // namespace halyard::wire
