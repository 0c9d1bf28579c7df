#include "control/serving_tls.h"

#include <arpa/inet.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "control/ca/openssl_util.h"

namespace halyard::control {

namespace {

// How often gRPC re-reads the file: a tenth of the lifetime, between 1 s and a minute. A renewal
// lands at half-life, so the new certificate serves long before the old one expires.
unsigned int refreshSeconds(std::chrono::seconds ttl) {
  return static_cast<unsigned int>(std::clamp<int64_t>(ttl.count() / 10, 1, 60));
}

constexpr auto kRetryAfterFailure = std::chrono::seconds(30);
constexpr auto kMinRenewInterval = std::chrono::seconds(1);

}  // namespace

ServingTls::ServingTls(const ca::CertificateAuthority& ca, ca::ServingNames names,
                       std::chrono::seconds ttl)
    : ca_(ca), names_(std::move(names)), ttl_(ttl) {}

ServingTls::~ServingTls() {
  stop();
}

ca::ServingNames ServingTls::namesFor(const std::string& listen, const std::string& trust_domain) {
  ca::ServingNames names;
  names.dns = {"istiod.istio-system.svc", "localhost"};
  names.ips = {"127.0.0.1"};
  names.uris = {"spiffe://" + trust_domain + "/ns/istio-system/sa/istiod"};
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "::") return names;  // every address
  unsigned char buf[sizeof(struct in6_addr)];
  const bool ip =
      inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
  auto& list = ip ? names.ips : names.dns;
  if (std::find(list.begin(), list.end(), host) == list.end()) list.push_back(host);
  return names;
}

common::Expected<std::shared_ptr<grpc::ServerCredentials>> ServingTls::start() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "halyard-control-tls-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot make a directory for the serving "
                        "certificate in " +
                            std::filesystem::temp_directory_path().string() + ": " +
                            std::strerror(errno));
  }
  dir_ = tmpl;
  pem_path_ = dir_ + "/serving.pem";
  if (auto renewed = renew(); !renewed) return common::unexpected(renewed.error());

  // The same file for the key and the chain: the key comes first in it, and each reader skips
  // the PEM blocks that are not what it reads.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      pem_path_, pem_path_, refreshSeconds(ttl_));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  // Proxies authenticate with their credential in the hello (they have no certificate yet).
  options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  auto credentials = grpc::experimental::TlsServerCredentials(options);
  if (!credentials) {
    return common::fail(common::ErrorKind::kInternal, "cannot make the TLS server credentials");
  }
  thread_ = std::thread([this] { run(); });
  return credentials;
}

common::Expected<void> ServingTls::renew() {
  auto serving = ca_.issueServing(names_, ttl_);
  if (!serving) return common::unexpected(serving.error());
  auto written = ca::writeFileAtomically(
      pem_path_, serving->private_key_pem + serving->certificate.chain_pem, 0600);
  if (!written) return written;
  // Half of the lifetime from now: notBefore is a minute back (clock skew), so half of
  // notAfter - notBefore would come early, or at once for lifetimes under two minutes.
  const auto now = std::chrono::system_clock::now();
  const auto not_after = std::chrono::system_clock::from_time_t(serving->certificate.not_after);
  {
    std::lock_guard lock(mu_);
    renew_at_ = now + std::max<std::chrono::system_clock::duration>((not_after - now) / 2,
                                                                    kMinRenewInterval);
  }
  HLOG_INFO("control plane TLS certificate {} valid until {}", serving->certificate.serial_hex,
            ca::rfc3339(serving->certificate.not_after));
  return common::Ok{};
}

void ServingTls::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (cv_.wait_until(lock, renew_at_, [this] { return stopping_; })) return;
    lock.unlock();
    auto renewed = renew();
    lock.lock();
    if (!renewed) {
      HLOG_ERROR("cannot renew the control plane's TLS certificate: {}; trying again in {} s",
                 renewed.error().message, kRetryAfterFailure.count());
      renew_at_ = std::chrono::system_clock::now() + kRetryAfterFailure;
    }
  }
}

void ServingTls::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace halyard::control
