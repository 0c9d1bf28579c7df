#include "control/push/push_controller.h"

#include <algorithm>

#include "common/log.h"
#include "config/yaml/config_set_builder.h"
#include "control/observability/control_metrics.h"
#include "control/push/proxy_class.h"
#include "translate/diagnostic_sink.h"
#include "translate/peer_workloads.h"
#include "wire/snapshot_codec.h"

namespace halyard::control {

namespace {

// Translation rounds per generation: each round quarantines the objects the previous one could
// not translate. Two rounds are enough unless quarantining uncovers errors elsewhere.
constexpr int kMaxTranslateRounds = 3;

void fillProblem(const config::Diagnostic& d, v1::Problem* out) {
  out->set_code(d.code);
  out->set_type(d.type);
  out->set_level(config::toString(d.level));
  out->set_file(d.pos.fileName());
  out->set_line(d.pos.line);
  out->set_field(d.field_path);
  out->set_message(d.message);
}

std::string describe(const config::Diagnostic& d) {
  std::string out = d.code + " " + d.message;
  const std::string pos = d.pos.str();
  if (!pos.empty()) out += " (" + pos + ")";
  return out;
}

}  // namespace

PushController::PushController(PushControllerOptions options) : options_(options) {}

PushController::~PushController() {
  stop();
}

void PushController::start() {
  if (options_.resync_grace.count() > 0) resync_until_ = Clock::now() + options_.resync_grace;
  thread_ = std::thread([this] { run(); });
}

void PushController::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PushController::waitFirstGeneration() {
  std::unique_lock lock(state_mu_);
  built_cv_.wait(lock, [this] { return built_; });
}

void PushController::onSourceUpdate(SourceUpdate update) {
  {
    std::lock_guard lock(mu_);
    pending_update_ = std::move(update);
  }
  cv_.notify_all();
}

void PushController::requestRebuild() {
  {
    std::lock_guard lock(mu_);
    rebuild_requested_ = true;
  }
  cv_.notify_all();
}

void PushController::connect(std::shared_ptr<ProxySession> session) {
  {
    std::lock_guard lock(mu_);
    controlMetrics().connects.fetch_add(1, std::memory_order_relaxed);
    connects_.push_back(std::move(session));
  }
  cv_.notify_all();
}

void PushController::disconnect(std::shared_ptr<ProxySession> session) {
  {
    std::lock_guard lock(mu_);
    controlMetrics().disconnects.fetch_add(1, std::memory_order_relaxed);
    disconnects_.push_back(std::move(session));
  }
  cv_.notify_all();
}

void PushController::run() {
  for (;;) {
    std::optional<SourceUpdate> update;
    std::vector<std::shared_ptr<ProxySession>> connects, disconnects;
    {
      std::unique_lock lock(mu_);
      auto ready = [this] {
        return stopping_ || pending_update_ || rebuild_requested_ || !connects_.empty() ||
               !disconnects_.empty();
      };
      std::optional<Clock::time_point> wake;
      if (registry_changed_) wake = *registry_changed_ + options_.registry_debounce;
      if (resync_until_ && (!wake || *resync_until_ < *wake)) wake = resync_until_;
      if (wake) {
        cv_.wait_until(lock, *wake, ready);
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) return;
      update.swap(pending_update_);
      rebuild_now_ = rebuild_requested_;
      rebuild_requested_ = false;
      connects.swap(connects_);
      disconnects.swap(disconnects_);
    }
    step(std::move(update), connects, disconnects);
  }
}

void PushController::step(std::optional<SourceUpdate> update,
                          const std::vector<std::shared_ptr<ProxySession>>& connects,
                          const std::vector<std::shared_ptr<ProxySession>>& disconnects) {
  auto registryChanged = [this] {
    if (!registry_changed_) registry_changed_ = Clock::now();
  };
  uint64_t seen_version = 0;
  for (const auto& s : connects) {
    const ProxyInfo& info = s->info();
    const std::string key = proxyClassKey(info);
    ProxyClass& c = classes_[key];
    if (c.sessions++ == 0) c.identity = proxyIdentity(info);
    session_class_[info.stream_id] = key;
    {
      std::lock_guard lock(state_mu_);
      sessions_[info.stream_id] = s;
    }
    if (!info.address.empty()) {
      Workload w{info.name,
                 info.namespace_,
                 info.service_account,
                 info.address,
                 info.labels,
                 info.ports,
                 "proxy " + info.id() + " at " + info.peer,
                 info.inbound_port,
                 info.app_port};
      if (registry_.add(info.stream_id, std::move(w))) registryChanged();
    } else if (info.role == "gateway") {
      registryChanged();  // the sidecars' peer workloads name it (connectedGateways)
    }
    seen_version = std::max(seen_version, info.last_version);
    HLOG_INFO("proxy {} ({}, {}) connected from {}", info.id(), info.role,
              info.build_version.empty() ? "unknown build" : info.build_version, info.peer);
  }
  // After the connects: a stream may have ended in the same batch.
  for (const auto& s : disconnects) {
    const ProxyInfo& info = s->info();
    {
      std::lock_guard lock(state_mu_);
      sessions_.erase(info.stream_id);
    }
    auto it = session_class_.find(info.stream_id);
    if (it != session_class_.end()) {
      if (--classes_[it->second].sessions == 0) classes_.erase(it->second);
      session_class_.erase(it);
    }
    if (registry_.remove(info.stream_id) || (info.role == "gateway" && info.address.empty())) {
      registryChanged();
    }
    HLOG_INFO("proxy {} ({}) disconnected", info.id(), info.peer);
  }

  // Versions continue above what a reconnecting proxy served from an earlier control plane.
  if (seen_version > 0 && seen_version >= version_) {
    std::lock_guard lock(state_mu_);
    version_ = seen_version + 1;
  }

  if (update) store_.update(*update);
  const bool registry_due =
      registry_changed_ && Clock::now() >= *registry_changed_ + options_.registry_debounce;
  const bool resync_over = resync_until_ && Clock::now() >= *resync_until_;
  if (resync_over) {
    resync_until_.reset();
    HLOG_INFO("resync grace over: the proxies that resumed a snapshot are served again");
  }
  if (update || registry_due || !config_ || resync_over || rebuild_now_) {
    rebuild();
    return;
  }
  // No new generation: classes seen for the first time are translated against the current one.
  for (auto& [key, c] : classes_) {
    if (c.content) continue;
    if (store_.quarantine(translateClass(c))) {
      rebuild();
      return;
    }
  }
  for (const auto& s : connects) offer(s);
}

config::Diagnostics PushController::translateClass(ProxyClass& c) {
  if (c.identity.role == "sidecar") return translateSidecar(c);
  translate::TranslateResult r = translate::buildSnapshot(*config_, c.identity, version_);
  config::Diagnostics object_errors;
  if (r.snapshot) {
    c.content = ProxyContent::fromSnapshot(*r.snapshot);
    return object_errors;
  }
  std::vector<std::string> errors;
  for (const auto& d : r.diagnostics) {
    if (d.level != config::Level::kError) continue;
    errors.push_back(translate::formatDiagnostic(d));
    if (!d.resource.kind.empty()) object_errors.push_back(d);
  }
  c.content = ProxyContent::fromErrors(std::move(errors));
  return object_errors;
}

config::Diagnostics PushController::translateSidecar(ProxyClass& c) {
  const translate::ProxyIdentity outbound =
      sidecarOutboundIdentity(c.identity, sidecar_label_keys_);
  auto [it, first] = outbound_.try_emplace(sidecarOutboundKey(outbound));
  SharedOutbound& shared = it->second;
  config::Diagnostics object_errors;  // reported by the first sidecar only
  if (first) {
    ++outbound_translations_;
    translate::TranslateResult r = translate::buildSidecarOutbound(*config_, outbound, version_);
    if (r.snapshot) {
      shared.part = ProxyContent::share(*r.snapshot);
    } else {
      for (const auto& d : r.diagnostics) {
        if (d.level != config::Level::kError) continue;
        shared.errors.push_back(translate::formatDiagnostic(d));
        if (!d.resource.kind.empty()) object_errors.push_back(d);
      }
    }
  }
  if (!shared.part) {
    c.content = ProxyContent::fromErrors(shared.errors);
    return object_errors;
  }
  if (!sidecar_own_) {
    sidecar_own_ = std::make_unique<translate::SidecarOwnBuilder>(*config_, connectedGateways());
    if (const auto& table = sidecar_own_->peerWorkloads()) {
      sidecar_peers_ = ProxyContent::sharePeers(*table);
    }
  }
  c.content =
      ProxyContent::withShared(shared.part, sidecar_own_->build(c.identity), sidecar_peers_);
  return object_errors;
}

std::vector<translate::PeerWorkload> PushController::connectedGateways() const {
  // A gateway registers no WorkloadEntry (it is no endpoint of any service), yet it calls
  // services over TCP: the destinations know it by its certificate's namespace and service
  // account, as they know sidecars, and by the name and labels it connected with.
  std::vector<translate::PeerWorkload> out;
  std::lock_guard lock(state_mu_);
  for (const auto& [id, s] : sessions_) {
    const ProxyInfo& info = s->info();
    if (info.role != "gateway" || !info.address.empty()) continue;
    out.push_back(translate::peerWorkload(
        info.namespace_, info.service_account.empty() ? "default" : info.service_account, info.name,
        info.labels));
  }
  return out;
}

void PushController::setConfig(std::shared_ptr<const config::model::ConfigSet> config) {
  outbound_.clear();
  sidecar_own_.reset();  // it refers to the config it was made for
  sidecar_peers_.reset();
  config_ = std::move(config);
  sidecar_label_keys_ = translate::sidecarLabelKeys(*config_);
  translate::MeshSettings mesh = translate::meshSettings(*config_);
  std::lock_guard lock(state_mu_);
  mesh_ = std::move(mesh);
}

translate::MeshSettings PushController::meshSettings() const {
  std::lock_guard lock(state_mu_);
  return mesh_;
}

void PushController::rebuild() {
  const auto started = Clock::now();
  {
    std::lock_guard lock(state_mu_);
    ++version_;
  }
  size_t objects = 0;
  for (int round = 1;; ++round) {
    std::vector<config::Object> effective = store_.effective();
    objects = effective.size();
    auto config = std::make_shared<config::model::ConfigSet>(config::buildConfigSet(effective));
    registry_.appendTo(*config);
    setConfig(std::move(config));
    config::Diagnostics errors;
    for (auto& [key, c] : classes_) {
      config::Diagnostics e = translateClass(c);
      errors.insert(errors.end(), e.begin(), e.end());
    }
    if (round == kMaxTranslateRounds || !store_.quarantine(errors)) break;
  }
  store_.commit();
  registry_changed_.reset();
  publishReport(objects);

  std::vector<std::shared_ptr<ProxySession>> sessions;
  {
    std::lock_guard lock(state_mu_);
    for (const auto& [id, s] : sessions_) sessions.push_back(s);
  }
  for (const auto& s : sessions) offer(s);
  controlMetrics().generations.fetch_add(1, std::memory_order_relaxed);
  controlMetrics().generation_duration.record(Clock::now() - started);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  HLOG_INFO(
      "config version {}: {} objects ({} quarantined), {} registered workloads, {} proxies "
      "in {} classes; built in {} ms",
      version_, objects, quarantined_.size(), registry_.size(), sessions.size(), classes_.size(),
      ms);
}

void PushController::offer(const std::shared_ptr<ProxySession>& session) {
  auto it = session_class_.find(session->info().stream_id);
  if (it == session_class_.end()) return;
  // A resumed snapshot holds its registered endpoints; a new one now might drop those of
  // sidecars that have not reconnected yet.
  if (resync_until_ && session->info().last_version > 0) return;
  session->offer(version_, classes_[it->second].content);
}

void PushController::publishReport(size_t objects) {
  std::vector<QuarantineEntry> quarantined = store_.quarantined();
  // Each problem is logged once, when it appears; one that goes away and comes back is
  // logged again.
  std::set<std::string> reported;
  for (const auto& q : quarantined) {
    for (const auto& d : q.problems) {
      const std::string line =
          "quarantined " + q.resource.str() + ": " + describe(d) +
          (q.previous_serving ? "; its previous version keeps serving" : "; it is left out");
      if (!reported_.count(line)) HLOG_WARN("{}", line);
      reported.insert(line);
    }
  }
  for (const auto& d : store_.problems()) {
    const std::string line = "config: " + describe(d);
    if (!reported_.count(line)) {
      if (d.level == config::Level::kError) {
        HLOG_WARN("{}", line);
      } else {
        HLOG_INFO("{}", line);
      }
    }
    reported.insert(line);
  }
  reported_ = std::move(reported);

  {
    std::lock_guard lock(state_mu_);
    quarantined_ = std::move(quarantined);
    problems_ = store_.problems();
    objects_ = objects;
    built_ = true;
  }
  built_cv_.notify_all();
}

v1::StatusResponse PushController::status() const {
  v1::StatusResponse r;
  std::lock_guard lock(state_mu_);
  r.set_version(version_);
  r.set_objects(objects_);
  std::vector<v1::ProxyStatus> proxies;
  for (const auto& [id, s] : sessions_) proxies.push_back(s->status());
  std::sort(proxies.begin(), proxies.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  for (auto& p : proxies) *r.add_proxies() = std::move(p);
  for (const auto& q : quarantined_) {
    auto* out = r.add_quarantined();
    out->set_kind(q.resource.kind);
    out->set_namespace_(q.resource.namespace_);
    out->set_name(q.resource.name);
    out->set_file(q.pos.fileName());
    out->set_line(q.pos.line);
    out->set_previous_version_serving(q.previous_serving);
    for (const auto& d : q.problems) fillProblem(d, out->add_problems());
  }
  for (const auto& d : problems_) fillProblem(d, r.add_config_problems());
  return r;
}

common::Expected<v1::ProxyConfigResponse> PushController::proxyConfig(
    const std::string& proxy) const {
  std::shared_ptr<ProxySession> found;
  {
    std::lock_guard lock(state_mu_);
    size_t by_name = 0;
    std::shared_ptr<ProxySession> named;
    // Newest stream first: a proxy that reconnected is its latest stream.
    for (auto it = sessions_.rbegin(); it != sessions_.rend() && !found; ++it) {
      const ProxyInfo& info = it->second->info();
      if (info.id() == proxy || info.namespace_ + "/" + info.name == proxy) found = it->second;
      if (info.name == proxy && by_name++ == 0) named = it->second;
    }
    if (!found && by_name > 1) {
      return common::fail(common::ErrorKind::kInvalidArgument,
                          "several proxies are named " + proxy + "; say name.namespace");
    }
    if (!found) found = named;
  }
  if (!found) {
    return common::fail(common::ErrorKind::kNotFound, "no connected proxy " + proxy);
  }
  v1::ProxyConfigResponse r;
  *r.mutable_proxy() = found->status();
  uint64_t version = 0;
  if (auto content = found->serving(&version)) {
    r.set_version(version);
    *r.mutable_resources() = content->resources();
    wire::redactInlinePem(*r.mutable_resources());  // certificates' origins only, never keys
    for (const auto& w : content->warnings()) r.add_warnings(w);
  }
  found->certificate(r.mutable_certificate_chain(), r.mutable_root_certificates());
  return r;
}

}  // namespace halyard::control
