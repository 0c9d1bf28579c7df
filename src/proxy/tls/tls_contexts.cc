#include "proxy/tls/tls_contexts.h"

namespace halyard::proxy::tls {

namespace {

namespace tr = halyard::translate;

tr::PemSource inlinePem(const std::string& text, std::string origin) {
  return tr::PemSource{text, "", std::move(origin)};
}

tr::TlsCertificate workloadCertificate(const tr::WorkloadIdentity& identity) {
  return tr::TlsCertificate{inlinePem(identity.certificate_chain_pem,
                                      "the workload certificate of " + identity.spiffe_id),
                            inlinePem(identity.private_key_pem, "the workload key")};
}

// A sidecar's inbound listener as a TLS server, as Istio's inbound mTLS filter chain: it presents
// the workload certificate and requires a client certificate that chains to the mesh roots. Any
// identity of the mesh is accepted here; who may do what is authorization's business.
tr::ServerTls inboundServer(const tr::WorkloadIdentity& identity) {
  tr::ServerTls server;
  server.mode = tr::ServerTls::Mode::kMutual;
  server.sni_hosts = {"*"};
  server.certificates.push_back(workloadCertificate(identity));
  server.client_ca = inlinePem(identity.root_certificates_pem, "the mesh root certificates");
  server.origin = "mesh mTLS";
  return server;
}

// Istio mutual TLS to a cluster: the workload certificate as client certificate, the mesh roots
// as the only trust.
tr::UpstreamTls meshClient(const tr::UpstreamTls& settings, const tr::WorkloadIdentity& identity) {
  tr::UpstreamTls client = settings;
  client.ca = inlinePem(identity.root_certificates_pem, "the mesh root certificates");
  client.client_certificate = workloadCertificate(identity);
  return client;
}

// A gateway listener's servers, those with tls.mode ISTIO_MUTUAL given the proxy's workload
// certificate and the mesh roots, as Istio's gateway serves them (the same credentials as the
// sidecar inbound above). Without an identity yet they are left out, with the reason.
std::vector<tr::ServerTls> withMeshIdentity(const tr::Listener& listener,
                                            const tr::WorkloadIdentity* identity,
                                            std::vector<std::string>& errors) {
  std::vector<tr::ServerTls> servers;
  servers.reserve(listener.tls.size());
  for (const auto& server : listener.tls) {
    if (server.mode != tr::ServerTls::Mode::kIstioMutual) {
      servers.push_back(server);
      continue;
    }
    if (!identity) {
      errors.push_back("listener " + listener.name + ": " + server.origin +
                       " has tls.mode ISTIO_MUTUAL but the proxy has no workload certificate yet; "
                       "its handshakes are refused until the control plane issues one");
      continue;
    }
    tr::ServerTls mesh = server;
    mesh.certificates = {workloadCertificate(*identity)};
    mesh.client_ca = inlinePem(identity->root_certificates_pem, "the mesh root certificates");
    servers.push_back(std::move(mesh));
  }
  return servers;
}

}  // namespace

std::shared_ptr<const TlsContexts> TlsContexts::build(const translate::Snapshot& snapshot,
                                                      const translate::WorkloadIdentity* identity,
                                                      std::vector<std::string>& errors) {
  auto self = std::make_shared<TlsContexts>();
  if (identity) self->spiffe_id_ = identity->spiffe_id;
  PemLoader loader;
  for (const auto& listener : snapshot.listeners) {
    if (listener.kind == tr::ListenerKind::kInbound) {
      if (listener.mtls.mode == tr::PeerAuthMode::kDisable) continue;
      if (!identity) {
        // PERMISSIVE still serves plaintext meanwhile; STRICT serves nobody.
        if (listener.mtls.mode == tr::PeerAuthMode::kStrict) {
          errors.push_back("listener " + listener.name +
                           ": mutual TLS is STRICT but the proxy has no workload certificate "
                           "yet; connections are refused until it has one");
        }
        continue;
      }
      self->listeners_.emplace(
          listener.name,
          ListenerTls::build(listener.name, {inboundServer(*identity)}, loader, errors));
      continue;
    }
    if (listener.tls.empty()) continue;
    self->listeners_.emplace(
        listener.name,
        ListenerTls::build(listener.name, withMeshIdentity(listener, identity, errors), loader,
                           errors, listener.protocol != "TCP"));
  }
  for (const auto& [name, cluster] : snapshot.clusters) {
    if (!cluster.tls) continue;
    const bool mesh = cluster.tls->mode == tr::UpstreamTls::Mode::kIstioMutual;
    if (mesh && !identity) {
      const std::string why =
          "Istio mutual TLS needs the proxy's workload certificate, which the control plane has "
          "not issued (or the proxy runs without a control plane)";
      if (!cluster.auto_mtls) errors.push_back("cluster " + name + ": " + why);
      self->cluster_errors_.emplace(name, why);
      continue;
    }
    auto built =
        ClientContext::build(mesh ? meshClient(*cluster.tls, *identity) : *cluster.tls, loader);
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
