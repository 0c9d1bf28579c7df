#include "proxy/tls/client_hello.h"

#include <algorithm>
#include <cstdint>

#include "proxy/tls/server_name.h"

namespace halyard::proxy::tls {

namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr uint16_t kServerNameExtension = 0;

// A bounds-checked reader over one span.
class Reader {
 public:
  explicit Reader(std::span<const unsigned char> bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  size_t left() const { return bytes_.size() - pos_; }
  uint32_t number(size_t width) {
    if (!ok_ || left() < width) {
      ok_ = false;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | bytes_[pos_++];
    return v;
  }
  std::span<const unsigned char> take(size_t n) {
    if (!ok_ || left() < n) {
      ok_ = false;
      return {};
    }
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // A vector with a `width`-byte length prefix.
  std::span<const unsigned char> vector(size_t width) { return take(number(width)); }

 private:
  std::span<const unsigned char> bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

ClientHelloSni readClientHelloSni(std::span<const unsigned char> bytes) {
  using Status = ClientHelloSni::Status;
  ClientHelloSni out;
  // The record header: content type, legacy version (major 3), length.
  if (!bytes.empty() && bytes[0] != kHandshakeRecord) return {Status::kNotTls, std::nullopt};
  if (bytes.size() >= 2 && bytes[1] != 3) return {Status::kNotTls, std::nullopt};
  if (bytes.size() < 5) return out;
  const size_t record_length = (size_t{bytes[3]} << 8) | bytes[4];
  if (record_length == 0 || 5 + record_length > kMaxClientHelloBytes) {
    return {Status::kNotTls, std::nullopt};
  }
  if (bytes.size() < 5 + record_length) return out;

  Reader record(bytes.subspan(5, record_length));
  if (record.number(1) != kClientHello) return {Status::kNotTls, std::nullopt};
  const size_t hello_length = record.number(3);
  // A ClientHello split over several records is legal but rare; only the first one is read,
  // so its extensions may be cut off. It has then no SNI as far as routing is concerned.
  Reader hello(record.take(std::min(hello_length, record.left())));
  const bool whole = hello_length <= record_length - 4;
  hello.number(2);  // legacy_version
  hello.take(32);   // random
  hello.vector(1);  // legacy_session_id
  hello.vector(2);  // cipher_suites
  hello.vector(1);  // legacy_compression_methods
  if (!hello.ok()) return {whole ? Status::kNotTls : Status::kComplete, std::nullopt};
  out.status = Status::kComplete;
  if (hello.left() == 0) return out;  // no extensions at all
  Reader extensions(hello.vector(2));
  if (!hello.ok()) return whole ? ClientHelloSni{Status::kNotTls, std::nullopt} : out;
  while (extensions.ok() && extensions.left() > 0) {
    const uint32_t type = extensions.number(2);
    std::span<const unsigned char> data = extensions.vector(2);
    if (!extensions.ok()) break;
    if (type == kServerNameExtension) {
      out.sni = parseServerNameExtension(data);
      // A malformed server_name makes the whole hello malformed, as for a terminating server.
      if (!out.sni) return {Status::kNotTls, std::nullopt};
      return out;
    }
  }
  if (!extensions.ok() && whole) return {Status::kNotTls, std::nullopt};
  return out;
}

}  // namespace halyard::proxy::tls
