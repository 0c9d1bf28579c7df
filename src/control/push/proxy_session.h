// One connected proxy: who it is, what it was offered, sent, and what it ACKed or NACKed.
//
// At most one push is in flight: the next one waits for the proxy's answer, and only the latest
// offer is sent then (offers in between coalesce). A push is sent only when its content differs
// from what the proxy was last sent (and from what it serves): equal hashes, no push. The first
// push is whole; later ones are deltas on top of the last ACKed snapshot, except after a NACK,
// when the next push is whole again. A NACK leaves the ACKed snapshot as what the proxy serves.
//
// Certificate messages (CertificateIssued, CertificateError) wait for no answer and go before any
// pending push: the first certificate is queued before the session is offered anything, so the
// proxy has its identity before its first snapshot.
//
// Thread-safe: offers come from the controller, answers and write completions from gRPC.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "control/ca/certificate_authority.h"
#include "control/push/proxy_content.h"
#include "halyard/v1/discovery.pb.h"

namespace halyard::control {

struct ProxyInfo {
  uint64_t stream_id = 0;
  std::string name;
  std::string namespace_;
  std::string role;
  std::map<std::string, std::string> labels;
  std::string service_account;
  std::string address;                    // the workload's, when it registers itself
  std::map<std::string, uint16_t> ports;  // the workload's ports by name
  // Sidecars only (0 for gateways), defaults applied: the app's port (the hello's first port; 0
  // when it has none) and the ports its inbound and outbound listeners bind.
  uint16_t app_port = 0;
  uint16_t inbound_port = 0;
  uint16_t outbound_port = 0;
  std::string peer;
  std::string build_version;
  std::string admin_address;  // its admin listener: /stats/prometheus, /clusters ("" none)
  uint64_t last_version = 0;  // what it served before this stream

  std::string id() const { return name + "." + namespace_; }  // "name.namespace"
};

class ProxySession {
 public:
  // Starts writing one message; the message stays alive until onWriteDone(). Never called again
  // before that, and never after close().
  using Writer = std::function<void(const v1::ControlMessage*)>;

  ProxySession(ProxyInfo info, Writer writer);

  const ProxyInfo& info() const { return info_; }

  void offer(uint64_t version, std::shared_ptr<const ProxyContent> content);
  void onAck(uint64_t version);
  void onNack(uint64_t version, std::string error);
  void onWriteDone(bool ok);
  // Sends a CertificateIssued for `issued` (before any pending push) and records it for status()
  // and certificate().
  void sendCertificate(const ca::IssuedCertificate& issued, const std::string& spiffe_id,
                       const std::string& roots_pem);
  // Sends a CertificateError; the previous certificate stays what status() shows.
  void sendCertificateError(const std::string& error);
  // No write starts after this returns (the stream is finishing).
  void close();

  v1::ProxyStatus status() const;
  // The content the proxy serves (its last ACK) and its version; null before the first ACK.
  std::shared_ptr<const ProxyContent> serving(uint64_t* version) const;
  // The chain and roots last sent ("" before the first).
  void certificate(std::string* chain_pem, std::string* roots_pem) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Offer {
    uint64_t version = 0;
    std::shared_ptr<const ProxyContent> content;
  };

  // Under mu_: what to write now, if anything.
  std::shared_ptr<const v1::ControlMessage> nextLocked();
  void queueCertificateMessage(std::shared_ptr<const v1::ControlMessage> message);
  void write(std::shared_ptr<const v1::ControlMessage> message);

  const ProxyInfo info_;
  const Writer writer_;
  const Clock::time_point connected_ = Clock::now();

  mutable std::mutex mu_;
  Offer desired_;
  Offer sent_;
  Offer acked_;
  bool writing_ = false;
  bool awaiting_answer_ = false;
  bool whole_next_ = true;  // no ACKed base to build a delta on
  std::shared_ptr<const v1::ControlMessage> in_write_;
  std::string last_response_;  // "ACK" / "NACK"
  uint64_t last_response_version_ = 0;
  std::string last_error_;
  std::optional<Clock::time_point> last_push_;
  std::optional<Clock::time_point> last_response_at_;
  uint64_t pushed_version_ = 0;
  uint64_t pushes_ = 0;
  uint64_t nacks_ = 0;
  // Certificate messages not written yet (they wait for no answer), and the last one issued.
  std::deque<std::shared_ptr<const v1::ControlMessage>> certificate_queue_;
  std::string spiffe_id_;
  std::string certificate_serial_;
  int64_t certificate_not_before_ = 0;
  int64_t certificate_not_after_ = 0;
  uint64_t certificates_issued_ = 0;
  std::string certificate_chain_pem_;
  std::string root_certificates_pem_;

  // Held while the writer runs, so close() waits for a write being started. Recursive: gRPC may
  // complete a write inline, and the completion may start the next one.
  std::recursive_mutex write_mu_;
  bool closed_ = false;
};

}  // namespace halyard::control
