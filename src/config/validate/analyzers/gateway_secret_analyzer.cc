// gateway.SecretAnalyzer: every credentialName of a Gateway's TLS servers must name a Secret in
// the namespace of the gateway's pods (that is where the gateway proxy reads it; IST0101), and the
// Secret must hold a usable certificate and key (IST0161): keys tls.crt/tls.key or cert/key,
// non-empty, the certificate a PEM X.509 certificate valid now.
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/validate/analyzers/networking_analyzers.h"
#include "config/validate/analyzers/networking_support.h"

namespace halyard::config {

namespace {

// The 6-bit value of a base64 character, or -1.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes standard base64 (as Secret `data` holds it; line breaks allowed); nullopt when
// malformed.
std::optional<std::string> decodeBase64(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padded = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (c == '=') {
      padded = true;
      continue;
    }
    const int v = sextet(c);
    if (v < 0 || padded) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The decoded value of a Secret key (`data` is base64, `stringData` plain), or "".
std::string secretValue(const model::Secret& secret, const std::string& key) {
  if (auto it = secret.string_data.find(key); it != secret.string_data.end()) return it->second;
  if (auto it = secret.data.find(key); it != secret.data.end()) {
    return decodeBase64(it->second).value_or("");
  }
  return {};
}

// Why the Secret cannot serve as a gateway certificate, or "" when it can.
std::string credentialProblem(const model::Secret& secret) {
  std::string cert = secretValue(secret, "tls.crt");
  std::string key = secretValue(secret, "tls.key");
  if (cert.empty() || key.empty()) {
    cert = secretValue(secret, "cert");
    key = secretValue(secret, "key");
  }
  if (cert.empty() || key.empty()) {
    return "it has no non-empty tls.crt and tls.key (or cert and key) entries";
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!x509) return "its certificate is not a PEM-encoded X.509 certificate";
  if (X509_cmp_current_time(X509_get0_notAfter(x509.get())) < 0) {
    return "its certificate has expired";
  }
  if (X509_cmp_current_time(X509_get0_notBefore(x509.get())) > 0) {
    return "its certificate is not valid yet";
  }
  return {};
}

const model::Secret* findSecret(const model::ConfigSet& config, const std::string& ns,
                                const std::string& name) {
  for (const auto& s : config.secrets) {
    if (s.meta.name == name && AnalysisContext::namespaceOf(s.meta) == ns) return &s;
  }
  return nullptr;
}

class SecretAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "gateway.SecretAnalyzer"; }

  void analyze(const AnalysisContext& ctx, Diagnostics& out) const override {
    for (const auto& gw : ctx.config().gateways) {
      auto pods = networking::podsSelectedBy(ctx.config(), gw.spec.selector);
      if (pods.empty()) {
        networking::reportGatewayWithoutPods(ctx, gw, out);
        continue;
      }
      // The gateway's pods are expected in one namespace; the first one decides, as in Istio.
      const std::string& pod_ns = AnalysisContext::namespaceOf(pods.front()->meta);
      for (size_t i = 0; i < gw.spec.servers.size(); ++i) {
        const auto& tls = gw.spec.servers[i].tls;
        if (!tls) continue;
        const std::string base = "spec.servers[" + std::to_string(i) + "].tls.";
        if (!tls->credential_name.value_or("").empty()) {
          check(ctx, gw, pod_ns, *tls->credential_name, base + "credentialName", out);
        }
        for (size_t j = 0; j < tls->credential_names.size(); ++j) {
          check(ctx, gw, pod_ns, tls->credential_names[j],
                base + "credentialNames[" + std::to_string(j) + "]", out);
        }
      }
    }
  }

 private:
  static void check(const AnalysisContext& ctx, const model::Gateway& gw, const std::string& pod_ns,
                    const std::string& credential, const std::string& path, Diagnostics& out) {
    const model::Secret* secret = findSecret(ctx.config(), pod_ns, credential);
    if (!secret) {
      ctx.report(out, msg::kReferencedResourceNotFound, gw.meta, path,
                 "Referenced credentialName not found: \"" + credential +
                     "\" (looked for a Secret in namespace \"" + pod_ns +
                     "\", where the gateway's pods run)");
      return;
    }
    if (std::string problem = credentialProblem(*secret); !problem.empty()) {
      ctx.report(out, msg::kInvalidGatewayCredential, gw.meta, path,
                 "Secret \"" + pod_ns + "/" + credential +
                     "\" is not a valid gateway credential: " + problem);
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> makeGatewaySecretAnalyzer() {
  return std::make_unique<SecretAnalyzer>();
}

}  // namespace halyard::config
