// The byte-moving half every nghttp2 session of ours shares (server and client alike): bytes in
// through nghttp2_session_mem_recv, frames out through nghttp2_session_mem_send. Sessions do no
// I/O themselves; their drivers move these bytes over the transport.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace halyard::proxy::http {

// Room reserved up front for a message's header fields: most messages carry fewer, so their list
// is allocated once instead of growing through 1, 2, 4 and 8.
inline constexpr size_t kTypicalFields = 16;
// And for their names and values, when they are kept in one buffer (http::FieldBlock).
inline constexpr size_t kTypicalFieldBytes = 512;

// Feeds `bytes` to `session`; false with nghttp2's sentence in `error` when they break the
// protocol (the connection is then to be closed).
bool h2Receive(nghttp2_session* session, std::span<const uint8_t> bytes, std::string& error);

// Appends what `session` has to send to `out` until it has nothing more or `out` holds `max`
// bytes; false with the sentence in `error` on a session failure.
bool h2Send(nghttp2_session* session, std::string& out, size_t max, std::string& error);

// Whether a field's value is new in every message (x-request-id, trace and span ids, upstream
// timings).
constexpr bool newInEveryMessage(std::string_view name) {
  switch (name.size()) {
    case 2:
      return name == "b3";
    case 11:
      return name == "traceparent" || name == "x-b3-spanid";
    case 12:
      return name == "x-request-id" || name == "x-b3-traceid";
    case 17:
      return name == "x-b3-parentspanid";
    case 29:
      return name == "x-envoy-upstream-service-time";
    default:
      return false;
  }
}

// How a head's fields go to nghttp2.
struct H2FieldMode {
  // The names (lowercase) and values stay where they are until nghttp2 has packed the frame or
  // dropped it, so nghttp2 takes them by reference (NO_COPY_NAME | NO_COPY_VALUE) instead of
  // copying and lowercasing each, about 2k instructions per proxied request for both heads.
  // Otherwise nghttp2 copies them (views into temporaries will do).
  bool kept = false;
  // This head enters even the fields new in every message into the HPACK dynamic table (see
  // h2Field): one head in kSeedEvery of a session.
  bool seed = false;
};

// One head in this many of a session seeds the dynamic table with the names of the fields new
// in every message.
inline constexpr uint32_t kSeedEvery = 32;

// A field for nghttp2. A field whose value is new in every message is sent without indexing:
// entered into the HPACK dynamic table, its value could never be referred to again and would
// only push out entries that could, and the deflater's table search and eviction for it took
// about a tenth of the proxy's instructions per HTTP/2 request. Its name, though, is in no
// static table: unless some entry of the dynamic table has it, nghttp2 Huffman-codes the name
// in every message (x-envoy-upstream-service-time, 29 characters, on every response). So one
// head in kSeedEvery enters these fields as any other (mode.seed), and the heads between refer
// to that entry for the name and send only the value.
inline nghttp2_nv h2Field(std::string_view name, std::string_view value, H2FieldMode mode = {}) {
  uint8_t flags = NGHTTP2_NV_FLAG_NONE;
  if (!mode.seed && newInEveryMessage(name)) flags |= NGHTTP2_NV_FLAG_NO_INDEX;
  if (mode.kept) flags |= NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), flags};
}

// ":status"'s value for `status` (three digits) in storage that lives as long as the program (a
// kept field); empty outside 100-999.
std::string_view h2StatusText(uint16_t status);

}  // namespace halyard::proxy::http
