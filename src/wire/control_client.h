// A proxy's connection to the control plane: one Stream (docs/control-protocol.md), opened with
// the proxy's ProxyHello, reopened after a failure. Each push is assembled (SnapshotAssembler)
// and handed to `apply`; what apply answers is what the control plane hears (ACK, or NACK with
// the error). The stream runs on the client's own thread, so apply runs there too: a proxy posts
// the snapshot to its main loop from it. On a reconnect the proxy keeps serving what it has and
// says which version that is, so versions stay monotonic.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "halyard/v1/discovery.pb.h"
#include "translate/snapshot.h"
#include "wire/snapshot_assembler.h"

namespace grpc {
class ClientContext;
}

namespace halyard::wire {

struct ControlClientOptions {
  std::string address = "127.0.0.1:15010";
  v1::ProxyHello hello;
  std::chrono::milliseconds retry_delay{1000};
};

class ControlClient {
 public:
  // Serve this snapshot (ok: ACK), or the reason it cannot be served (NACK).
  using Apply =
      std::function<common::Result<void, std::string>(std::shared_ptr<const translate::Snapshot>)>;
  // The control plane has no snapshot for this proxy (its role is not served, translation failed).
  using OnConfigError = std::function<void(const v1::ConfigError&)>;

  ControlClient(ControlClientOptions options, Apply apply, OnConfigError on_error = {});
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
  void runStream();
  // Waits for the retry delay; false when stopping.
  bool waitToRetry();

  ControlClientOptions options_;
  Apply apply_;
  OnConfigError on_error_;
  SnapshotAssembler assembler_;  // only the client thread touches it

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;  // the open stream's, to cancel it on stop()
  uint64_t version_ = 0;
  std::thread thread_;
};

}  // namespace halyard::wire
