// The ClientHello walker TLS passthrough routes with: a real ClientHello (built by OpenSSL) at
// every length, records that are not TLS, and hellos without SNI.
#include "proxy/tls/client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace halyard::proxy::tls {
namespace {

using Status = ClientHelloSni::Status;

// The first flight of an OpenSSL client that sends `sni` (none when empty).
std::vector<unsigned char> clientHello(const std::string& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_connect(ssl);  // wants to read the ServerHello; the ClientHello is in wbio
  std::vector<unsigned char> out(BIO_ctrl_pending(wbio));
  BIO_read(wbio, out.data(), static_cast<int>(out.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

ClientHelloSni read(const std::vector<unsigned char>& bytes, size_t n) {
  return readClientHelloSni(std::span(bytes.data(), n));
}

TEST(ClientHelloTest, FindsTheServerNameOnceTheRecordIsWhole) {
  const auto hello = clientHello("Shop.Example.com");
  ASSERT_GT(hello.size(), 5u);
  for (size_t n = 0; n < hello.size(); ++n) {
    EXPECT_EQ(read(hello, n).status, Status::kNeedMore) << n;
  }
  const ClientHelloSni whole = read(hello, hello.size());
  EXPECT_EQ(whole.status, Status::kComplete);
  EXPECT_EQ(whole.sni, "shop.example.com");
}

TEST(ClientHelloTest, AHelloWithoutServerNameIsCompleteWithoutOne) {
  const auto hello = clientHello("");
  const ClientHelloSni r = read(hello, hello.size());
  EXPECT_EQ(r.status, Status::kComplete);
  EXPECT_FALSE(r.sni.has_value());
}

TEST(ClientHelloTest, OtherBytesAreNotTls) {
  const std::string http = "GET / HTTP/1.1\r\n";
  EXPECT_EQ(readClientHelloSni(
                std::span(reinterpret_cast<const unsigned char*>(http.data()), http.size()))
                .status,
            Status::kNotTls);
  // A handshake record that is not a ClientHello (a ServerHello, type 2).
  const std::vector<unsigned char> server_hello = {0x16, 0x03, 0x03, 0x00, 0x04,
                                                   0x02, 0x00, 0x00, 0x00};
  EXPECT_EQ(read(server_hello, server_hello.size()).status, Status::kNotTls);
  // A record longer than TLS allows.
  const std::vector<unsigned char> huge = {0x16, 0x03, 0x01, 0xff, 0xff};
  EXPECT_EQ(read(huge, huge.size()).status, Status::kNotTls);
}

TEST(ClientHelloTest, CorruptedLengthsNeverReadOutOfBounds) {
  const auto hello = clientHello("a.example.com");
  for (size_t i = 5; i < hello.size(); ++i) {
    auto copy = hello;
    copy[i] ^= 0xff;
    (void)read(copy, copy.size());  // any status; ASan and the bounds checks do the rest
  }
}

}  // namespace
}  // namespace halyard::proxy::tls
