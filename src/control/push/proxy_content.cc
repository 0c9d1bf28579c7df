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

}  // namespace

std::shared_ptr<const ProxyContent> ProxyContent::fromSnapshot(const translate::Snapshot& s) {
  auto c = std::shared_ptr<ProxyContent>(new ProxyContent());
  for (const auto& l : s.listeners) {
    put(c->listeners_, l.name, wire::encodeListener(l));
    if (!l.routes) continue;
    for (const auto& vh : l.routes->virtual_hosts) {
      put(c->virtual_hosts_, wire::virtualHostKey(l.name, vh.name),
          wire::encodeVirtualHost(l.name, vh));
    }
  }
  for (const auto& [name, cluster] : s.clusters)
    put(c->clusters_, name, wire::encodeCluster(cluster));
  c->warnings_ = s.warnings;
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
  uint64_t h = kFnvOffset;
  auto mix = [&h](std::string_view tag, std::string_view key, uint64_t value) {
    h = fnv(tag, h);
    h = fnv(key, h);
    h = fnv(std::string_view(reinterpret_cast<const char*>(&value), sizeof value), h);
  };
  for (const auto& [key, r] : listeners_) mix("L", key, r.hash);
  for (const auto& [key, r] : virtual_hosts_) mix("V", key, r.hash);
  for (const auto& [key, r] : clusters_) mix("C", key, r.hash);
  for (const auto& w : warnings_) mix("W", w, 0);
  for (const auto& e : errors_) mix("E", e, 0);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  hash_ = buf;
}

std::shared_ptr<const v1::ControlMessage> ProxyContent::message(const ProxyContent* base,
                                                                uint64_t base_version,
                                                                uint64_t version) const {
  if (!base) base_version = 0;
  auto key = std::make_tuple(base ? base->hash_ : std::string(), base_version, version);
  std::lock_guard lock(cache_mu_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;

  auto m = std::make_shared<v1::ControlMessage>();
  if (failed()) {
    auto* e = m->mutable_error();
    e->set_version(version);
    for (const auto& text : errors_) e->add_errors(text);
  } else {
    auto* push = m->mutable_push();
    push->set_version(version);
    push->set_base_version(base_version);
    push->set_content_hash(hash_);
    auto* res = push->mutable_resources();
    if (!base) {
      for (const auto& [key, r] : listeners_) *res->add_listeners() = r.message;
      for (const auto& [key, r] : virtual_hosts_) *res->add_virtual_hosts() = r.message;
      for (const auto& [key, r] : clusters_) *res->add_clusters() = r.message;
    } else {
      diff(
          base->listeners_, listeners_, [res] { return res->add_listeners(); },
          push->mutable_removed_listeners());
      diff(
          base->virtual_hosts_, virtual_hosts_, [res] { return res->add_virtual_hosts(); },
          push->mutable_removed_virtual_hosts());
      diff(
          base->clusters_, clusters_, [res] { return res->add_clusters(); },
          push->mutable_removed_clusters());
    }
    if (!base || base->warnings_ != warnings_) {
      auto* w = push->mutable_warnings();
      for (const auto& text : warnings_) w->add_items(text);
    }
  }
  if (cache_.size() >= kMaxCachedMessages) cache_.clear();
  cache_.emplace(std::move(key), m);
  return m;
}

v1::Resources ProxyContent::resources() const {
  v1::Resources out;
  for (const auto& [key, r] : listeners_) *out.add_listeners() = r.message;
  for (const auto& [key, r] : virtual_hosts_) *out.add_virtual_hosts() = r.message;
  for (const auto& [key, r] : clusters_) *out.add_clusters() = r.message;
  return out;
}

}  // namespace halyard::control
