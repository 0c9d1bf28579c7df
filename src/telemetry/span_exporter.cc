#include "telemetry/span_exporter.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/decimal.h"
#include "common/json_string.h"
#include "proxy/http/h1_response_parser.h"

namespace halyard::telemetry {

namespace {

constexpr auto kFlushInterval = std::chrono::seconds(1);
constexpr int kTimeoutSeconds = 5;
constexpr int kExporterNice = 10;
constexpr size_t kSpansPerPost = 1'024;

// A connection to a collector (host:port), kept between batches when the collector keeps it:
// HTTP/1.1 answered with a Content-Length and without "Connection: close". A batch every few
// tens of milliseconds at 100% sampling made a socket, a connect and a close each, about a
// third of the span exporter's system time (docs/performance.md). Used by one flush at a time.
class CollectorConnection {
 public:
  CollectorConnection() = default;
  CollectorConnection(const CollectorConnection&) = delete;
  CollectorConnection& operator=(const CollectorConnection&) = delete;
  ~CollectorConnection() { drop(); }

  // POSTs `body`; true on a 2xx answer. On a kept connection the collector may have closed
  // meanwhile: a failure before any answer is retried once on a new connection.
  bool post(const std::string& host, uint16_t port, const std::string& path,
            std::string_view body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool kept = fd_ >= 0;
      if (!kept && !open(host, port)) return false;
      int status = 0;
      if (exchange(host, port, path, body, status)) return status >= 200 && status < 300;
      drop();
      if (!kept) return false;
    }
    return false;
  }

 private:
  bool open(const std::string& host, uint16_t port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
      return false;
    }
    for (addrinfo* a = found; a && fd_ < 0; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      timeval tv{kTimeoutSeconds, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) drop();
    }
    ::freeaddrinfo(found);
    return fd_ >= 0;
  }
  void drop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // One request and its answer; false when the connection failed before a whole answer head.
  // `status` is the answer's; the connection stays open only if the collector keeps it.
  bool exchange(const std::string& host, uint16_t port, const std::string& path,
                std::string_view body, int& status) {
    const std::string authority = (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                                  ":" + std::to_string(port);
    // The head and the body go in one sendmsg each time round, the body never copied into a
    // request string (a batch is up to a megabyte).
    const std::string head =
        "POST " + path + " HTTP/1.1\r\nHost: " + authority +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nUser-Agent: halyard-proxy\r\n\r\n";
    const size_t total = head.size() + body.size();
    size_t sent = 0;
    while (sent < total) {
      std::array<iovec, 2> parts{};
      size_t n_parts = 0;
      if (sent < head.size()) {
        parts[n_parts++] = {const_cast<char*>(head.data() + sent), head.size() - sent};
      }
      const size_t body_sent = sent > head.size() ? sent - head.size() : 0;
      parts[n_parts++] = {const_cast<char*>(body.data() + body_sent), body.size() - body_sent};
      msghdr msg{};
      msg.msg_iov = parts.data();
      msg.msg_iovlen = n_parts;
      const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    // The answer's head (collectors answer in a few hundred bytes), read by the proxy's own
    // HTTP/1.1 response parser (keep-alive and framing as RFC 9112 has them; 1xx heads skipped),
    // then its body, read and dropped so that the next request starts clean.
    constexpr size_t kMaxHead = 8192;
    std::string in;
    size_t start = 0;  // of the head being parsed, after any 1xx heads
    proxy::http::ResponseParser parser;
    parser.reset("POST");
    while (true) {
      const proxy::http::ParseStatus parsed =
          parser.feed(std::span<char>(in.data() + start, in.size() - start));
      if (parsed == proxy::http::ParseStatus::kError) return false;
      if (parsed == proxy::http::ParseStatus::kHeadComplete) {
        if (!parser.head().interim) break;
        start += parser.head().head_bytes;
        parser.reset("POST");
        continue;
      }
      if (in.size() - start >= kMaxHead) return false;
      char chunk[2048];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      in.append(chunk, static_cast<size_t>(n));
    }
    const proxy::http::ResponseHead& answer = parser.head();
    status = answer.status;
    // Only an answer whose end is known leaves the connection ready for the next request.
    constexpr size_t kMaxKeptBody = 1 << 20;
    const bool has_length = answer.framing.kind == proxy::http::BodyKind::kContentLength;
    const size_t length = has_length ? answer.framing.content_length : 0;
    bool keep = answer.keep_alive && (answer.framing.kind == proxy::http::BodyKind::kNone ||
                                      (has_length && length <= kMaxKeptBody));
    if (keep) {
      size_t have = in.size() - start - answer.head_bytes;
      while (have < length) {
        char chunk[4096];
        const ssize_t n = ::recv(fd_, chunk, std::min(sizeof chunk, length - have), 0);
        if (n <= 0) {
          keep = false;
          break;
        }
        have += static_cast<size_t>(n);
      }
      if (have > length) keep = false;  // more than the answer: out of step
    }
    if (!keep) drop();
    return true;
  }

  int fd_ = -1;
};

// The collectors' connections, by host and port: one exporter per process (SpanExporter is a
// singleton), used only under its flush lock.
std::map<std::pair<std::string, uint16_t>, CollectorConnection>& collectorConnections() {
  static std::map<std::pair<std::string, uint16_t>, CollectorConnection> connections;
  return connections;
}

}  // namespace

SpanBuffer::Taken SpanBuffer::take() {
  std::lock_guard lock(mu_);
  Taken taken{std::move(filling_), used_};
  filling_ = std::move(spare_);
  spare_ = {};
  used_ = 0;
  return taken;
}

void SpanBuffer::giveBack(std::vector<SpanRecord> records) {
  std::lock_guard lock(mu_);
  if (spare_.empty()) spare_ = std::move(records);
}

SpanExporter& SpanExporter::instance() {
  static SpanExporter exporter;
  return exporter;
}

SpanExporter::~SpanExporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SpanBuffer> SpanExporter::newBuffer() {
  auto buffer = std::make_shared<SpanBuffer>();
  std::lock_guard lock(mu_);
  buffers_.push_back(buffer);
  return buffer;
}

void SpanExporter::spanAdded() {
  if (thread_started_.load(std::memory_order_relaxed)) return;  // every span after the first
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_started_.store(true, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void SpanExporter::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void SpanExporter::run() {
  // Exporting is background work: no request should wait while a batch is encoded. At 100%
  // sampling a batch of a few thousand spans takes milliseconds of the core the workers run on;
  // at the default priority a worker woken meanwhile waits out the scheduler's slice (p99
  // latency tripled in bench/tracing_bench.py). Niced, this thread yields to a woken worker at
  // once and still gets its share (a few percent is all it needs) of a busy core.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kExporterNice);
  ::pthread_setname_np(::pthread_self(), "hy-spans");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushInterval, [this] { return stopping_ || woken_; });
    woken_ = false;
    lock.unlock();
    flush();
    lock.lock();
  }
}

void SpanExporter::flush() {
  std::lock_guard flushing(flush_mu_);
  std::vector<std::pair<std::shared_ptr<SpanBuffer>, SpanBuffer::Taken>> taken;
  {
    std::lock_guard lock(mu_);
    for (auto it = buffers_.begin(); it != buffers_.end();) {
      auto buffer = it->lock();
      if (!buffer) {
        it = buffers_.erase(it);
        continue;
      }
      taken.emplace_back(buffer, buffer->take());
      ++it;
    }
  }
  // One batch per collector (kind, host, port, path). Spans of one snapshot share its settings,
  // so the collectors are looked up once per run of spans with the same settings.
  using Key = std::tuple<int, std::string, uint16_t, std::string>;
  using Batch = std::pair<const translate::TracingProvider*, std::vector<const SpanRecord*>>;
  std::map<Key, Batch> batches;
  const translate::TracingSettings* settings = nullptr;
  std::vector<Batch*> targets;
  for (const auto& [buffer, t] : taken) {
    for (size_t i = 0; i < t.count; ++i) {
      const SpanRecord& s = t.records[i];
      if (!s.settings) continue;
      if (s.settings.get() != settings) {
        settings = s.settings.get();
        targets.clear();
        for (const auto& p : settings->providers) {
          Batch& batch = batches[Key{static_cast<int>(p.kind), p.host, p.port, p.path}];
          batch.first = &p;
          targets.push_back(&batch);
        }
      }
      for (Batch* batch : targets) batch->second.push_back(&s);
    }
  }
  // Connections to collectors this flush posts nothing to go (a provider a reload removed, or
  // one idle for now): a kept connection costs a descriptor and the collector's state.
  std::map<std::pair<std::string, uint16_t>, CollectorConnection>& connections =
      collectorConnections();
  std::erase_if(connections, [&](const auto& entry) {
    return std::none_of(batches.begin(), batches.end(), [&](const auto& b) {
      return b.second.first->host == entry.first.first &&
             b.second.first->port == entry.first.second;
    });
  });
  for (const auto& [key, batch] : batches) {
    const translate::TracingProvider& p = *batch.first;
    // At most kSpansPerPost spans per request: the body (under a megabyte) stays in the cache
    // of the core the workers share, where a whole second's batch would evict their data.
    const std::span<const SpanRecord* const> all(batch.second);
    for (size_t at = 0; at < all.size(); at += kSpansPerPost) {
      const auto part = all.subspan(at, std::min(kSpansPerPost, all.size() - at));
      body_.clear();
      if (p.kind == translate::TracingProvider::Kind::kZipkin) {
        appendZipkinJson(body_, part, p.max_tag_length);
      } else {
        appendOtlpJson(body_, part, p.max_tag_length);
      }
      if (connections[{p.host, p.port}].post(p.host, p.port, p.path, body_.view())) {
        exported_.fetch_add(part.size(), std::memory_order_relaxed);
      } else {
        failed_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  // A burst leaves big buffers behind: what a quiet second does not need goes.
  if (body_.capacity() > 4 * body_.size() + (1 << 20)) body_.release();
  for (auto& [buffer, t] : taken) {
    if (t.records.size() > 2 * t.count + 64) t.records.resize(t.count);
    buffer->giveBack(std::move(t.records));
  }
}

void SpanRecord::setTexts(const std::array<std::string_view, kTexts>& values) {
  size_t total = 0;
  for (const std::string_view v : values) total += v.size();
  if (texts.size() < total) texts.resize(total);
  uint32_t at = 0;
  for (size_t slot = 0; slot < kTexts; ++slot) {
    const std::string_view v = values[kStored[slot]];
    text_at[slot] = at;
    if (!v.empty()) std::memcpy(texts.data() + at, v.data(), v.size());
    at += static_cast<uint32_t>(v.size());
  }
  text_at[kTexts] = at;
}

void SpanRecord::setText(Text which, std::string_view value) {
  std::array<std::string, kTexts> now;
  std::array<std::string_view, kTexts> views;
  for (size_t i = 0; i < kTexts; ++i) {
    now[i] = i == which ? std::string(value) : std::string(text(static_cast<Text>(i)));
    views[i] = now[i];
  }
  setTexts(views);
}

void SpanRecord::appendName(std::string& out) const {
  // "outbound|9080||reviews.default.svc.cluster.local" ->
  // "reviews.default.svc.cluster.local:9080/*"
  const std::string_view cluster = text(kUpstreamCluster);
  if (cluster.starts_with("outbound|")) {
    const size_t p1 = cluster.find('|');
    const size_t p2 = cluster.find('|', p1 + 1);
    const size_t p3 = cluster.find('|', p2 + 1);
    if (p3 != std::string::npos && p3 + 1 < cluster.size()) {
      out.append(cluster.substr(p3 + 1))
          .append(":")
          .append(cluster.substr(p1 + 1, p2 - p1 - 1))
          .append("/*");
      return;
    }
  }
  out.append(text(kAuthority)).append("/*");
}

void SpanSource::encodeTags() {
  zipkin_tags.clear();
  otlp_attributes.clear();
  longest_value = 0;
  for (const auto& [k, v] : tags) {
    if (!zipkin_tags.empty()) {
      zipkin_tags += ',';
      otlp_attributes += ',';
    }
    common::appendJsonString(zipkin_tags, k);
    zipkin_tags += ':';
    common::appendJsonString(zipkin_tags, v);
    otlp_attributes += "{\"key\":";
    common::appendJsonString(otlp_attributes, k);
    otlp_attributes += ",\"value\":{\"stringValue\":";
    common::appendJsonString(otlp_attributes, v);
    otlp_attributes += "}}";
    longest_value = std::max(longest_value, v.size());
  }
}

namespace {

using common::escapeJson;
using common::JsonOut;

// Room for the fixed parts of a span (keys, ids, numbers): its strings are reserved on their own.
constexpr size_t kSpanFixedRoom = 512;

// How a value is written: escaped, or copied as it is (kClean: nothing to escape in digits, the
// proxy's literals, addresses it formatted).
enum class Put : uint8_t { kEscape, kClean };

// A tag value (or any string) within the provider's maxTagLength; room for it is made here.
// Inlined by force, as putKey: left to itself GCC called both out of line, per tag, and a Zipkin
// span cost a quarter more instructions (callgrind over the 2,500-span batch test).
[[gnu::always_inline]] inline void putValue(JsonOut& out, std::string_view v, size_t max, Put how) {
  if (max > 0 && v.size() > max) v = v.substr(0, max);
  if (how == Put::kClean) {
    out.reserve(v.size() + 2);
    out.put('"');
    out.put(v);
    out.put('"');
    return;
  }
  out.reserve(JsonOut::stringRoom(v.size()));
  out.putString(v);
}

// http.url's value, "http://<authority><path>", written without joining it first (it fits the
// provider's maxTagLength).
struct UrlParts {
  std::string_view authority, path;
};

[[gnu::always_inline]] inline void putValue(JsonOut& out, const UrlParts& url, size_t, Put) {
  out.reserve(JsonOut::stringRoom(url.authority.size() + url.path.size()) + 7);
  out.put(std::string_view("\"http://"));
  escapeJson(url.authority, [&out](std::string_view piece) { out.put(piece); });
  escapeJson(url.path, [&out](std::string_view piece) { out.put(piece); });
  out.put('"');
}

// `,"key":` (the comma unless `first`): Istio's own keys need no escape, the proxy's and custom
// tags' keys do. `open` goes before the key (OTLP's `{"key":`), `close` after it.
[[gnu::always_inline]] inline void putKey(JsonOut& out, bool& first, std::string_view key,
                                          bool plain, std::string_view open,
                                          std::string_view close) {
  out.reserve(JsonOut::stringRoom(key.size()) + open.size() + close.size() + 1);
  if (!first) out.put(',');
  first = false;
  out.put(open);
  if (plain) {
    out.put('"');
    out.put(key);
    out.put('"');
  } else {
    out.putString(key);
  }
  out.put(close);
}

// A piece of a batch's body that its spans mostly share (a proxy's spans differ in ids, times,
// sizes and the URL, hardly ever in the method, cluster, user agent or name): written out for one
// span, then copied from where the body has it for every next span that `same` says would write
// the same bytes. At 100% sampling this is most of a span: copied, not encoded again.
class SharedPiece {
 public:
  template <class Same, class Write>
  void put(JsonOut& out, const SpanRecord& s, Same&& same, Write&& write) {
    if (like_ != nullptr && same(*like_, s)) {
      out.reserve(size_);  // first: it may move the body
      out.put(out.view().substr(at_, size_));
      return;
    }
    at_ = out.size();
    write();
    size_ = out.size() - at_;
    like_ = &s;  // records outlive the batch's encoding
  }

 private:
  const SpanRecord* like_ = nullptr;
  size_t at_ = 0;
  size_t size_ = 0;
};

// What the spans of a batch share, per format call.
struct SharedPieces {
  SharedPiece name;  // "name":"..." (from the cluster, else the authority)
  // Zipkin's localEndpoint (the service) and the opening of the tags, then the steady tags
  // (forEachSteadyTag) and the proxy's own tags, which the source decides.
  SharedPiece tags;
};

std::string_view decimal(std::array<char, 24>& buffer, uint64_t value) {
  return {buffer.data(), common::writeDecimal(value, buffer.data())};
}

// The proxy's own tags can be copied already encoded, unless the provider clips one of them.
bool sourceEncoded(const SpanRecord& s, size_t max_tag_length) {
  return s.source && !s.source->zipkin_tags.empty() &&
         (max_tag_length == 0 || s.source->longest_value <= max_tag_length);
}

std::string_view orDash(std::string_view v) {
  return v.empty() ? std::string_view("-") : v;
}

// The tags of a span in Istio's vocabulary come in two kinds, each given to push(key, value,
// plain_key, how) (Istio's own keys need no escape, the proxy's and custom tags' keys are
// escaped; `how` the value is written, putValue). Steady tags are those that repeat from span to
// span of a proxy: written once per batch and copied (SharedPieces::steady), so they must depend
// on nothing but the fields sameSteadyTags compares.
template <class Push>
void forEachSteadyTag(const SpanRecord& s, Push&& push) {
  using T = SpanRecord;
  push("http.method", s.text(T::kMethod), true, Put::kEscape);
  push("http.protocol", s.protocol, true, Put::kClean);
  // Envoy's short flag names ("UF,URX"): letters and commas.
  push("response_flags", orDash(s.text(T::kFlags)), true, Put::kClean);
  const std::string_view cluster = orDash(s.text(T::kUpstreamCluster));
  push("upstream_cluster", cluster, true, Put::kEscape);
  push("upstream_cluster.name", cluster, true, Put::kEscape);
  push("downstream_cluster", "-", true, Put::kClean);
  push("user_agent", orDash(s.text(T::kUserAgent)), true, Put::kEscape);
}

// Equal texts, sizes first, compared inline sixteen bytes at a time: a call to memcmp per text
// (five to eight of them per span, most under 64 bytes) cost more than the comparison.
[[gnu::always_inline]] inline bool same(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
#if defined(__SSE2__)
  if (n >= 16) {
    auto differ = [x, y](size_t at) {
      const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + at));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y + at));
      return _mm_movemask_epi8(_mm_cmpeq_epi8(p, q)) != 0xffff;
    };
    // The last block overlaps the one before it.
    for (size_t i = 0; i + 16 < n; i += 16) {
      if (differ(i)) return false;
    }
    return !differ(n - 16);
  }
#endif
  if (n >= 8) {
    uint64_t h1, h2, t1, t2;
    std::memcpy(&h1, x, 8);
    std::memcpy(&h2, y, 8);
    std::memcpy(&t1, x + n - 8, 8);
    std::memcpy(&t2, y + n - 8, 8);
    return ((h1 ^ h2) | (t1 ^ t2)) == 0;
  }
  if (n >= 4) {
    uint32_t h1, h2, t1, t2;
    std::memcpy(&h1, x, 4);
    std::memcpy(&h2, y, 4);
    std::memcpy(&t1, x + n - 4, 4);
    std::memcpy(&t2, y + n - 4, 4);
    return ((h1 ^ h2) | (t1 ^ t2)) == 0;
  }
  return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

// The texts of slots [first, last) are the same in both records: each of the same size, and the
// run of them end to end equal (one comparison for the group rather than one per text).
template <size_t kFirst, size_t kLast>
bool sameRun(const SpanRecord& a, const SpanRecord& b) {
  for (size_t slot = kFirst + 1; slot < kLast; ++slot) {
    if (a.text_at[slot] - a.text_at[kFirst] != b.text_at[slot] - b.text_at[kFirst]) return false;
  }
  return same(a.stored(kFirst, kLast), b.stored(kFirst, kLast));
}

constexpr size_t slotOf(SpanRecord::Text t) {
  return SpanRecord::kSlot[t];
}

// The steady tags' texts are stored side by side, as are the name's.
static_assert(slotOf(SpanRecord::kMethod) == 0 && slotOf(SpanRecord::kFlags) == 1 &&
              slotOf(SpanRecord::kUserAgent) == 2 && slotOf(SpanRecord::kUpstreamCluster) == 3 &&
              slotOf(SpanRecord::kAuthority) == 4);

bool sameSteadyTags(const SpanRecord& a, const SpanRecord& b) {
  // Method, flags, user agent and cluster.
  return same(a.protocol, b.protocol) && sameRun<0, 4>(a, b);
}

// The tags of this request alone, after the steady ones; the proxy's own tags first when
// `with_source` (else the caller copies them encoded). `url` is scratch space.
template <class Push>
void forEachRequestTag(const SpanRecord& s, bool with_source, size_t max_tag_length,
                       std::string& url, Push&& push) {
  if (s.source && with_source) {
    for (const auto& [k, v] : s.source->tags) push(k, std::string_view(v), false, Put::kEscape);
  }
  std::array<char, 24> number{};
  using T = SpanRecord;
  push("guid:x-request-id", s.text(T::kRequestId), true, Put::kEscape);
  const std::string_view authority = s.text(T::kAuthority), path = s.text(T::kPath);
  if (max_tag_length == 0 || 7 + authority.size() + path.size() <= max_tag_length) {
    // Escaping works byte by byte: the URL's parts are escaped where they are, no copy joins them.
    push("http.url", UrlParts{authority, path}, true, Put::kEscape);
  } else {
    url.assign("http://").append(authority).append(path);
    push("http.url", url, true, Put::kEscape);
  }
  push("http.status_code", decimal(number, s.status), true, Put::kClean);
  push("request_size", decimal(number, s.request_size), true, Put::kClean);
  push("response_size", decimal(number, s.response_size), true, Put::kClean);
  // An address the proxy formatted itself: digits, dots, colons, brackets.
  push("peer.address", s.text(T::kPeer), true, Put::kClean);
  for (const auto& [k, v] : s.custom_tags) push(k, std::string_view(v), false, Put::kEscape);
  if (s.error) push("error", "true", true, Put::kClean);
}

// The request's own tags with Istio's keys, written whole: each key with its quotes and
// punctuation in the format's form is one literal (`Keys`, ZipkinKeys or OtlpKeys), and numbers
// go straight into the body, where a tag at a time cost a call and a key of unknown length each.
// For a provider whose maxTagLength clips nothing of what this writes unescaped (no limit, or
// one a number and http.url fit in); the others take forEachRequestTag.
struct ZipkinKeys {
  static constexpr std::string_view kRequestId = ",\"guid:x-request-id\":";
  static constexpr std::string_view kUrl = ",\"http.url\":";
  static constexpr std::string_view kStatus = ",\"http.status_code\":\"";
  static constexpr std::string_view kRequestSize = "\",\"request_size\":\"";
  static constexpr std::string_view kResponseSize = "\",\"response_size\":\"";
  static constexpr std::string_view kPeer = "\",\"peer.address\":";
  static constexpr std::string_view kClose = "";  // after a value
  static constexpr std::string_view kError = ",\"error\":\"true\"";
};

struct OtlpKeys {
#define HALYARD_OTLP_KEY(key) ",{\"key\":\"" key "\",\"value\":{\"stringValue\":"
  static constexpr std::string_view kRequestId = HALYARD_OTLP_KEY("guid:x-request-id");
  static constexpr std::string_view kUrl = HALYARD_OTLP_KEY("http.url");
  static constexpr std::string_view kStatus = HALYARD_OTLP_KEY("http.status_code") "\"";
  static constexpr std::string_view kRequestSize = "\"}}" HALYARD_OTLP_KEY("request_size") "\"";
  static constexpr std::string_view kResponseSize = "\"}}" HALYARD_OTLP_KEY("response_size") "\"";
  static constexpr std::string_view kPeer = "\"}}" HALYARD_OTLP_KEY("peer.address");
#undef HALYARD_OTLP_KEY
  static constexpr std::string_view kClose = "}}";
  static constexpr std::string_view kError = "";  // the status says it
};

bool fitsUnclipped(const SpanRecord& s, size_t max_tag_length) {
  using T = SpanRecord;
  return max_tag_length == 0 ||
         (max_tag_length >= common::kMaxDecimalDigits &&
          7 + s.text(T::kAuthority).size() + s.text(T::kPath).size() <= max_tag_length &&
          s.text(T::kRequestId).size() <= max_tag_length &&
          s.text(T::kPeer).size() <= max_tag_length);
}

template <class Keys, class Push>
void putRequestTags(JsonOut& out, const SpanRecord& s, Push&& push) {
  using T = SpanRecord;
  const std::string_view request_id = s.text(T::kRequestId), authority = s.text(T::kAuthority),
                         path = s.text(T::kPath), peer = s.text(T::kPeer);
  auto escaped = [&out](std::string_view v) {
    escapeJson(v, [&out](std::string_view piece) { out.put(piece); });
  };
  out.reserve(Keys::kRequestId.size() + JsonOut::stringRoom(request_id.size()) + Keys::kUrl.size() +
              JsonOut::stringRoom(authority.size() + path.size()) + 7 + 2 * Keys::kClose.size());
  out.put(Keys::kRequestId);
  out.put('"');
  escaped(request_id);
  out.put('"');
  out.put(Keys::kClose);
  out.put(Keys::kUrl);
  out.put(std::string_view("\"http://"));
  escaped(authority);
  escaped(path);
  out.put('"');
  out.put(Keys::kClose);
  out.reserve(Keys::kStatus.size() + Keys::kRequestSize.size() + Keys::kResponseSize.size() +
              3 * common::kMaxDecimalDigits + Keys::kPeer.size() + peer.size() + 2 +
              Keys::kClose.size());
  out.put(Keys::kStatus);
  out.putDecimal(s.status);
  out.put(Keys::kRequestSize);
  out.putDecimal(s.request_size);
  out.put(Keys::kResponseSize);
  out.putDecimal(s.response_size);
  out.put(Keys::kPeer);
  // An address the proxy formatted itself: digits, dots, colons, brackets.
  out.put('"');
  out.put(peer);
  out.put('"');
  out.put(Keys::kClose);
  for (const auto& [k, v] : s.custom_tags) push(k, std::string_view(v), false, Put::kEscape);
  if (s.error && !Keys::kError.empty()) {
    out.reserve(Keys::kError.size());
    out.put(Keys::kError);
  }
}

// What comes before the request's own tags is the same for spans with the same source (the
// service, the proxy's tags) and the same steady tags.
bool sameSharedTags(const SpanRecord& a, const SpanRecord& b) {
  return a.source == b.source && sameSteadyTags(a, b);
}

// Every tag of a span, in the format `push` writes, after what `lead` writes (Zipkin: the
// localEndpoint and the opening of the tags): the steady tags first, then the proxy's own tags
// (copied already encoded, `encoded` the format's form), all of it copied when it is the batch's
// previous span's (SharedPieces::tags); then the request's (putRequestTags with the format's
// `Keys` when nothing is clipped). `first` is what `push` reads for its comma.
template <class Keys, class Lead, class Push>
void putTags(JsonOut& out, const SpanRecord& s, size_t max_tag_length,
             std::string SpanSource::*encoded, SharedPiece& shared, std::string& scratch,
             bool& first, Lead&& lead, Push&& push) {
  shared.put(out, s, sameSharedTags, [&] {
    lead();
    first = true;
    forEachSteadyTag(s, push);
    if (sourceEncoded(s, max_tag_length)) {
      const std::string& tags = (*s.source).*encoded;
      out.reserve(tags.size() + 1);
      out.put(',');
      out.put(tags);
    } else if (s.source) {
      for (const auto& [k, v] : s.source->tags) push(k, std::string_view(v), false, Put::kEscape);
    }
  });
  first = false;  // the steady tags are never none
  if (!fitsUnclipped(s, max_tag_length)) {
    forEachRequestTag(s, false, max_tag_length, scratch, push);
    return;
  }
  putRequestTags<Keys>(out, s, push);
}

bool sameName(const SpanRecord& a, const SpanRecord& b) {
  return sameRun<3, 5>(a, b);  // cluster and authority
}

// Opens a span object (after a comma unless `first`) with its ids and name, under the format's
// own keys (Zipkin: id/parentId, OTLP: spanId/parentSpanId), and makes room for the span's fixed
// parts (keys, numbers; its strings make their own). `scratch` is reused for the name.
void openSpan(JsonOut& out, bool& first, const SpanRecord& s, std::string_view id_key,
              std::string_view parent_key, std::string& scratch, SharedPiece& name) {
  out.reserve(kSpanFixedRoom);
  if (!first) out.put(',');
  first = false;
  out.put("{\"traceId\":\"");
  out.put(std::string_view(s.trace_id.data(), 32));
  out.put("\",\"");
  out.put(id_key);
  out.put("\":\"");
  out.put(std::string_view(s.span_id.data(), 16));
  out.put('"');
  if (s.has_parent) {
    out.put(",\"");
    out.put(parent_key);
    out.put("\":\"");
    out.put(std::string_view(s.parent_id.data(), 16));
    out.put('"');
  }
  name.put(out, s, sameName, [&] {
    scratch.clear();
    s.appendName(scratch);
    out.reserve(JsonOut::stringRoom(scratch.size()) + 8);
    out.put(",\"name\":");
    out.putString(scratch);
  });
}

const std::string& serviceOf(const SpanRecord& s) {
  static const std::string kUnknown = "unknown";
  return s.source ? s.source->service_name : kUnknown;
}

}  // namespace

void SpanExporter::appendZipkinJson(JsonOut& out, std::span<const SpanRecord* const> spans,
                                    size_t max_tag_length) {
  std::string scratch;
  SharedPieces shared;
  out.reserve(2);
  out.put('[');
  bool first_span = true;
  for (const SpanRecord* s : spans) {
    openSpan(out, first_span, *s, "id", "parentId", scratch, shared.name);
    out.put(s->server ? std::string_view(",\"kind\":\"SERVER\"")
                      : std::string_view(",\"kind\":\"CLIENT\""));
    out.put(",\"timestamp\":");
    out.putDecimal(static_cast<uint64_t>(std::max<int64_t>(s->start_us, 0)));
    out.put(",\"duration\":");
    out.putDecimal(static_cast<uint64_t>(std::max<int64_t>(s->duration_us, 1)));
    bool first = true;
    const auto push = [&](std::string_view k, const auto& v, bool plain_key, Put how) {
      putKey(out, first, k, plain_key, {}, ":");
      putValue(out, v, max_tag_length, how);
    };
    const auto lead = [&] {
      out.reserve(40);
      out.put(",\"localEndpoint\":{\"serviceName\":");
      putValue(out, serviceOf(*s), 0, Put::kEscape);
      out.reserve(16);
      out.put("},\"tags\":{");
    };
    putTags<ZipkinKeys>(out, *s, max_tag_length, &SpanSource::zipkin_tags, shared.tags, scratch,
                        first, lead, push);
    out.reserve(2);
    out.put("}}");
  }
  out.reserve(1);
  out.put(']');
}

void SpanExporter::appendOtlpJson(JsonOut& out, std::span<const SpanRecord* const> spans,
                                  size_t max_tag_length) {
  // One resource per service name (a proxy has one), its spans in one scope.
  std::map<std::string_view, std::vector<const SpanRecord*>> by_service;
  for (const SpanRecord* s : spans) by_service[serviceOf(*s)].push_back(s);
  std::string scratch;
  SharedPieces shared;
  out.reserve(32);
  out.put("{\"resourceSpans\":[");
  bool first_resource = true;
  for (const auto& [service, list] : by_service) {
    out.reserve(256);
    if (!first_resource) out.put(',');
    first_resource = false;
    out.put("{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    putValue(out, service, 0, Put::kEscape);
    out.reserve(128);
    out.put("}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"halyard-proxy\"},\"spans\":[");
    bool first_span = true;
    for (const SpanRecord* s : list) {
      const int64_t start_ns = std::max<int64_t>(s->start_us, 0) * 1000;
      const int64_t end_ns = start_ns + std::max<int64_t>(s->duration_us, 1) * 1000;
      openSpan(out, first_span, *s, "spanId", "parentSpanId", scratch, shared.name);
      out.put(s->server ? std::string_view(",\"kind\":2")
                        : std::string_view(",\"kind\":3"));  // SPAN_KIND_SERVER / _CLIENT
      out.put(",\"startTimeUnixNano\":\"");
      out.putDecimal(static_cast<uint64_t>(start_ns));
      out.put("\",\"endTimeUnixNano\":\"");
      out.putDecimal(static_cast<uint64_t>(end_ns));
      out.put("\",\"attributes\":[");
      bool first = true;
      const auto push = [&](std::string_view k, const auto& v, bool plain_key, Put how) {
        if (k == "error") return;  // the status says it
        putKey(out, first, k, plain_key, "{\"key\":", ",\"value\":{\"stringValue\":");
        putValue(out, v, max_tag_length, how);
        out.reserve(2);
        out.put("}}");
      };
      putTags<OtlpKeys>(
          out, *s, max_tag_length, &SpanSource::otlp_attributes, shared.tags, scratch, first, [] {},
          push);
      out.reserve(32);
      out.put("],\"status\":{\"code\":");
      out.put(s->error ? '2' : '0');
      out.put("}}");
    }
    out.reserve(8);
    out.put("]}]}");
  }
  out.reserve(4);
  out.put("]}");
}

}  // namespace halyard::telemetry
