// Kubernetes Secrets as TLS credentials (istio-semantics.md §2, §3.6): a Gateway server's
// credentialName and a DestinationRule's credentialName name a Secret in the namespace of the
// proxy that uses it (where Istio's gateway reads them), never the config object's own. Values
// are decoded here so the PEM text travels in the snapshot (PemSource::inline_pem).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model/config_set.h"
#include "translate/snapshot.h"

namespace halyard::translate {

class CredentialStore {
 public:
  // `proxy_namespace`: where the proxy's credentials live. The config must outlive the store.
  CredentialStore(const config::model::ConfigSet& config, std::string proxy_namespace);

  const std::string& proxyNamespace() const { return namespace_; }

  // The certificate chain and private key of Secret `name`: keys cert/key, else tls.crt/tls.key
  // (Istio's order). nullopt, with `why` saying what is missing, when neither pair is complete.
  std::optional<TlsCertificate> certificate(const std::string& name, std::string& why) const;

  // The CA bundle that goes with credential `name`: the Secret "<name>-cacert" when it exists,
  // else `name` itself (Istio's order); keys cacert, else ca.crt. `crl` receives the same
  // Secret's crl / ca.crl when it has one.
  std::optional<PemSource> caFor(const std::string& name, PemSource& crl, std::string& why) const;

  // A CA bundle named exactly (caCertCredentialName): a Secret, else a ConfigMap, with the same
  // keys as caFor.
  std::optional<PemSource> ca(const std::string& name, PemSource& crl, std::string& why) const;

  // Other namespaces holding a Secret called `name`: a hint for a credential looked up in the
  // wrong place.
  std::vector<std::string> elsewhere(const std::string& name) const;

 private:
  const config::model::Secret* secret(const std::string& name) const;

  std::string namespace_;
  std::map<std::pair<std::string, std::string>, const config::model::Secret*> secrets_;
  std::map<std::pair<std::string, std::string>, const config::model::ConfigMap*> config_maps_;
};

}  // namespace halyard::translate
