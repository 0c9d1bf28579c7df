// The byte-moving half every nghttp2 session of ours shares (server and client alike): bytes in
// through nghttp2_session_mem_recv, frames out through nghttp2_session_mem_send. Sessions do no
// I/O themselves; their drivers move these bytes over the transport.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace halyard::proxy::http {

// Feeds `bytes` to `session`; false with nghttp2's sentence in `error` when they break the
// protocol (the connection is then to be closed).
bool h2Receive(nghttp2_session* session, std::span<const uint8_t> bytes, std::string& error);

// Appends what `session` has to send to `out` until it has nothing more or `out` holds `max`
// bytes; false with the sentence in `error` on a session failure.
bool h2Send(nghttp2_session* session, std::string& out, size_t max, std::string& error);

}  // namespace halyard::proxy::http
