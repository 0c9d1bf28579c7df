#include "control/push/proxy_content.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdio>

#include "wire/snapshot_codec.h"

namespace halyard::control {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
// A cache this large means proxies at many different bases; starting over is cheap.
constexpr size_t kMaxCachedMessages = 64;

uint64_t fnv(std::string_view bytes, uint64_t h = kFnvOffset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

uint64_t hashMessage(const google::protobuf::MessageLite& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);  // map fields in key order
    m.SerializeToCodedStream(&coded);
  }
  return fnv(bytes);
}

template <class T>
void put(ProxyContent::Resources<T>& out, std::string key, T message) {
  const uint64_t h = hashMessage(message);
  out[std::move(key)] = ProxyContent::Resource<T>{std::move(message), h};
}

// Adds what is new or changed in `next` to `upserts` and what is gone to `removed`.
template <class T, class Add>
void diff(const ProxyContent::Resources<T>& base, const ProxyContent::Resources<T>& next, Add add,
          google::protobuf::RepeatedPtrField<std::string>* removed) {
  for (const auto& [key, r] : next) {
    auto it = base.find(key);
    if (it == base.end() || it->second.hash != r.hash) *add() = r.message;
  }
  for (const auto& [key, r] : base) {
    if (!next.count(key)) removed->Add(std::string(key));
  }
}

// What moves a proxy from `base` to `next` (null: no resources), added to `push`.
void diffParts(const ProxyContent::Part* base, const ProxyContent::Part* next,
               v1::SnapshotPush* push) {
  static const ProxyContent::Part kEmpty;
  if (!base) base = &kEmpty;
  if (!next) next = &kEmpty;
  auto* res = push->mutable_resources();
  diff(
      base->listeners, next->listeners, [res] { return res->add_listeners(); },
      push->mutable_removed_listeners());
  diff(
      base->virtual_hosts, next->virtual_hosts, [res] { return res->add_virtual_hosts(); },
      push->mutable_removed_virtual_hosts());
  diff(
      base->clusters, next->clusters, [res] { return res->add_clusters(); },
      push->mutable_removed_clusters());
  diff(
      base->peer_workloads, next->peer_workloads, [res] { return res->add_peer_workloads(); },
      push->mutable_removed_peer_workloads());
}

class HashMix {
 public:
  void mix(std::string_view tag, std::string_view key, uint64_t value) {
    h_ = fnv(tag, h_);
    h_ = fnv(key, h_);
    h_ = fnv(std::string_view(reinterpret_cast<const char*>(&value), sizeof value), h_);
  }
  void mixResources(const ProxyContent::Part& part) {
    for (const auto& [key, r] : part.listeners) mix("L", key, r.hash);
    for (const auto& [key, r] : part.virtual_hosts) mix("V", key, r.hash);
    for (const auto& [key, r] : part.clusters) mix("C", key, r.hash);
    for (const auto& [key, r] : part.peer_workloads) mix("P", key, r.hash);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = kFnvOffset;
};

void encodePeers(const translate::PeerWorkloads& table, ProxyContent::Part& part) {
  for (const auto& w : table) {
    put(part.peer_workloads, wire::peerWorkloadKey(w.namespace_, w.service_account),
        wire::encodePeerWorkload(w));
  }
}

void finishPart(ProxyContent::Part& part) {
  HashMix h;
  h.mixResources(part);
  for (const auto& w : part.warnings) h.mix("W", w, 0);
  part.hash = h.value();
}

// `with_peers`: the peer table the listeners use goes into the part too (false: a shared part of
// its own carries it).
ProxyContent::Part encode(const translate::Snapshot& s, bool with_peers = true) {
  ProxyContent::Part part;
  if (const translate::PeerWorkloads* table = wire::snapshotPeerWorkloads(s); table && with_peers) {
    encodePeers(*table, part);
  }
  for (const auto& l : s.listeners) {
    put(part.listeners, l.name, wire::encodeListener(l));
    if (!l.routes) continue;
    for (const auto& vh : l.routes->virtual_hosts) {
      put(part.virtual_hosts, wire::virtualHostKey(l.name, vh.name),
          wire::encodeVirtualHost(l.name, vh));
    }
  }
  for (const auto& [name, cluster] : s.clusters)
    put(part.clusters, name, wire::encodeCluster(cluster));
  part.warnings = s.warnings;
  finishPart(part);
  return part;
}

}  // namespace

class ProxyContent::Shared {
 public:
  explicit Shared(Part part) : part_(std::move(part)) {}
  const Part& part() const { return part_; }

  // The resources and removed keys that move a proxy serving `base` (null: nothing) to this
  // part: computed once for all the sidecars that make the same move.
  std::shared_ptr<const v1::SnapshotPush> delta(const Shared* base) const {
    std::lock_guard lock(mu_);
    if (!base) {
      if (!whole_) whole_ = compute(nullptr);
      return whole_;
    }
    auto it = deltas_.find(base->part_.hash);
    if (it != deltas_.end()) return it->second;
    // A map this large means sidecars at many different bases; starting over is cheap.
    if (deltas_.size() >= kMaxCachedMessages) deltas_.clear();
    return deltas_[base->part_.hash] = compute(base);
  }

 private:
  std::shared_ptr<const v1::SnapshotPush> compute(const Shared* base) const {
    auto push = std::make_shared<v1::SnapshotPush>();
    diffParts(base ? &base->part_ : nullptr, &part_, push.get());
    return push;
  }

  const Part part_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<const v1::SnapshotPush> whole_;
  mutable std::map<uint64_t, std::shared_ptr<const v1::SnapshotPush>> deltas_;  // by base hash
};

std::shared_ptr<const ProxyContent> ProxyContent::fromSnapshot(const translate::Snapshot& s) {
  auto c = std::shared_ptr<ProxyContent>(new ProxyContent());
  c->own_ = encode(s);
  c->finish();
  return c;
}

std::shared_ptr<const ProxyContent::Shared> ProxyContent::share(const translate::Snapshot& s) {
  return std::make_shared<const Shared>(encode(s));
}

std::shared_ptr<const ProxyContent::Shared> ProxyContent::sharePeers(
    const translate::PeerWorkloads& table) {
  Part part;
  encodePeers(table, part);
  finishPart(part);
  return std::make_shared<const Shared>(std::move(part));
}

std::shared_ptr<const ProxyContent> ProxyContent::withShared(std::shared_ptr<const Shared> shared,
                                                             const translate::Snapshot& own,
                                                             std::shared_ptr<const Shared> peers) {
  auto c = std::shared_ptr<ProxyContent>(new ProxyContent());
  c->shared_ = std::move(shared);
  const bool uses_peers = wire::snapshotPeerWorkloads(own) != nullptr;
  if (uses_peers && peers) c->peers_ = std::move(peers);
  c->own_ = encode(own, !c->peers_);
  c->finish();
  return c;
}

std::shared_ptr<const ProxyContent> ProxyContent::fromErrors(std::vector<std::string> errors) {
  auto c = std::shared_ptr<ProxyContent>(new ProxyContent());
  c->errors_ = std::move(errors);
  c->finish();
  return c;
}

void ProxyContent::finish() {
  HashMix h;
  if (shared_) {
    h.mix("S", "", shared_->part().hash);
    warnings_ = shared_->part().warnings;
  }
  if (peers_) h.mix("P", "", peers_->part().hash);
  h.mixResources(own_);
  warnings_.insert(warnings_.end(), own_.warnings.begin(), own_.warnings.end());
  for (const auto& w : warnings_) h.mix("W", w, 0);
  for (const auto& e : errors_) h.mix("E", e, 0);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.value()));
  hash_ = buf;
}

std::shared_ptr<const v1::ControlMessage> ProxyContent::message(const ProxyContent* base,
                                                                uint64_t base_version,
                                                                uint64_t version) const {
  if (!base) base_version = 0;
  if (shared_) return build(base, base_version, version);
  auto key = std::make_tuple(base ? base->hash_ : std::string(), base_version, version);
  std::lock_guard lock(cache_mu_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto m = build(base, base_version, version);
  if (cache_.size() >= kMaxCachedMessages) cache_.clear();
  cache_.emplace(std::move(key), m);
  return m;
}

std::shared_ptr<const v1::ControlMessage> ProxyContent::build(const ProxyContent* base,
                                                              uint64_t base_version,
                                                              uint64_t version) const {
  auto m = std::make_shared<v1::ControlMessage>();
  if (failed()) {
    auto* e = m->mutable_error();
    e->set_version(version);
    for (const auto& text : errors_) e->add_errors(text);
    return m;
  }
  auto* push = m->mutable_push();
  // Each shared part moves on its own (a delta cached for all who make the same move); then the
  // own part. A key removed by one and added by another is applied in that order by the proxy
  // (removals first), so nothing is lost when a resource changes parts.
  auto moveShared = [&](const Shared* mine, const Shared* theirs) {
    if (mine && (!base || theirs != mine)) {
      push->MergeFrom(*mine->delta(theirs));
    } else if (!mine && theirs) {
      diffParts(&theirs->part(), nullptr, push);
    }
  };
  moveShared(shared_.get(), base ? base->shared_.get() : nullptr);
  moveShared(peers_.get(), base ? base->peers_.get() : nullptr);
  diffParts(base ? &base->own_ : nullptr, &own_, push);
  push->set_version(version);
  push->set_base_version(base_version);
  push->set_content_hash(hash_);
  if (!base || base->warnings_ != warnings_) {
    auto* w = push->mutable_warnings();
    for (const auto& text : warnings_) w->add_items(text);
  }
  return m;
}

v1::Resources ProxyContent::resources() const {
  v1::SnapshotPush all;
  if (shared_) all.MergeFrom(*shared_->delta(nullptr));
  if (peers_) all.MergeFrom(*peers_->delta(nullptr));
  diffParts(nullptr, &own_, &all);
  return std::move(*all.mutable_resources());
}

}  // namespace halyard::control
