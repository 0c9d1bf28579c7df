#include "proxy/tls/tls_contexts.h"

namespace halyard::proxy::tls {

std::shared_ptr<const TlsContexts> TlsContexts::build(const translate::Snapshot& snapshot,
                                                      std::vector<std::string>& errors) {
  auto self = std::make_shared<TlsContexts>();
  PemLoader loader;
  for (const auto& listener : snapshot.listeners) {
    if (listener.tls.empty()) continue;
    self->listeners_.emplace(listener.name, ListenerTls::build(listener, loader, errors));
  }
  for (const auto& [name, cluster] : snapshot.clusters) {
    if (!cluster.tls) continue;
    auto built = ClientContext::build(*cluster.tls, loader);
    if (!built) {
      errors.push_back("cluster " + name + ": " + built.error().message);
      self->cluster_errors_.emplace(name, built.error().message);
      continue;
    }
    self->clusters_.emplace(name, std::move(*built));
  }
  self->files_ = loader.files();
  return self;
}

const ListenerTls* TlsContexts::listener(std::string_view name) const {
  const auto it = listeners_.find(std::string(name));
  return it == listeners_.end() ? nullptr : it->second.get();
}

const ClientContext* TlsContexts::cluster(std::string_view name) const {
  const auto it = clusters_.find(std::string(name));
  return it == clusters_.end() ? nullptr : it->second.get();
}

std::string_view TlsContexts::clusterError(std::string_view name) const {
  const auto it = cluster_errors_.find(std::string(name));
  return it == cluster_errors_.end() ? std::string_view() : std::string_view(it->second);
}

bool TlsContexts::filesChanged() const {
  for (const auto& f : files_) {
    if (!(stampOf(f.path) == f)) return true;
  }
  return false;
}

}  // namespace halyard::proxy::tls
