// A proxy's side of the stream for the in-process control-plane tests, on the gRPC library (not
// the proxy's own client, so these tests check the control plane against a second
// implementation): TLS verified against the CA's root under istiod.istio-system.svc, a hello
// with a credential and a CSR, pushes assembled with wire::SnapshotAssembler and answered with
// ACK or NACK, certificates recorded, and a reconnect after the stream ends (with the version it
// serves, as a proxy does).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ca_test_util.h"
#include "common/result.h"
#include "halyard/v1/discovery.grpc.pb.h"
#include "wire/snapshot_assembler.h"

namespace halyard::control::testing {

struct TestProxyOptions {
  std::string address;
  std::string root_pem;  // what the control plane's certificate is checked against
  v1::ProxyHello hello;  // credential and csr included (a fresh CSR per stream when csr is empty)
  std::chrono::milliseconds retry_delay{50};
};

class TestProxyClient {
 public:
  using Apply =
      std::function<common::Result<void, std::string>(std::shared_ptr<const translate::Snapshot>)>;
  using OnConfigError = std::function<void(const v1::ConfigError&)>;

  TestProxyClient(TestProxyOptions options, Apply apply, OnConfigError on_error)
      : options_(std::move(options)), apply_(std::move(apply)), on_error_(std::move(on_error)) {}
  ~TestProxyClient() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (context_) context_->TryCancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  uint64_t version() const { return version_; }
  std::vector<v1::CertificateIssued> certificates() const {
    std::lock_guard lock(mu_);
    return certificates_;
  }
  // The kinds of message received, in order ("certificate", "push", "error", ...).
  std::vector<std::string> kinds() const {
    std::lock_guard lock(mu_);
    return kinds_;
  }

 private:
  void run() {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options_.root_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("istiod.istio-system.svc");
    auto stub = v1::Discovery::NewStub(
        grpc::CreateCustomChannel(options_.address, grpc::SslCredentials(tls), args));
    for (;;) {
      {
        std::unique_lock lock(mu_);
        if (stopping_) return;
        context_ = std::make_unique<grpc::ClientContext>();
      }
      serve(*stub);
      std::unique_lock lock(mu_);
      context_.reset();
      if (cv_.wait_for(lock, options_.retry_delay, [this] { return stopping_; })) return;
    }
  }

  void serve(v1::Discovery::Stub& stub) {
    auto stream = stub.Stream(context_.get());
    v1::ProxyMessage hello;
    *hello.mutable_hello() = options_.hello;
    hello.mutable_hello()->set_last_version(version_);
    if (hello.hello().csr().empty()) hello.mutable_hello()->set_csr(makeCsr());
    if (!stream->Write(hello)) {
      stream->Finish();
      return;
    }
    v1::ControlMessage in;
    while (stream->Read(&in)) {
      {
        std::lock_guard lock(mu_);
        switch (in.message_case()) {
          case v1::ControlMessage::kPush:
            kinds_.push_back("push");
            break;
          case v1::ControlMessage::kError:
            kinds_.push_back("error");
            break;
          case v1::ControlMessage::kCertificate:
            kinds_.push_back("certificate");
            certificates_.push_back(in.certificate());
            break;
          case v1::ControlMessage::kCertificateError:
            kinds_.push_back("certificate_error");
            break;
          default:
            kinds_.push_back("?");
        }
      }
      if (in.has_error()) on_error_(in.error());
      if (!in.has_push()) continue;
      v1::ProxyMessage answer;
      auto assembled = assembler_.assemble(in.push());
      if (!assembled) {
        answer.mutable_nack()->set_version(in.push().version());
        answer.mutable_nack()->set_error(assembled.error().message);
      } else {
        auto applied = apply_(assembled->snapshot);
        if (applied) {
          const uint64_t v = assembled->version;
          assembler_.commit(std::move(*assembled));
          version_ = v;
          answer.mutable_ack()->set_version(v);
        } else {
          answer.mutable_nack()->set_version(in.push().version());
          answer.mutable_nack()->set_error(applied.error());
        }
      }
      if (!stream->Write(answer)) break;
    }
    stream->Finish();
  }

  const TestProxyOptions options_;
  const Apply apply_;
  const OnConfigError on_error_;
  wire::SnapshotAssembler assembler_;  // the client thread's
  std::atomic<uint64_t> version_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::unique_ptr<grpc::ClientContext> context_;
  std::vector<v1::CertificateIssued> certificates_;
  std::vector<std::string> kinds_;
  std::thread thread_;
};

}  // namespace halyard::control::testing
