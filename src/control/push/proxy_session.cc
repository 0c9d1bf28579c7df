#include "control/push/proxy_session.h"

#include "control/observability/control_metrics.h"

namespace halyard::control {

namespace {

int64_t msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

}  // namespace

ProxySession::ProxySession(ProxyInfo info, Writer writer)
    : info_(std::move(info)), writer_(std::move(writer)) {}

void ProxySession::offer(uint64_t version, std::shared_ptr<const ProxyContent> content) {
  std::shared_ptr<const v1::ControlMessage> m;
  {
    std::lock_guard lock(mu_);
    desired_ = Offer{version, std::move(content)};
    m = nextLocked();
  }
  write(std::move(m));
}

void ProxySession::onAck(uint64_t version) {
  std::shared_ptr<const v1::ControlMessage> m;
  {
    std::lock_guard lock(mu_);
    if (!awaiting_answer_ || version != sent_.version) return;  // not an answer to our push
    awaiting_answer_ = false;
    acked_ = sent_;
    whole_next_ = false;
    controlMetrics().acks.fetch_add(1, std::memory_order_relaxed);
    if (last_push_) controlMetrics().push_latency.record(Clock::now() - *last_push_);
    last_response_ = "ACK";
    last_response_version_ = version;
    last_response_at_ = Clock::now();
    last_error_.clear();
    m = nextLocked();
  }
  write(std::move(m));
}

void ProxySession::onNack(uint64_t version, std::string error) {
  std::shared_ptr<const v1::ControlMessage> m;
  {
    std::lock_guard lock(mu_);
    if (!awaiting_answer_ || version != sent_.version) return;
    awaiting_answer_ = false;
    whole_next_ = true;  // whatever the proxy holds now, the next push does not depend on it
    ++nacks_;
    controlMetrics().nacks.fetch_add(1, std::memory_order_relaxed);
    if (last_push_) controlMetrics().push_latency.record(Clock::now() - *last_push_);
    last_response_ = "NACK";
    last_response_version_ = version;
    last_response_at_ = Clock::now();
    last_error_ = std::move(error);
    m = nextLocked();
  }
  write(std::move(m));
}

void ProxySession::onWriteDone(bool ok) {
  std::shared_ptr<const v1::ControlMessage> m;
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    in_write_.reset();
    if (ok) m = nextLocked();
  }
  write(std::move(m));
}

void ProxySession::sendCertificate(const ca::IssuedCertificate& issued,
                                   const std::string& spiffe_id, const std::string& roots_pem) {
  auto m = std::make_shared<v1::ControlMessage>();
  auto* c = m->mutable_certificate();
  c->set_spiffe_id(spiffe_id);
  c->set_certificate_chain(issued.chain_pem);
  c->set_root_certificates(roots_pem);
  {
    std::lock_guard lock(mu_);
    spiffe_id_ = spiffe_id;
    certificate_serial_ = issued.serial_hex;
    certificate_not_before_ = issued.not_before;
    certificate_not_after_ = issued.not_after;
    ++certificates_issued_;
    certificate_chain_pem_ = issued.chain_pem;
    root_certificates_pem_ = roots_pem;
  }
  queueCertificateMessage(std::move(m));
}

void ProxySession::sendCertificateError(const std::string& error) {
  auto m = std::make_shared<v1::ControlMessage>();
  m->mutable_certificate_error()->set_error(error);
  queueCertificateMessage(std::move(m));
}

void ProxySession::queueCertificateMessage(std::shared_ptr<const v1::ControlMessage> message) {
  std::shared_ptr<const v1::ControlMessage> m;
  {
    std::lock_guard lock(mu_);
    certificate_queue_.push_back(std::move(message));
    m = nextLocked();
  }
  write(std::move(m));
}

void ProxySession::close() {
  std::lock_guard lock(write_mu_);
  closed_ = true;
}

void ProxySession::write(std::shared_ptr<const v1::ControlMessage> message) {
  if (!message) return;
  std::lock_guard lock(write_mu_);
  if (!closed_) writer_(message.get());
}

std::shared_ptr<const v1::ControlMessage> ProxySession::nextLocked() {
  if (writing_) return nullptr;
  if (!certificate_queue_.empty()) {  // before any push, and no answer to wait for
    in_write_ = std::move(certificate_queue_.front());
    certificate_queue_.pop_front();
    writing_ = true;
    return in_write_;
  }
  if (awaiting_answer_ || !desired_.content) return nullptr;
  const ProxyContent& next = *desired_.content;
  if (sent_.content && sent_.content->hash() == next.hash()) return nullptr;  // nothing new
  if (acked_.content && acked_.content->hash() == next.hash()) {
    sent_ = acked_;  // back to what the proxy serves (after a NACK or a ConfigError)
    return nullptr;
  }
  const ProxyContent* base = whole_next_ ? nullptr : acked_.content.get();
  in_write_ = next.message(base, acked_.version, desired_.version);
  sent_ = desired_;
  writing_ = true;
  if (next.failed()) {
    last_error_ = joined(next.errors());  // no answer expected
    controlMetrics().config_errors.fetch_add(1, std::memory_order_relaxed);
  } else {
    awaiting_answer_ = true;
    ++pushes_;
    controlMetrics().pushes.fetch_add(1, std::memory_order_relaxed);
    if (!base) controlMetrics().whole_pushes.fetch_add(1, std::memory_order_relaxed);
    pushed_version_ = desired_.version;
    last_push_ = Clock::now();
  }
  return in_write_;
}

v1::ProxyStatus ProxySession::status() const {
  v1::ProxyStatus s;
  s.set_id(info_.id());
  s.set_name(info_.name);
  s.set_namespace_(info_.namespace_);
  s.set_role(info_.role);
  s.mutable_labels()->insert(info_.labels.begin(), info_.labels.end());
  s.set_service_account(info_.service_account);
  s.set_address(info_.address);
  s.set_peer(info_.peer);
  s.set_build_version(info_.build_version);
  s.set_admin_address(info_.admin_address);
  s.set_ms_connected(msSince(connected_));
  std::lock_guard lock(mu_);
  s.set_sent_version(pushed_version_);
  s.set_acked_version(acked_.version);
  if (acked_.content) s.set_content_hash(acked_.content->hash());
  s.set_last_response(last_response_);
  s.set_last_response_version(last_response_version_);
  s.set_last_error(last_error_);
  s.set_ms_since_last_push(last_push_ ? msSince(*last_push_) : -1);
  s.set_ms_since_last_response(last_response_at_ ? msSince(*last_response_at_) : -1);
  s.set_pushes(pushes_);
  s.set_nacks(nacks_);
  s.set_spiffe_id(spiffe_id_);
  s.set_certificate_serial(certificate_serial_);
  s.set_certificate_not_before(certificate_not_before_);
  s.set_certificate_not_after(certificate_not_after_);
  s.set_certificates_issued(certificates_issued_);
  return s;
}

std::shared_ptr<const ProxyContent> ProxySession::serving(uint64_t* version) const {
  std::lock_guard lock(mu_);
  if (version) *version = acked_.version;
  return acked_.content;
}

void ProxySession::certificate(std::string* chain_pem, std::string* roots_pem) const {
  std::lock_guard lock(mu_);
  if (chain_pem) *chain_pem = certificate_chain_pem_;
  if (roots_pem) *roots_pem = root_certificates_pem_;
}

}  // namespace halyard::control
