// The proxy's stream client against a fake control plane (gRPC's own TLS server, so the client's
// TLS and HTTP/2 are checked against an implementation that shares nothing with them): the
// credential and CSR of the hello, the certificate handed over before the first push, rotation
// over the open stream, CertificateError and wrong-key retries, refusals, and TLS verification.
#include "wire/control_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "halyard/v1/discovery.grpc.pb.h"
#include "test_ca.h"

namespace halyard::wire {
namespace {

using namespace std::chrono_literals;
using testing::Cert;
using testing::csrKey;
using testing::newKey;
using testing::pemOf;
using testing::Pkey;
using testing::TestCa;
using testing::Validity;

constexpr const char* kSpiffe = "spiffe://cluster.local/ns/shop/sa/web";

template <class F>
bool waitFor(F condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A control plane that issues certificates from `ca` and pushes one empty snapshot per stream.
class FakeControlPlane final : public halyard::v1::Discovery::Service {
 public:
  explicit FakeControlPlane(
      const TestCa& ca, const std::string& server_sans = "DNS:istiod.istio-system.svc,IP:127.0.0.1")
      : ca_(ca), server_key_(newKey()) {
    Cert server_cert = ca_.issue(server_key_.get(), server_sans);
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({pemOf(server_key_.get()), pemOf(server_cert.get())});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeControlPlane() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // What the next answers to CSRs are, in order (then: issue, for an hour).
  enum class Answer { kIssue, kShortLived, kError, kWrongKey };
  void plan(std::vector<Answer> answers) {
    std::lock_guard lock(mu_);
    plan_.assign(answers.begin(), answers.end());
  }
  void refuse(grpc::StatusCode code, std::string message) {
    std::lock_guard lock(mu_);
    refuse_ = grpc::Status(code, std::move(message));
  }
  // Streams end right after their first certificate.
  void endStreamsAfterCertificate() {
    std::lock_guard lock(mu_);
    end_after_certificate_ = true;
  }

  int streams() {
    std::lock_guard lock(mu_);
    return streams_;
  }
  std::vector<v1::ProxyHello> hellos() {
    std::lock_guard lock(mu_);
    return hellos_;
  }
  std::vector<std::string> csrs() {
    std::lock_guard lock(mu_);
    return csrs_;
  }
  int acks() {
    std::lock_guard lock(mu_);
    return acks_;
  }

  grpc::Status Stream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::ControlMessage, v1::ProxyMessage>* stream) override {
    v1::ProxyMessage in;
    if (!stream->Read(&in) || !in.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a hello");
    }
    {
      std::lock_guard lock(mu_);
      ++streams_;
      hellos_.push_back(in.hello());
      if (!refuse_.ok()) return refuse_;
    }
    stream->Write(answerCsr(in.hello().csr()));
    if (ending()) return grpc::Status::OK;
    v1::ControlMessage push;
    push.mutable_push()->set_version(1);
    push.mutable_push()->mutable_warnings();
    stream->Write(push);
    while (stream->Read(&in)) {
      if (in.has_ack()) {
        std::lock_guard lock(mu_);
        ++acks_;
      }
      if (in.has_certificate_request()) stream->Write(answerCsr(in.certificate_request().csr()));
    }
    return grpc::Status::OK;
  }

 private:
  bool ending() {
    std::lock_guard lock(mu_);
    return end_after_certificate_;
  }

  v1::ControlMessage answerCsr(const std::string& csr) {
    Answer answer = Answer::kIssue;
    {
      std::lock_guard lock(mu_);
      csrs_.push_back(csr);
      if (!plan_.empty()) {
        answer = plan_.front();
        plan_.erase(plan_.begin());
      }
    }
    v1::ControlMessage out;
    Pkey key = csrKey(csr);
    if (!key) answer = Answer::kError;
    if (answer == Answer::kError) {
      out.mutable_certificate_error()->set_error("the CSR is not signed by its key");
      return out;
    }
    Pkey other = newKey();
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    Validity validity;
    // Four seconds, one of them gone: the client renews about a second from now.
    if (answer == Answer::kShortLived) validity = {now - 1, now + 3};
    Cert leaf = ca_.issue(answer == Answer::kWrongKey ? other.get() : key.get(),
                          std::string("URI:") + kSpiffe, validity);
    out.mutable_certificate()->set_spiffe_id(kSpiffe);
    out.mutable_certificate()->set_certificate_chain(pemOf(leaf.get()));
    out.mutable_certificate()->set_root_certificates(ca_.rootPem());
    return out;
  }

  const TestCa& ca_;
  Pkey server_key_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::vector<Answer> plan_;
  grpc::Status refuse_ = grpc::Status::OK;
  bool end_after_certificate_ = false;
  int streams_ = 0;
  std::vector<v1::ProxyHello> hellos_;
  std::vector<std::string> csrs_;
  int acks_ = 0;
};

class TempFile {
 public:
  TempFile() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "halyard-wire-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void write(const std::string& text) const { std::ofstream(path_) << text; }
  void remove() const { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The client as the proxy runs it, recording what it hands over, in order.
class Proxy {
 public:
  explicit Proxy(ControlClientOptions options) {
    options.hello.set_name("web-1");
    options.hello.set_namespace_("shop");
    options.hello.set_service_account("web");
    options.hello.set_role("sidecar");
    options.retry_delay = 20ms;
    options.max_retry_delay = 100ms;
    client_ = std::make_unique<ControlClient>(
        std::move(options),
        [this](std::shared_ptr<const translate::Snapshot>) -> common::Result<void, std::string> {
          std::lock_guard lock(mu_);
          events_.push_back("push");
          return common::Ok{};
        });
    client_->setOnCertificate([this](std::shared_ptr<const translate::WorkloadIdentity> id) {
      std::lock_guard lock(mu_);
      events_.push_back("certificate");
      certificates_.push_back(std::move(id));
    });
    client_->start();
  }
  ~Proxy() { client_->stop(); }

  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::shared_ptr<const translate::WorkloadIdentity>> certificates() {
    std::lock_guard lock(mu_);
    return certificates_;
  }
  ControlClient& client() { return *client_; }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<std::shared_ptr<const translate::WorkloadIdentity>> certificates_;
  std::unique_ptr<ControlClient> client_;
};

// The key a PEM private key and a CSR's public key are the same.
bool sameKey(const std::string& private_key_pem, const std::string& csr) {
  BIO* in = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  Pkey key(PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr));
  BIO_free(in);
  Pkey requested = csrKey(csr);
  return key && requested && EVP_PKEY_eq(key.get(), requested.get()) == 1;
}

class ControlClientTest : public ::testing::Test {
 protected:
  ControlClientOptions options(const FakeControlPlane& plane) {
    ControlClientOptions o;
    o.address = plane.address();
    roots_.write(ca_.rootPem());
    o.ca_file = roots_.path();
    token_.write("  header.payload.signature\n");
    o.token_file = token_.path();
    return o;
  }

  TestCa ca_;
  TempFile roots_;
  TempFile token_;
};

TEST_F(ControlClientTest, TheCertificateForTheHellosCsrArrivesBeforeTheFirstPush) {
  FakeControlPlane plane(ca_);
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return plane.acks() == 1; }));
  EXPECT_EQ(proxy.events(), (std::vector<std::string>{"certificate", "push"}));

  const v1::ProxyHello hello = plane.hellos().at(0);
  EXPECT_EQ(hello.credential(), "header.payload.signature");  // trimmed
  EXPECT_EQ(hello.name(), "web-1");
  const auto identity = proxy.certificates().at(0);
  EXPECT_EQ(identity->spiffe_id, kSpiffe);
  EXPECT_EQ(identity->root_certificates_pem, ca_.rootPem());
  EXPECT_GT(identity->not_after, identity->not_before);
  EXPECT_FALSE(identity->serial_hex.empty());
  EXPECT_TRUE(sameKey(identity->private_key_pem, hello.csr()));
  EXPECT_EQ(proxy.client().certificate(), identity);
  EXPECT_EQ(proxy.client().refusal(), "");
  EXPECT_EQ(proxy.client().lastError(), "");
}

TEST_F(ControlClientTest, ACertificateIsRenewedWithANewKeyAtHalfItsLifetimeOnTheSameStream) {
  FakeControlPlane plane(ca_);
  plane.plan({FakeControlPlane::Answer::kShortLived});
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 2; }, 6s));
  EXPECT_EQ(plane.streams(), 1);
  const auto csrs = plane.csrs();
  ASSERT_EQ(csrs.size(), 2u);
  const auto certificates = proxy.certificates();
  EXPECT_TRUE(sameKey(certificates[0]->private_key_pem, csrs[0]));
  EXPECT_TRUE(sameKey(certificates[1]->private_key_pem, csrs[1]));
  EXPECT_NE(certificates[0]->private_key_pem, certificates[1]->private_key_pem);
  EXPECT_EQ(proxy.client().certificate(), certificates[1]);
  // An hour-long one is not renewed within the next second.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(plane.csrs().size(), 2u);
}

TEST_F(ControlClientTest, ACertificateErrorIsAskedAgainWithANewKey) {
  FakeControlPlane plane(ca_);
  plane.plan({FakeControlPlane::Answer::kError});
  auto o = options(plane);
  o.certificate_retry_delay = 50ms;  // never under a second
  Proxy proxy(std::move(o));
  ASSERT_TRUE(waitFor([&] { return plane.acks() == 1; }));
  EXPECT_TRUE(proxy.certificates().empty());
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 1; }, 4s));
  EXPECT_GE(std::chrono::steady_clock::now() - asked, 800ms);
  EXPECT_EQ(plane.streams(), 1);
  const auto csrs = plane.csrs();
  ASSERT_EQ(csrs.size(), 2u);
  EXPECT_TRUE(sameKey(proxy.certificates()[0]->private_key_pem, csrs[1]));
}

TEST_F(ControlClientTest, ACertificateForAnotherKeyIsRefusedAndAskedAgain) {
  FakeControlPlane plane(ca_);
  plane.plan({FakeControlPlane::Answer::kWrongKey});
  auto o = options(plane);
  o.certificate_retry_delay = 50ms;
  Proxy proxy(std::move(o));
  ASSERT_TRUE(waitFor([&] { return plane.acks() == 1; }));
  EXPECT_TRUE(proxy.certificates().empty());
  EXPECT_EQ(proxy.client().certificate(), nullptr);
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 1; }, 4s));
  EXPECT_TRUE(sameKey(proxy.certificates()[0]->private_key_pem, plane.csrs().at(1)));
}

TEST_F(ControlClientTest, EachNewStreamAsksWithANewKey) {
  FakeControlPlane plane(ca_);
  plane.endStreamsAfterCertificate();
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() >= 2; }));
  const auto hellos = plane.hellos();
  ASSERT_GE(hellos.size(), 2u);
  EXPECT_NE(hellos[0].csr(), hellos[1].csr());
  EXPECT_FALSE(sameKey(proxy.certificates()[1]->private_key_pem, hellos[0].csr()));
}

TEST_F(ControlClientTest, ARefusalIsReportedAndRetried) {
  FakeControlPlane plane(ca_);
  plane.refuse(grpc::StatusCode::UNAUTHENTICATED, "the credential's signature does not verify");
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return plane.streams() >= 3; }));
  EXPECT_EQ(proxy.client().refusal(),
            "UNAUTHENTICATED: the credential's signature does not verify");
  EXPECT_EQ(proxy.client().lastError(), proxy.client().refusal());
  EXPECT_TRUE(proxy.certificates().empty());
  plane.refuse(grpc::StatusCode::OK, "");
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 1; }));
  EXPECT_EQ(proxy.client().refusal(), "");
}

TEST_F(ControlClientTest, AMissingTokenFileIsReportedAndReadAgainAtTheNextConnect) {
  FakeControlPlane plane(ca_);
  auto o = options(plane);
  token_.remove();
  Proxy proxy(std::move(o));
  ASSERT_TRUE(waitFor([&] { return !proxy.client().lastError().empty(); }));
  EXPECT_EQ(proxy.client().lastError(),
            "cannot read the token file " + token_.path() + ": No such file or directory");
  EXPECT_EQ(plane.streams(), 0);
  token_.write("later-token");
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 1; }));
  EXPECT_EQ(plane.hellos().at(0).credential(), "later-token");
}

TEST_F(ControlClientTest, AControlPlaneWithACertificateFromAnotherCaIsNotTrusted) {
  TestCa other("another root");
  FakeControlPlane plane(other);
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return !proxy.client().lastError().empty(); }));
  const std::string error = proxy.client().lastError();
  EXPECT_TRUE(error.starts_with("certificate verify failed: ")) << error;
  EXPECT_NE(error.find(roots_.path()), std::string::npos) << error;
  EXPECT_EQ(plane.streams(), 0);
}

TEST_F(ControlClientTest, TheControlPlanesCertificateMustNameTheServerName) {
  FakeControlPlane plane(ca_, "DNS:elsewhere.example.com");
  Proxy proxy(options(plane));
  ASSERT_TRUE(waitFor([&] { return !proxy.client().lastError().empty(); }));
  EXPECT_EQ(proxy.client().lastError(),
            "certificate verify failed: hostname mismatch (the certificate is not for "
            "istiod.istio-system.svc; see --control-server-name)");
  EXPECT_EQ(plane.streams(), 0);
}

TEST_F(ControlClientTest, AnIpServerNameIsCheckedAgainstTheIpSans) {
  FakeControlPlane plane(ca_);
  auto o = options(plane);
  o.server_name = "127.0.0.1";
  Proxy proxy(std::move(o));
  ASSERT_TRUE(waitFor([&] { return proxy.certificates().size() == 1; }));
}

TEST_F(ControlClientTest, AControlPlaneWithoutTlsIsAClearError) {
  // A plaintext gRPC server: the TLS handshake fails, and says so.
  grpc::ServerBuilder builder;
  int port = 0;
  halyard::v1::Discovery::Service plain;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&plain);
  auto server = builder.BuildAndStart();
  ControlClientOptions o;
  o.address = "127.0.0.1:" + std::to_string(port);
  o.ca_pem = ca_.rootPem();
  {
    Proxy proxy(std::move(o));
    ASSERT_TRUE(waitFor([&] { return !proxy.client().lastError().empty(); }));
    EXPECT_TRUE(proxy.client().lastError().starts_with("TLS handshake failed: "))
        << proxy.client().lastError();
  }
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

}  // namespace
}  // namespace halyard::wire
