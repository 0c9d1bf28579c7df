#include "telemetry/span_exporter.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <tuple>

#include "common/json_string.h"

namespace halyard::telemetry {

namespace {

constexpr auto kFlushInterval = std::chrono::seconds(1);
constexpr int kTimeoutSeconds = 5;

// One POST on a fresh connection; true on a 2xx answer.
bool post(const std::string& host, uint16_t port, const std::string& path,
          const std::string& body) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{kTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return false;
  const std::string authority =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string request =
      "POST " + path + " HTTP/1.1\r\nHost: " + authority +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nUser-Agent: halyard-proxy\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  char status[16] = {};
  size_t got = 0;
  while (sent == request.size() && got < 12) {
    const ssize_t n = ::recv(fd, status + got, 12 - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return got >= 12 && std::string_view(status, 5) == "HTTP/" && status[9] == '2';
}

}  // namespace

void SpanBuffer::add(SpanRecord span) {
  std::lock_guard lock(mu_);
  if (spans_.size() >= kMaxBuffered) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spans_.push_back(std::move(span));
}

std::vector<SpanRecord> SpanBuffer::take() {
  std::vector<SpanRecord> out;
  std::lock_guard lock(mu_);
  out.swap(spans_);
  return out;
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

void SpanExporter::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushInterval, [this] { return stopping_; });
    lock.unlock();
    flush();
    lock.lock();
  }
}

void SpanExporter::flush() {
  std::lock_guard flushing(flush_mu_);
  std::vector<SpanRecord> spans;
  {
    std::lock_guard lock(mu_);
    for (auto it = buffers_.begin(); it != buffers_.end();) {
      auto buffer = it->lock();
      if (!buffer) {
        it = buffers_.erase(it);
        continue;
      }
      auto taken = buffer->take();
      for (auto& s : taken) spans.push_back(std::move(s));
      ++it;
    }
  }
  if (spans.empty()) return;
  // One batch per collector (kind, host, port, path).
  using Key = std::tuple<int, std::string, uint16_t, std::string>;
  std::map<Key, std::pair<const translate::TracingProvider*, std::vector<const SpanRecord*>>>
      batches;
  for (const auto& s : spans) {
    if (!s.settings) continue;
    for (const auto& p : s.settings->providers) {
      auto& batch = batches[Key{static_cast<int>(p.kind), p.host, p.port, p.path}];
      batch.first = &p;
      batch.second.push_back(&s);
    }
  }
  for (const auto& [key, batch] : batches) {
    const translate::TracingProvider& p = *batch.first;
    const std::string body = p.kind == translate::TracingProvider::Kind::kZipkin
                                 ? zipkinJson(batch.second, p.max_tag_length)
                                 : otlpJson(batch.second, p.max_tag_length);
    if (post(p.host, p.port, p.path, body)) {
      exported_.fetch_add(batch.second.size(), std::memory_order_relaxed);
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

std::string SpanRecord::name() const {
  // "outbound|9080||reviews.default.svc.cluster.local" ->
  // "reviews.default.svc.cluster.local:9080/*"
  if (upstream_cluster.starts_with("outbound|")) {
    const size_t p1 = upstream_cluster.find('|');
    const size_t p2 = upstream_cluster.find('|', p1 + 1);
    const size_t p3 = upstream_cluster.find('|', p2 + 1);
    if (p3 != std::string::npos && p3 + 1 < upstream_cluster.size()) {
      return upstream_cluster.substr(p3 + 1) + ":" + upstream_cluster.substr(p1 + 1, p2 - p1 - 1) +
             "/*";
    }
  }
  return authority + "/*";
}

namespace {

void appendEscaped(std::string& out, std::string_view v, size_t max) {
  if (max > 0 && v.size() > max) v = v.substr(0, max);  // the provider's maxTagLength
  common::appendJsonString(out, v);
}

// Every tag of a span, in Istio's vocabulary: push(key, value).
template <class Push>
void forEachTag(const SpanRecord& s, Push&& push) {
  if (s.source) {
    for (const auto& [k, v] : s.source->tags) push(k, std::string_view(v));
  }
  char number[24];
  push("guid:x-request-id", s.request_id);
  push("http.method", s.method);
  std::string url = "http://" + s.authority + s.path;
  push("http.url", url);
  push("http.protocol", s.protocol);
  std::snprintf(number, sizeof number, "%u", static_cast<unsigned>(s.status));
  push("http.status_code", std::string_view(number));
  push("response_flags", s.flags.empty() ? std::string_view("-") : std::string_view(s.flags));
  std::snprintf(number, sizeof number, "%llu", static_cast<unsigned long long>(s.request_size));
  push("request_size", std::string_view(number));
  std::snprintf(number, sizeof number, "%llu", static_cast<unsigned long long>(s.response_size));
  push("response_size", std::string_view(number));
  const std::string_view cluster =
      s.upstream_cluster.empty() ? std::string_view("-") : std::string_view(s.upstream_cluster);
  push("upstream_cluster", cluster);
  push("upstream_cluster.name", cluster);
  push("peer.address", s.peer);
  push("downstream_cluster", "-");
  push("user_agent", s.user_agent.empty() ? std::string_view("-") : std::string_view(s.user_agent));
  for (const auto& [k, v] : s.custom_tags) push(k, std::string_view(v));
  if (s.error) push("error", "true");
}

const std::string& serviceOf(const SpanRecord& s) {
  static const std::string kUnknown = "unknown";
  return s.source ? s.source->service_name : kUnknown;
}

}  // namespace

std::string SpanExporter::zipkinJson(const std::vector<const SpanRecord*>& spans,
                                     size_t max_tag_length) {
  std::string out;
  out.reserve(spans.size() * 1200);
  out += '[';
  for (const SpanRecord* s : spans) {
    if (out.size() > 1) out += ',';
    out += "{\"traceId\":\"";
    out.append(s->trace_id.data(), 32);
    out += "\",\"id\":\"";
    out.append(s->span_id.data(), 16);
    out += '"';
    if (s->has_parent) {
      out += ",\"parentId\":\"";
      out.append(s->parent_id.data(), 16);
      out += '"';
    }
    out += ",\"name\":";
    appendEscaped(out, s->name(), 0);
    out += s->server ? ",\"kind\":\"SERVER\"" : ",\"kind\":\"CLIENT\"";
    out += ",\"timestamp\":" + std::to_string(s->start_us);
    out += ",\"duration\":" + std::to_string(std::max<int64_t>(s->duration_us, 1));
    out += ",\"localEndpoint\":{\"serviceName\":";
    appendEscaped(out, serviceOf(*s), 0);
    out += "},\"tags\":{";
    bool first = true;
    forEachTag(*s, [&](std::string_view k, std::string_view v) {
      if (!first) out += ',';
      first = false;
      appendEscaped(out, k, 0);
      out += ':';
      appendEscaped(out, v, max_tag_length);
    });
    out += "}}";
  }
  out += ']';
  return out;
}

std::string SpanExporter::otlpJson(const std::vector<const SpanRecord*>& spans,
                                   size_t max_tag_length) {
  // One resource per service name (a proxy has one), its spans in one scope.
  std::map<std::string, std::vector<const SpanRecord*>> by_service;
  for (const SpanRecord* s : spans) by_service[serviceOf(*s)].push_back(s);
  std::string out = "{\"resourceSpans\":[";
  bool first_resource = true;
  for (const auto& [service, list] : by_service) {
    if (!first_resource) out += ',';
    first_resource = false;
    out += "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":";
    appendEscaped(out, service, 0);
    out += "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"halyard-proxy\"},\"spans\":[";
    bool first_span = true;
    for (const SpanRecord* s : list) {
      if (!first_span) out += ',';
      first_span = false;
      const int64_t start_ns = s->start_us * 1000;
      const int64_t end_ns = start_ns + std::max<int64_t>(s->duration_us, 1) * 1000;
      out += "{\"traceId\":\"";
      out.append(s->trace_id.data(), 32);
      out += "\",\"spanId\":\"";
      out.append(s->span_id.data(), 16);
      out += '"';
      if (s->has_parent) {
        out += ",\"parentSpanId\":\"";
        out.append(s->parent_id.data(), 16);
        out += '"';
      }
      out += ",\"name\":";
      appendEscaped(out, s->name(), 0);
      out += s->server ? ",\"kind\":2" : ",\"kind\":3";  // SPAN_KIND_SERVER / _CLIENT
      out += ",\"startTimeUnixNano\":\"" + std::to_string(start_ns) + "\"";
      out += ",\"endTimeUnixNano\":\"" + std::to_string(end_ns) + "\"";
      out += ",\"attributes\":[";
      bool first = true;
      forEachTag(*s, [&](std::string_view k, std::string_view v) {
        if (k == "error") return;  // the status says it
        if (!first) out += ',';
        first = false;
        out += "{\"key\":";
        appendEscaped(out, k, 0);
        out += ",\"value\":{\"stringValue\":";
        appendEscaped(out, v, max_tag_length);
        out += "}}";
      });
      out += "],\"status\":{\"code\":";
      out += s->error ? "2" : "0";
      out += "}}";
    }
    out += "]}]}";
  }
  out += "]}";
  return out;
}

}  // namespace halyard::telemetry
