// A proxy's connection to the control plane: one Stream (docs/control-protocol.md), opened with
// the proxy's ProxyHello, reopened after a failure. Each push is assembled (SnapshotAssembler)
// and handed to `apply`; what apply answers is what the control plane hears (ACK, or NACK with
// the error). The stream runs on the client's own thread, so apply runs there too: a proxy posts
// the snapshot to its main loop from it. On a reconnect the proxy keeps serving what it has and
// says which version that is, so versions stay monotonic.
//
// The stream is gRPC on an HTTP/2 connection made with nghttp2 over OpenSSL, not with the gRPC
// library: the gRPC runtime (libgrpc, its TLS and abseil) would add about 7 MB to every sidecar's
// resident memory for one stream, when the proxy's whole budget is 10 MB.
//
// Mesh identity: the connection is TLS, the control plane's certificate checked against the
// roots the proxy was given and for `server_name`. Each stream's hello carries the bootstrap
// credential (proving the hello's namespace and service account) and a CSR for a key made for
// that stream; the control plane answers with the workload certificate before the first push.
// At about half of the certificate's lifetime the client asks again, with a new key, over the
// open stream; each certificate issued reaches `OnCertificate` before any later push is applied.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "translate/snapshot.h"
#include "translate/workload_identity.h"
#include "wire/protocol.h"
#include "wire/snapshot_assembler.h"
#include "wire/workload_key.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

struct ControlClientOptions {
  std::string address = "127.0.0.1:15010";
  // Sent at each connect with `credential` (see token_file) and `csr` (a new key) filled in.
  v1::ProxyHello hello;
  // The roots the control plane's certificate must chain to: a PEM file, read again at each
  // connect (so a rotated bundle is picked up), or, when ca_file is empty, this PEM text.
  std::string ca_file;
  std::string ca_pem;
  // The name the control plane's certificate must carry (DNS or IP SAN), sent as SNI when it is
  // a DNS name.
  std::string server_name = "istiod.istio-system.svc";
  // The file whose content (surrounding whitespace trimmed) is the hello's credential, read again
  // at each connect; empty: hello.credential as given.
  std::string token_file;
  // Reconnects back off exponentially from retry_delay to max_retry_delay (with +-20 % jitter, so
  // a thousand proxies do not reconnect in step after a control-plane restart); a stream that
  // delivered a push starts the sequence again. The cap stays below the control plane's restart
  // grace (PushControllerOptions::resync_grace, 3 s): a proxy is back within 2.4 s of a restart,
  // however long the control plane was down.
  std::chrono::milliseconds retry_delay{100};
  std::chrono::milliseconds max_retry_delay{2000};
  // After a CertificateError (or a certificate that had to be refused), the request is made
  // again after this long, or a tenth of the current certificate's remaining lifetime when that
  // is shorter (never under 1 s).
  std::chrono::milliseconds certificate_retry_delay{10'000};
};

class ControlClient {
 public:
  // Serve this snapshot (ok: ACK), or the reason it cannot be served (NACK).
  using Apply =
      std::function<common::Result<void, std::string>(std::shared_ptr<const translate::Snapshot>)>;
  // The control plane has no snapshot for this proxy (its role is not served, translation failed).
  using OnConfigError = std::function<void(const v1::ConfigError&)>;
  // Every answer sent (ack false: a NACK, including pushes that failed to assemble), on the
  // client's thread.
  using OnAnswer = std::function<void(bool ack, uint64_t version)>;
  // A workload certificate was issued for this proxy's key (the first, or a rotation), on the
  // client's thread, before any push that follows it is handed to apply.
  using OnCertificate = std::function<void(std::shared_ptr<const translate::WorkloadIdentity>)>;

  ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error = {},
                OnAnswer on_answer = {});
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Before start().
  void setOnCertificate(OnCertificate on_certificate) {
    on_certificate_ = std::move(on_certificate);
  }

  void start();
  // Closes the stream and joins the thread. Idempotent.
  void stop();

  // The version of the last snapshot applied (0: none yet).
  uint64_t version() const;
  // The last workload certificate issued (null: none yet).
  std::shared_ptr<const translate::WorkloadIdentity> certificate() const;
  // How the control plane last refused this proxy's stream, "UNAUTHENTICATED: <its message>"
  // (also PERMISSION_DENIED, INVALID_ARGUMENT); "" once a stream is accepted again.
  std::string refusal() const;
  // Why the last attempt to open a stream failed or the last stream ended (a refusal, a TLS
  // error, an unreadable token file, an unreachable address); "" while a stream is up.
  std::string lastError() const;

 private:
  void run();
  class Stream;  // the HTTP/2 connection and its one gRPC stream (control_client.cc)

  // One stream, until it ends; true when it delivered at least one push.
  bool runStream();
  // Serves an open stream whose hello asks a certificate for `key`.
  bool serve(Stream& stream, const v1::ProxyMessage& hello, WorkloadKey key);
  void onIssued(const v1::CertificateIssued& issued);
  void onCertificateError(const v1::CertificateError& error);
  // Sends a CertificateRequest for a new key (a rotation, or a retry).
  void requestCertificate(Stream& stream);
  // Plans the next request after a failed one: certificate_retry_delay, or sooner when the
  // current certificate has less than ten times that left.
  void retryCertificateLater();
  // Records why an attempt failed or a stream ended; logs each distinct reason once.
  void failed(const std::string& error, bool unreachable, const std::string& refusal);
  // Assembles and applies a push: the ACK or NACK to send.
  v1::ProxyMessage answer(const v1::SnapshotPush& push);
  // Waits for `delay`; false when stopping.
  bool waitToRetry(std::chrono::milliseconds delay);

  ControlClientOptions options_;
  Apply apply_;
  OnConfigError on_error_;
  OnAnswer on_answer_;
  OnCertificate on_certificate_;
  SnapshotAssembler assembler_;  // only the client thread touches it
  // Client thread: the key of the CSR the control plane has not answered yet (none: null), and
  // when to send the next request (a rotation or a retry; max: nothing planned).
  std::optional<WorkloadKey> pending_key_;
  std::chrono::steady_clock::time_point next_request_ =
      std::chrono::steady_clock::time_point::max();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int fd_ = -1;  // the open connection's socket, shut down by stop() to end the stream
  uint64_t version_ = 0;
  std::shared_ptr<const translate::WorkloadIdentity> certificate_;
  std::string refusal_;
  std::string last_error_;
  // Client thread. The log tells each change once (connected, lost, each distinct reason a
  // connect fails), not each retry.
  bool connected_logged_ = false;
  std::string failure_logged_;
  std::thread thread_;
};

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
