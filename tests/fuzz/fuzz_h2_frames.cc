// Fuzzes the HTTP/2 sessions (framing, connection core, HPACK and the glue): arbitrary bytes
// (after a valid client preface, so that frames get parsed rather than rejected at once) into
// the server session, whose handler answers each request as the connection driver would (a
// head, a body pulled in pieces, trailers, resets), and the same bytes into a client session
// with one request open. Checks that the sessions never crash, that they never report a
// request for a stream they did not see open, and that whatever they send back is itself a
// sequence of well-formed frames.
//
// Input layout: byte 0 selects the answers (body or not, trailers, resets); the rest is fed
// to the sessions in pieces whose sizes come from byte 0 as well.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "fuzz_check.h"
#include "proxy/http/h2_client_session.h"
#include "proxy/http/h2_server_session.h"

namespace {

using namespace halyard::proxy::http;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Every frame header in `out` announces a length that fits (a client's output starts with the
// connection preface, which is not a frame).
void checkFrames(std::string_view out) {
  size_t i = out.starts_with(kPreface) ? kPreface.size() : 0;
  while (i + 9 <= out.size()) {
    const size_t length = (static_cast<uint8_t>(out[i]) << 16) |
                          (static_cast<uint8_t>(out[i + 1]) << 8) |
                          static_cast<uint8_t>(out[i + 2]);
    FUZZ_CHECK(length <= 16384 + 1024);
    i += 9 + length;
  }
}

struct Server final : H2ServerSession::Handler {
  uint8_t mode = 0;
  H2ServerSession* session = nullptr;
  std::map<int32_t, size_t> body_left;
  // Response heads sent from kept storage (as the connection driver sends them), dropped
  // when their stream closes: a head still queued then must never be read.
  std::map<int32_t, std::unique_ptr<FieldBlock>> kept;
  Fields trailer_fields{{"grpc-status", "0"}};

  void onRequest(int32_t id, H2RequestHead head, bool) override {
    FUZZ_CHECK(id > 0 && (id & 1) == 1);
    if (mode & 1) {
      session->reset(id, 8);
      return;
    }
    body_left[id] = head.path.size() * 100;
    if (mode & 0x40) {
      auto& fields = kept[id];
      fields = std::make_unique<FieldBlock>();
      fields->add("content-type", "text/plain");
      fields->add("x-request-id", head.path);
      session->respond(id, 200, *fields, (mode & 2) != 0,
                       H2ServerSession::FieldStorage::kKeptUntilStreamClose);
      return;
    }
    session->respond(id, 200, {{"content-type", "text/plain"}}, (mode & 2) != 0);
  }
  void onRequestData(int32_t id, std::span<const uint8_t> data) override {
    session->consume(id, data.size());
  }
  void onRequestEnd(int32_t) override {}
  void onStreamClose(int32_t id, uint32_t) override {
    body_left.erase(id);
    kept.erase(id);
  }
  long readBody(int32_t id, uint8_t* out, size_t max, bool& end) override {
    size_t& left = body_left[id];
    const size_t n = std::min(max, left);
    for (size_t i = 0; i < n; ++i) out[i] = 'x';
    left -= n;
    end = left == 0;
    return static_cast<long>(n);
  }
  const Fields* trailers(int32_t) override { return (mode & 4) ? &trailer_fields : nullptr; }
};

struct Client final : H2ClientSession::Handler {
  void onResponseHead(int32_t id, uint16_t status, FieldBlock&, bool) override {
    FUZZ_CHECK(id == 1 && status >= 200);
  }
  void onResponseData(int32_t, std::span<const uint8_t>) override {}
  void onResponseEnd(int32_t, Fields) override {}
  void onStreamClose(int32_t, uint32_t) override {}
  long readBody(int32_t, uint8_t* out, size_t max, bool& end) override {
    const size_t n = std::min<size_t>(max, 10);
    for (size_t i = 0; i < n; ++i) out[i] = 'y';
    end = true;
    return static_cast<long>(n);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::span<const uint8_t> input(data + 1, size - 1);
  const size_t piece = (mode >> 3) + 1;

  Server server;
  server.mode = mode;
  H2ServerSession session(server, H2Settings{});
  server.session = &session;
  std::string out;
  bool ok = session.receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPreface.data()), kPreface.size()));
  for (size_t i = 0; ok && i < input.size(); i += piece) {
    ok = session.receive(input.subspan(i, std::min(piece, input.size() - i)));
    out.clear();
    if (!session.send(out, 1 << 20)) break;
    checkFrames(out);
  }

  Client client;
  H2ClientSession cs(client);
  if (mode & 0x20) {
    // The request path's form: the codec keeps its own copy; the caller's block goes at once.
    auto fields = std::make_unique<FieldBlock>();
    fields->add(":method", "POST");
    fields->add(":authority", "a");
    fields->add(":path", "/");
    fields->add("x-request-id", "0123456789");
    FUZZ_CHECK(cs.request(*fields, "http", true) == 1);
  } else {
    FUZZ_CHECK(
        cs.request({{":method", "POST"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}},
                   true) == 1);
  }
  out.clear();
  cs.send(out, 1 << 20);
  checkFrames(out);
  // The server's SETTINGS first (a session refuses any other first frame), so that the
  // input's frames get parsed.
  static constexpr uint8_t kSettings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
  ok = cs.receive(std::span<const uint8_t>(kSettings, sizeof kSettings));
  FUZZ_CHECK(ok);
  for (size_t i = 0; ok && i < input.size(); i += piece) {
    ok = cs.receive(input.subspan(i, std::min(piece, input.size() - i)));
    out.clear();
    if (!cs.send(out, 1 << 20)) break;
    checkFrames(out);
  }
  return 0;
}
