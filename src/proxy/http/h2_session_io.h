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

// Feeds `bytes` to `session`; false with nghttp2's sentence in `error` when they break the
// protocol (the connection is then to be closed).
bool h2Receive(nghttp2_session* session, std::span<const uint8_t> bytes, std::string& error);

// Appends what `session` has to send to `out` until it has nothing more or `out` holds `max`
// bytes; false with the sentence in `error` on a session failure.
bool h2Send(nghttp2_session* session, std::string& out, size_t max, std::string& error);

// A field for nghttp2. A field whose value is new in every message (x-request-id, trace and span
// ids, upstream timings) is sent without indexing: entered into the HPACK dynamic table, it could
// never be referred to again and would only push out entries that could, and the deflater's table
// search and eviction for it took about a tenth of the proxy's instructions per HTTP/2 request.
//
// `kept`: the name (lowercase) and value stay where they are until nghttp2 has packed the frame
// or dropped it, so nghttp2 takes them by reference (NO_COPY_NAME | NO_COPY_VALUE) instead of
// copying and lowercasing each, about 2k instructions per proxied request for both heads.
// Otherwise nghttp2 copies them (views into temporaries will do).
nghttp2_nv h2Field(std::string_view name, std::string_view value, bool kept = false);

// ":status"'s value for `status` (three digits) in storage that lives as long as the program (a
// kept field); empty outside 100-999.
std::string_view h2StatusText(uint16_t status);

}  // namespace halyard::proxy::http
