#include "proxy/http/h2_client_session.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <vector>

#include "proxy/http/h2_session_io.h"

namespace halyard::proxy::http {

namespace {

std::string_view view(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

constexpr int32_t kWindow = 1024 * 1024;

// Scratch kept per thread, emptied: no allocation per request once it has grown.
std::vector<nghttp2_nv>& scratchFields() {
  thread_local std::vector<nghttp2_nv> nva;
  nva.clear();
  return nva;
}

int32_t submitRequest(nghttp2_session* session, const std::vector<nghttp2_nv>& nva, bool body,
                      nghttp2_data_source_read_callback read_body) {
  nghttp2_data_provider provider{};
  provider.read_callback = read_body;
  return nghttp2_submit_request(session, nullptr, nva.data(), nva.size(),
                                body ? &provider : nullptr, nullptr);
}

}  // namespace

struct H2ClientSession::Callbacks {
  static H2ClientSession& self(void* user) { return *static_cast<H2ClientSession*>(user); }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2ClientSession& s = self(user);
    Response* found = s.find(frame->hd.stream_id);
    if (!found) return 0;
    Response& r = *found;
    const std::string_view n = view(name, namelen);
    const std::string_view v = view(value, valuelen);
    if (n == ":status") {
      unsigned status = 0;
      std::from_chars(v.data(), v.data() + v.size(), status);
      r.status = static_cast<uint16_t>(status);
      if (status >= 200) r.headers.clear();
      return 0;
    }
    if (!n.empty() && n[0] == ':') return 0;
    if (r.head_done) {
      r.trailers.emplace_back(n, v);
    } else if (r.status >= 200) {
      r.headers.add(n, v);
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2ClientSession& s = self(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      s.going_away_ = true;
      return 0;
    }
    const int32_t id = frame->hd.stream_id;
    Response* found = s.find(id);
    if (!found) return 0;
    Response& r = *found;
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (!r.head_done) {
        if (r.status < 200) return 0;  // interim
        r.head_done = true;
        s.handler_.onResponseHead(id, r.status, r.headers, end);
        if (end) s.handler_.onResponseEnd(id, {});
      } else if (end) {
        s.handler_.onResponseEnd(id, std::move(r.trailers));
      }
    } else if (frame->hd.type == NGHTTP2_DATA && end && r.head_done) {
      s.handler_.onResponseEnd(id, {});
    }
    return 0;
  }

  static int onData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    self(user).handler_.onResponseData(id, std::span<const uint8_t>(data, len));
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    H2ClientSession& s = self(user);
    s.forget(id);
    s.handler_.onStreamClose(id, error_code);
    return 0;
  }

  static ssize_t readBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user) {
    bool end = false;
    H2ClientSession& s = self(user);
    const long n = s.handler_.readBody(id, buf, length, end);
    if (n < 0) return NGHTTP2_ERR_DEFERRED;
    if (end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      const Fields* trailers = s.handler_.requestTrailers(id);
      if (trailers && !trailers->empty()) {
        std::vector<nghttp2_nv> nva;
        nva.reserve(trailers->size());
        for (const auto& [name, value] : *trailers) {
          nva.push_back(h2Field(name, value));
        }
        if (nghttp2_submit_trailer(s.session_, id, nva.data(), nva.size()) == 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
    }
    return n;
  }
};

H2ClientSession::H2ClientSession(Handler& handler) : handler_(handler) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::onStreamClose);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_client_new2(&session_, cb, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);
  const nghttp2_settings_entry entries[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 64 * 1024 - 1}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, 2);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindow);
}

H2ClientSession::~H2ClientSession() {
  nghttp2_session_del(session_);
}

bool H2ClientSession::receive(std::span<const uint8_t> bytes) {
  return h2Receive(session_, bytes, error_);
}

bool H2ClientSession::send(std::string& out, size_t max) {
  return h2Send(session_, out, max, error_);
}

bool H2ClientSession::wantsRead() const {
  return nghttp2_session_want_read(session_) != 0;
}

bool H2ClientSession::wantsWrite() const {
  return nghttp2_session_want_write(session_) != 0;
}

int32_t H2ClientSession::request(const Fields& fields, bool body) {
  if (going_away_) return -1;
  std::vector<nghttp2_nv>& nva = scratchFields();
  for (const auto& [name, value] : fields) nva.push_back(h2Field(name, value));
  const int32_t id = submitRequest(session_, nva, body, &Callbacks::readBody);
  if (id > 0) responses_[id].headers.reserve(kTypicalFieldBytes, kTypicalFields);
  return id;
}

int32_t H2ClientSession::request(const FieldBlock& fields, std::string_view scheme, bool body) {
  if (going_away_) return -1;
  // The fields are copied once, whole, into the stream's own storage (capacity reused from
  // streams that ended), and nghttp2 takes them from there by reference: not a copy and a
  // lowercasing per field. The storage stays until the stream closes, and a head still queued
  // then is dropped unread.
  const int32_t next = static_cast<int32_t>(nghttp2_session_get_next_stream_id(session_));
  if (next <= 0) return -1;
  auto [at, fresh] = responses_.try_emplace(next);
  if (!fresh) return -1;
  Response& r = at->second;
  if (!spare_fields_.empty()) {
    r.request = std::move(spare_fields_.back());
    spare_fields_.pop_back();
  }
  r.request = fields;
  r.scheme = scheme;
  std::vector<nghttp2_nv>& nva = scratchFields();
  const H2FieldMode mode{.kept = true, .seed = heads_++ % kSeedEvery == 0};
  nva.push_back(h2Field(":scheme", r.scheme, mode));
  for (size_t i = 0; i < r.request.size(); ++i) {
    nva.push_back(h2Field(r.request.name(i), r.request.value(i), mode));
  }
  const int32_t id = submitRequest(session_, nva, body, &Callbacks::readBody);
  if (id != next) {
    // Refused (or, impossibly, numbered otherwise): nothing of it is queued.
    forget(next);
    return id > 0 ? -1 : id;
  }
  r.headers.reserve(kTypicalFieldBytes, kTypicalFields);
  return id;
}

H2ClientSession::Response* H2ClientSession::find(int32_t id) {
  if (id == last_id_) return last_;
  auto it = responses_.find(id);
  if (it == responses_.end()) return nullptr;
  last_id_ = id;
  last_ = &it->second;
  return last_;
}

void H2ClientSession::forget(int32_t id) {
  auto it = responses_.find(id);
  if (it == responses_.end()) return;
  if (spare_fields_.size() < kSpareFieldBlocks) {
    spare_fields_.push_back(std::move(it->second.request));
  }
  if (id == last_id_) {
    last_id_ = 0;
    last_ = nullptr;
  }
  responses_.erase(it);
}

void H2ClientSession::resume(int32_t stream_id) {
  nghttp2_session_resume_data(session_, stream_id);
}

void H2ClientSession::consume(int32_t stream_id, size_t bytes) {
  nghttp2_session_consume(session_, stream_id, bytes);
}

void H2ClientSession::reset(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

uint32_t H2ClientSession::maxStreams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

}  // namespace halyard::proxy::http
