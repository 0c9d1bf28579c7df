#include "control/push/discovery_service.h"

#include <ctime>

#include "common/log.h"
#include "control/push/proxy_class.h"

namespace halyard::control {

namespace {

using StreamReactorBase = grpc::ServerBidiReactor<v1::ProxyMessage, v1::ControlMessage>;
using Clock = std::chrono::steady_clock;

constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
constexpr size_t kMaxRefusalKeys = 4096;
// A proxy renews at about half of its certificate's life (half a second at the shortest
// lifetime, 1 s); requests closer together than this come from a misbehaving proxy, and each
// costs a signature.
constexpr auto kMinCertificateRequestInterval = std::chrono::milliseconds(100);

// One proxy's stream. Lives until OnDone; its session may outlive it (the controller holds it
// until it hears of the disconnect), so the session is closed before the reactor goes away.
class StreamReactor final : public StreamReactorBase {
 public:
  StreamReactor(DiscoveryService& service, grpc::CallbackServerContext* context, uint64_t id)
      : service_(service), context_(context), id_(id) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the proxy closed its side, or the stream broke
      finish(grpc::Status::OK);
      return;
    }
    if (!session_) {
      if (!hello()) return;
    } else if (in_.has_ack()) {
      session_->onAck(in_.ack().version());
    } else if (in_.has_nack()) {
      HLOG_WARN("proxy {} rejected version {}: {}", session_->info().id(), in_.nack().version(),
                in_.nack().error());
      session_->onNack(in_.nack().version(), in_.nack().error());
    } else if (in_.has_certificate_request()) {
      renew(in_.certificate_request().csr());
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
      service_.controller().disconnect(std::move(session_));
    }
    delete this;
  }

 private:
  // The first message: who the proxy is, proven by its credential, and its CSR. True when the
  // stream goes on.
  bool hello() {
    if (!in_.has_hello()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    "the first message of a stream must be a hello");
    }
    const v1::ProxyHello& h = in_.hello();
    // Kubernetes' defaults, as proxyInfoFromHello applies them.
    const std::string ns = h.namespace_().empty() ? "default" : h.namespace_();
    const std::string sa = h.service_account().empty() ? "default" : h.service_account();
    if (h.credential().empty()) {
      service_.counters().refused_unauthenticated++;
      return refuse(grpc::StatusCode::UNAUTHENTICATED,
                    "no credential: start the proxy with --token-file FILE holding the output of "
                    "`halyard token create --namespace " +
                        ns + " --service-account " + sa + "`");
    }
    auto claims = service_.tokens().verify(h.credential(), time(nullptr));
    if (!claims) {
      service_.counters().refused_unauthenticated++;
      return refuse(grpc::StatusCode::UNAUTHENTICATED, claims.error().message);
    }
    if (claims->namespace_ != ns || claims->service_account != sa) {
      service_.counters().refused_permission_denied++;
      return refuse(grpc::StatusCode::PERMISSION_DENIED,
                    "the credential is for " + claims->namespace_ + "/" + claims->service_account +
                        ", the hello says " + ns + "/" + sa);
    }
    if (h.csr().empty()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    "the hello has no csr: a proxy sends a certificate signing request for a key "
                    "it made, and gets its workload certificate before any config");
    }
    auto info = proxyInfoFromHello(h, id_, context_->peer());
    if (!info) return refuse(grpc::StatusCode::INVALID_ARGUMENT, info.error().message);
    spiffe_id_ = service_.spiffeId(ns, sa);
    auto issued = service_.sign(h.csr(), spiffe_id_);
    if (!issued) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT, "csr: " + issued.error().message);
    }
    session_ = std::make_shared<ProxySession>(
        std::move(*info), [this](const v1::ControlMessage* m) { StartWrite(m); });
    // Queued before the controller knows the session: the certificate precedes the first push.
    session_->sendCertificate(*issued, spiffe_id_, service_.roots());
    HLOG_INFO("proxy {} proved {}: issued certificate {} valid until {}", session_->info().id(),
              spiffe_id_, issued->serial_hex, ca::rfc3339(issued->not_after));
    last_certificate_ = Clock::now();
    service_.controller().connect(session_);
    return true;
  }

  // A certificate_request: a new certificate for a new key, for the identity the hello proved.
  void renew(const std::string& csr) {
    const auto now = Clock::now();
    if (now - last_certificate_ < kMinCertificateRequestInterval) {
      service_.counters().certificate_errors++;
      session_->sendCertificateError(
          "certificate_request came less than 100 ms after the previous certificate: "
          "request a new one at about half of a certificate's lifetime");
      return;
    }
    last_certificate_ = now;
    auto issued = service_.sign(csr, spiffe_id_);
    if (!issued) {
      HLOG_WARN("proxy {}: cannot sign its certificate_request: {}", session_->info().id(),
                issued.error().message);
      session_->sendCertificateError("csr: " + issued.error().message);
      return;
    }
    HLOG_INFO("proxy {} renewed {}: certificate {} valid until {}", session_->info().id(),
              spiffe_id_, issued->serial_hex, ca::rfc3339(issued->not_after));
    session_->sendCertificate(*issued, spiffe_id_, service_.roots());
  }

  bool refuse(grpc::StatusCode code, const std::string& reason) {
    service_.logRefusal(context_->peer(), reason);
    finish(grpc::Status(code, reason));
    return false;
  }

  void finish(const grpc::Status& status) {
    if (session_) session_->close();  // no write may start after Finish
    Finish(status);
  }

  DiscoveryService& service_;
  grpc::CallbackServerContext* context_;
  const uint64_t id_;
  v1::ProxyMessage in_;
  std::shared_ptr<ProxySession> session_;
  std::string spiffe_id_;
  Clock::time_point last_certificate_;
};

// "ipv4:127.0.0.1:50312" -> "ipv4:127.0.0.1": a reconnecting proxy comes from a new port.
std::string peerHost(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace

std::string DiscoveryService::spiffeId(const std::string& namespace_,
                                       const std::string& service_account) const {
  return "spiffe://" + controller_.meshSettings().trust_domain + "/ns/" + namespace_ + "/sa/" +
         service_account;
}

common::Expected<ca::IssuedCertificate> DiscoveryService::sign(const std::string& csr,
                                                               const std::string& spiffe_id) {
  auto issued = identity_.ca->signCsr(csr, spiffe_id, identity_.workload_cert_ttl);
  if (issued) {
    counters_.certificates_issued++;
  } else {
    counters_.certificate_errors++;
  }
  return issued;
}

void DiscoveryService::logRefusal(const std::string& peer, const std::string& reason) {
  const auto now = Clock::now();
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(refusals_mu_);
    if (refusals_.size() > kMaxRefusalKeys) refusals_.clear();  // a flood of distinct reasons
    auto [it, first] = refusals_.try_emplace(peerHost(peer) + " " + reason);
    if (!first && now - it->second.logged < kRefusalLogInterval) {
      ++it->second.suppressed;
      return;
    }
    suppressed = it->second.suppressed;
    it->second = Refusal{now, 0};
  }
  if (suppressed > 0) {
    HLOG_WARN("refused a proxy stream from {}: {} ({} more times since the last report)", peer,
              reason, suppressed);
  } else {
    HLOG_WARN("refused a proxy stream from {}: {}", peer, reason);
  }
}

StreamReactorBase* DiscoveryService::Stream(grpc::CallbackServerContext* context) {
  return new StreamReactor(*this, context, next_stream_id_++);
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
