#include "translate/credentials.h"

#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// Istio's suffix for the Secret holding a credential's CA bundle.
constexpr std::string_view kCaSuffix = "-cacert";

// One key of a Secret or ConfigMap, decoded. Empty values count as absent, as Istio's hasValue.
struct Value {
  std::string text;
  bool malformed = false;  // present in `data` but not base64
  bool present() const { return !text.empty(); }
};

Value secretValue(const model::Secret& secret, const std::string& key) {
  // The API server merges stringData over data; files given to us may still carry both.
  if (auto it = secret.string_data.find(key); it != secret.string_data.end()) {
    return Value{it->second};
  }
  if (auto it = secret.data.find(key); it != secret.data.end()) {
    if (auto decoded = decodeBase64(it->second)) return Value{std::move(*decoded)};
    return Value{{}, true};
  }
  return {};
}

Value configMapValue(const model::ConfigMap& map, const std::string& key) {
  if (auto it = map.data.find(key); it != map.data.end()) return Value{it->second};
  return {};
}

std::string secretRef(const std::string& ns, const std::string& name) {
  return "Secret " + ns + "/" + name;
}

PemSource pem(std::string text, const std::string& kind, const std::string& ns,
              const std::string& name, const std::string& key) {
  PemSource p;
  p.inline_pem = std::move(text);
  p.origin = kind + " " + ns + "/" + name + " " + key;
  return p;
}

// " (tls.crt is not base64)" when a key we looked at was malformed.
std::string malformedNote(const std::vector<std::pair<std::string, Value>>& looked_at) {
  std::string out;
  for (const auto& [key, v] : looked_at) {
    if (v.malformed) out += (out.empty() ? " (" : ", ") + key + " is not valid base64";
  }
  return out.empty() ? out : out + ")";
}

// The CA (cacert, else ca.crt) and CRL (crl, else ca.crl) of one object; `get` reads a key.
template <typename Get>
std::optional<PemSource> caOf(Get get, const std::string& kind, const std::string& ns,
                              const std::string& name, PemSource& crl, std::string& why) {
  Value generic = get("cacert");
  Value tls = get("ca.crt");
  if (generic.present() || tls.present()) {
    const bool use_generic = generic.present();
    const std::string crl_key = use_generic ? "crl" : "ca.crl";
    if (Value c = get(crl_key); c.present()) crl = pem(std::move(c.text), kind, ns, name, crl_key);
    return use_generic ? pem(std::move(generic.text), kind, ns, name, "cacert")
                       : pem(std::move(tls.text), kind, ns, name, "ca.crt");
  }
  why = std::string(kind == "secret" ? "Secret " : "ConfigMap ") + ns + "/" + name +
        " has no CA certificate (key cacert or ca.crt)" +
        malformedNote({{"cacert", generic}, {"ca.crt", tls}});
  return std::nullopt;
}

}  // namespace

CredentialStore::CredentialStore(const model::ConfigSet& config, std::string proxy_namespace)
    : namespace_(std::move(proxy_namespace)) {
  for (const auto& s : config.secrets) {
    secrets_.try_emplace({namespaceOf(s.meta), s.meta.name}, &s);
  }
  for (const auto& m : config.config_maps) {
    config_maps_.try_emplace({namespaceOf(m.meta), m.meta.name}, &m);
  }
}

const model::Secret* CredentialStore::secret(const std::string& name) const {
  auto it = secrets_.find({namespace_, name});
  return it == secrets_.end() ? nullptr : it->second;
}

std::optional<TlsCertificate> CredentialStore::certificate(const std::string& name,
                                                           std::string& why) const {
  const model::Secret* s = secret(name);
  if (!s) {
    why = secretRef(namespace_, name) + " does not exist";
    return std::nullopt;
  }
  const std::pair<const char*, const char*> pairs[] = {{"cert", "key"}, {"tls.crt", "tls.key"}};
  std::vector<std::pair<std::string, Value>> looked_at;
  for (const auto& [cert_key, key_key] : pairs) {
    Value cert = secretValue(*s, cert_key);
    Value key = secretValue(*s, key_key);
    if (cert.present() && key.present()) {
      TlsCertificate out;
      out.certificate_chain = pem(std::move(cert.text), "secret", namespace_, name, cert_key);
      out.private_key = pem(std::move(key.text), "secret", namespace_, name, key_key);
      return out;
    }
    looked_at.emplace_back(cert_key, std::move(cert));
    looked_at.emplace_back(key_key, std::move(key));
  }
  why = secretRef(namespace_, name) + " has no non-empty cert and key (or tls.crt and tls.key)" +
        malformedNote(looked_at);
  return std::nullopt;
}

std::optional<PemSource> CredentialStore::caFor(const std::string& name, PemSource& crl,
                                                std::string& why) const {
  const std::string ca_name = name + std::string(kCaSuffix);
  const model::Secret* s = secret(ca_name);
  const std::string& used = s ? ca_name : name;
  if (!s) s = secret(name);
  if (!s) {
    why = "neither " + secretRef(namespace_, ca_name) + " nor " + secretRef(namespace_, name) +
          " exists";
    return std::nullopt;
  }
  auto get = [s](const std::string& key) { return secretValue(*s, key); };
  auto ca = caOf(get, "secret", namespace_, used, crl, why);
  if (!ca && &used == &name) why = "there is no " + secretRef(namespace_, ca_name) + ", and " + why;
  return ca;
}

std::optional<PemSource> CredentialStore::ca(const std::string& name, PemSource& crl,
                                             std::string& why) const {
  if (const model::Secret* s = secret(name)) {
    auto get = [s](const std::string& key) { return secretValue(*s, key); };
    return caOf(get, "secret", namespace_, name, crl, why);
  }
  if (auto it = config_maps_.find({namespace_, name}); it != config_maps_.end()) {
    const model::ConfigMap* m = it->second;
    auto get = [m](const std::string& key) { return configMapValue(*m, key); };
    return caOf(get, "configmap", namespace_, name, crl, why);
  }
  why = "neither " + secretRef(namespace_, name) + " nor ConfigMap " + namespace_ + "/" + name +
        " exists";
  return std::nullopt;
}

std::vector<std::string> CredentialStore::elsewhere(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [key, s] : secrets_) {
    if (key.second == name && key.first != namespace_) out.push_back(key.first);
  }
  return out;
}

}  // namespace halyard::translate
