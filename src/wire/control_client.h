// A proxy's connection to the control plane: one Stream (docs/control-protocol.md), opened with
// the proxy's ProxyHello, reopened after a failure. Each push is assembled (SnapshotAssembler)
// and handed to `apply`; what apply answers is what the control plane hears (ACK, or NACK with
// the error). The stream runs on the client's own thread, so apply runs there too: a proxy posts
// the snapshot to its main loop from it. On a reconnect the proxy keeps serving what it has and
// says which version that is, so versions stay monotonic.
//
// The stream is gRPC on an HTTP/2 connection made with nghttp2, not with the gRPC library: the
// gRPC runtime (libgrpc, its TLS and abseil) would add about 7 MB to every sidecar's resident
// memory for one stream, when the proxy's whole budget is 10 MB.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "translate/snapshot.h"
#include "wire/protocol.h"
#include "wire/snapshot_assembler.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

struct ControlClientOptions {
  std::string address = "127.0.0.1:15010";
  v1::ProxyHello hello;
  // Reconnects back off exponentially from retry_delay to max_retry_delay (with +-20 % jitter, so
  // a thousand proxies do not reconnect in step after a control-plane restart); a stream that
  // delivered a push starts the sequence again. The cap stays below the control plane's restart
  // grace (PushControllerOptions::resync_grace, 3 s): a proxy is back within 2.4 s of a restart,
  // however long the control plane was down.
  std::chrono::milliseconds retry_delay{100};
  std::chrono::milliseconds max_retry_delay{2000};
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

  ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error = {},
                OnAnswer on_answer = {});
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  void start();
  // Closes the stream and joins the thread. Idempotent.
  void stop();

  // The version of the last snapshot applied (0: none yet).
  uint64_t version() const;

 private:
  void run();
  class Stream;  // the HTTP/2 connection and its one gRPC stream (control_client.cc)

  // One stream, until it ends; true when it delivered at least one push.
  bool runStream();
  bool serve(Stream& stream);
  // Assembles and applies a push: the ACK or NACK to send.
  v1::ProxyMessage answer(const v1::SnapshotPush& push);
  // Waits for `delay`; false when stopping.
  bool waitToRetry(std::chrono::milliseconds delay);

  ControlClientOptions options_;
  Apply apply_;
  OnConfigError on_error_;
  OnAnswer on_answer_;
  SnapshotAssembler assembler_;  // only the client thread touches it

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int fd_ = -1;  // the open connection's socket, shut down by stop() to end the stream
  uint64_t version_ = 0;
  // Client thread. The log tells each change once (connected, lost, unreachable), not each retry.
  bool connected_logged_ = false;
  bool unreachable_logged_ = false;
  std::thread thread_;
};

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
