#include "proxy/http/h2_server_session.h"

#include <nghttp2/nghttp2.h>

#include <iterator>
#include <vector>

#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

namespace {

std::string_view view(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

// Scratch kept per thread, emptied: no allocation per response once it has grown (nghttp2
// copies the array itself).
thread_local std::vector<nghttp2_nv> scratch;

std::vector<nghttp2_nv>& scratchFields() {
  scratch.clear();
  return scratch;
}

}  // namespace

struct H2ServerSession::Callbacks {
  static H2ServerSession& self(void* user) { return *static_cast<H2ServerSession*>(user); }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      H2ServerSession& s = self(user);
      s.head_stream_ = frame->hd.stream_id;
      s.head_ = H2RequestHead{};
      s.head_.headers.reserve(kTypicalFields);
    } else if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      H2ServerSession& s = self(user);
      s.trailer_stream_ = frame->hd.stream_id;
      s.trailers_.clear();
    }
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    H2ServerSession& s = self(user);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_HEADERS &&
        frame->hd.stream_id == s.trailer_stream_) {
      // Trailers carry no pseudo-header fields (nghttp2 refuses them).
      s.trailers_.emplace_back(view(name, namelen), view(value, valuelen));
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST ||
        frame->hd.stream_id != s.head_stream_) {
      return 0;
    }
    const std::string_view n = view(name, namelen);
    const std::string_view v = view(value, valuelen);
    H2RequestHead& h = s.head_;
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") {
        h.method = v;
      } else if (n == ":scheme") {
        h.scheme = v;
      } else if (n == ":authority") {
        h.authority = v;
      } else if (n == ":path") {
        h.path = v;
      } else if (n == ":protocol") {
        h.protocol = v;
      }
      return 0;
    }
    h.headers.emplace_back(n, v);
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2ServerSession& s = self(user);
    const int32_t id = frame->hd.stream_id;
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && id == s.head_stream_) {
        s.head_stream_ = 0;
        s.handler_.onRequest(id, std::move(s.head_), end);
      } else if (end) {
        if (id == s.trailer_stream_) {
          s.trailer_stream_ = 0;
          if (!s.trailers_.empty()) s.handler_.onRequestTrailers(id, std::move(s.trailers_));
          s.trailers_.clear();
        }
        s.handler_.onRequestEnd(id);
      }
    } else if (frame->hd.type == NGHTTP2_DATA && end) {
      s.handler_.onRequestEnd(id);
    }
    return 0;
  }

  static int onData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    self(user).handler_.onRequestData(id, std::span<const uint8_t>(data, len));
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    self(user).handler_.onStreamClose(id, error_code);
    return 0;
  }

  static ssize_t readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user) {
    H2ServerSession& s = self(user);
    bool end = false;
    const long n = s.handler_.readBody(id, buf, length, end);
    if (n < 0) return NGHTTP2_ERR_DEFERRED;
    if (end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      const Fields* trailers = s.handler_.trailers(id);
      if (trailers && !trailers->empty()) {
        std::vector<nghttp2_nv> nva;
        nva.reserve(trailers->size());
        for (const auto& [name, value] : *trailers) nva.push_back(h2Field(name, value));
        if (nghttp2_submit_trailer(session, id, nva.data(), nva.size()) == 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
    }
    return n;
  }
};

H2ServerSession::H2ServerSession(Handler& handler, const H2Settings& settings) : handler_(handler) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::onStreamClose);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // The driver returns the window as the bytes are passed on, not as they arrive.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
  nghttp2_session_server_new2(&session_, cb, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);

  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.initial_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings.max_header_list},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      // Extended CONNECT (RFC 8441): WebSocket over HTTP/2.
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(settings.connection_window));
}

H2ServerSession::~H2ServerSession() {
  nghttp2_session_del(session_);
}

bool H2ServerSession::receive(std::span<const uint8_t> bytes) {
  return h2Receive(session_, bytes, error_);
}

bool H2ServerSession::send(std::string& out, size_t max) {
  return h2Send(session_, out, max, error_);
}

bool H2ServerSession::wantsRead() const {
  return nghttp2_session_want_read(session_) != 0;
}

bool H2ServerSession::wantsWrite() const {
  return nghttp2_session_want_write(session_) != 0;
}

bool H2ServerSession::respond(int32_t stream_id, uint16_t status, const Fields& headers, bool body,
                              FieldStorage storage) {
  std::vector<nghttp2_nv>& nva = scratchFields();
  nva.emplace_back();  // :status, filled in by submitResponse
  const H2FieldMode mode{.kept = storage == FieldStorage::kKeptUntilStreamClose,
                         .seed = heads_++ % kSeedEvery == 0};
  for (const auto& [name, value] : headers) nva.push_back(h2Field(name, value, mode));
  return submitResponse(stream_id, status, body);
}

bool H2ServerSession::respond(int32_t stream_id, uint16_t status, const FieldBlock& headers,
                              bool body, FieldStorage storage) {
  std::vector<nghttp2_nv>& nva = scratchFields();
  nva.emplace_back();  // :status, filled in by submitResponse
  const H2FieldMode mode{.kept = storage == FieldStorage::kKeptUntilStreamClose,
                         .seed = heads_++ % kSeedEvery == 0};
  for (size_t i = 0; i < headers.size(); ++i) {
    nva.push_back(h2Field(headers.name(i), headers.value(i), mode));
  }
  return submitResponse(stream_id, status, body);
}

bool H2ServerSession::submitResponse(int32_t stream_id, uint16_t status, bool body) {
  std::vector<nghttp2_nv>& fields = scratch;
  // :status first: from a static table (no copy) for any three-digit status.
  std::string code;
  std::string_view status_text = h2StatusText(status);
  bool status_kept = true;
  if (status_text.empty()) {
    code = std::to_string(status);
    status_text = code;
    status_kept = false;
  }
  fields[0] = h2Field(":status", status_text, {.kept = status_kept});
  nghttp2_data_provider provider{};
  provider.read_callback = &Callbacks::readBody;
  return nghttp2_submit_response(session_, stream_id, fields.data(), fields.size(),
                                 body ? &provider : nullptr) == 0;
}

void H2ServerSession::resume(int32_t stream_id) {
  nghttp2_session_resume_data(session_, stream_id);
}

void H2ServerSession::consume(int32_t stream_id, size_t bytes) {
  nghttp2_session_consume(session_, stream_id, bytes);
}

void H2ServerSession::reset(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

bool H2ServerSession::upgrade(std::string_view settings_payload, bool head_request) {
  return nghttp2_session_upgrade2(session_,
                                  reinterpret_cast<const uint8_t*>(settings_payload.data()),
                                  settings_payload.size(), head_request ? 1 : 0, nullptr) == 0;
}

void H2ServerSession::goAway() {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

}  // namespace halyard::proxy::http
