// The control plane's core: config updates and proxy connections in, snapshots out.
//
// One thread takes the events. A source update (already debounced by the source) or a change of
// the self-registered workloads (debounced here) makes a new config generation: the store's
// effective config plus the registry, translated once per class of proxies (equal identities:
// what translate::buildSnapshot reads of a proxy; see proxy_class.h), and offered to every
// session; sessions push only what changed. Sidecars are classes of their own, but their
// outbound part is translated and encoded once per generation for all that share it
// (sidecarOutboundIdentity); each sidecar adds only its own few resources. Events that arrive
// while a generation is computed coalesce into the next one. Objects that fail translation are
// quarantined and the generation is translated again without them, so one bad object never
// holds back the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "config/model/config_set.h"
#include "control/push/proxy_content.h"
#include "control/push/proxy_session.h"
#include "control/registry/workload_registry.h"
#include "control/sources/config_source.h"
#include "control/store/config_store.h"
#include "halyard/v1/discovery.pb.h"
#include "translate/mesh_settings.h"
#include "translate/translate.h"

namespace halyard::control {

struct PushControllerOptions {
  std::chrono::milliseconds registry_debounce{100};
  // After a (re)start, proxies that already serve a snapshot from an earlier control plane
  // (hello.last_version > 0) are sent nothing for this long: the sidecars that registered with the
  // earlier one need time to reconnect and register again, and until they have, a new snapshot
  // would take their endpoints away. Covers the proxies' reconnect backoff (at most 2 s + 20 %).
  std::chrono::milliseconds resync_grace{3000};
};

class PushController {
 public:
  explicit PushController(PushControllerOptions options = {});
  ~PushController();
  PushController(const PushController&) = delete;
  PushController& operator=(const PushController&) = delete;

  void start();
  void stop();
  // Blocks until the first generation is built: what the first proxy will be sent.
  void waitFirstGeneration();

  // Translate and offer again with the same config: what translation reads besides it changed
  // (a fetched jwksUri key set). Any thread.
  void requestRebuild();
  // The config source's whole new state (from the source's thread).
  void onSourceUpdate(SourceUpdate update);
  // A stream said hello / ended (from gRPC threads).
  void connect(std::shared_ptr<ProxySession> session);
  void disconnect(std::shared_ptr<ProxySession> session);

  v1::StatusResponse status() const;
  // `proxy`: "name.namespace", "namespace/name", or a name only one proxy has.
  common::Expected<v1::ProxyConfigResponse> proxyConfig(const std::string& proxy) const;
  // The mesh settings of the current config (trust domain, root namespace); Istio's defaults
  // before the first generation. Any thread.
  translate::MeshSettings meshSettings() const;
  // How many sidecar outbound parts were translated since the start (for tests).
  uint64_t sidecarOutboundTranslations() const { return outbound_translations_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct ProxyClass {
    translate::ProxyIdentity identity;
    std::shared_ptr<const ProxyContent> content;  // null until translated
    size_t sessions = 0;
  };
  // One outbound translation shared by the sidecars of a generation with equal outbound
  // identities: its encoded part, or the errors that kept it from being built.
  struct SharedOutbound {
    std::shared_ptr<const ProxyContent::Shared> part;  // null when translation failed
    std::vector<std::string> errors;
  };

  void run();
  void step(std::optional<SourceUpdate> update,
            const std::vector<std::shared_ptr<ProxySession>>& connects,
            const std::vector<std::shared_ptr<ProxySession>>& disconnects);
  // A new generation; every session is offered its class's content.
  void rebuild();
  // Translates one class against config_; returns the errors that name an object.
  config::Diagnostics translateClass(ProxyClass& c);
  // The connected gateways that registered no workload, as TCP callers the sidecars may see.
  std::vector<translate::PeerWorkload> connectedGateways() const;
  config::Diagnostics translateSidecar(ProxyClass& c);
  // Makes `config` the current one; what was translated against the previous one goes.
  void setConfig(std::shared_ptr<const config::model::ConfigSet> config);
  void offer(const std::shared_ptr<ProxySession>& session);
  void publishReport(size_t objects);

  const PushControllerOptions options_;

  std::mutex mu_;  // the event queue
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<SourceUpdate> pending_update_;  // only the newest state matters
  bool rebuild_requested_ = false;
  bool rebuild_now_ = false;  // the controller thread's copy for step()
  std::vector<std::shared_ptr<ProxySession>> connects_;
  std::vector<std::shared_ptr<ProxySession>> disconnects_;
  std::thread thread_;

  // The controller thread's own.
  ConfigStore store_;
  WorkloadRegistry registry_;
  std::shared_ptr<const config::model::ConfigSet> config_;
  std::map<std::string, ProxyClass> classes_;
  std::map<uint64_t, std::string> session_class_;
  // Per config_: the label keys sidecar outbound parts read, the sidecars' own part builder
  // (made on first use) and the shared outbound translations by sidecarOutboundKey.
  std::set<std::string> sidecar_label_keys_;
  std::unique_ptr<translate::SidecarOwnBuilder> sidecar_own_;
  // sidecar_own_'s table of peer workloads, encoded once for every sidecar that uses it.
  std::shared_ptr<const ProxyContent::Shared> sidecar_peers_;
  std::map<std::string, SharedOutbound> outbound_;
  std::atomic<uint64_t> outbound_translations_{0};
  std::optional<Clock::time_point> registry_changed_;
  // Until then, sessions that resume a snapshot are held (PushControllerOptions::resync_grace).
  std::optional<Clock::time_point> resync_until_;
  std::set<std::string> reported_;  // problems already logged

  // Read by status() and proxyConfig(); written by the controller thread under state_mu_.
  mutable std::mutex state_mu_;
  std::condition_variable built_cv_;
  bool built_ = false;
  uint64_t version_ = 0;
  std::map<uint64_t, std::shared_ptr<ProxySession>> sessions_;
  std::vector<QuarantineEntry> quarantined_;
  config::Diagnostics problems_;
  size_t objects_ = 0;
  translate::MeshSettings mesh_;
};

}  // namespace halyard::control
