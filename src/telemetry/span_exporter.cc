#include "telemetry/span_exporter.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace halyard::telemetry {

namespace {

constexpr auto kFlushInterval = std::chrono::seconds(1);
constexpr int kTimeoutSeconds = 2;

std::string clipped(const std::string& v, size_t max) {
  return max > 0 && v.size() > max ? v.substr(0, max) : v;
}

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
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
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

std::string SpanExporter::zipkinJson(const std::vector<const SpanRecord*>& spans,
                                     size_t max_tag_length) {
  nlohmann::json out = nlohmann::json::array();
  for (const SpanRecord* s : spans) {
    nlohmann::json span{{"traceId", s->trace_id},
                        {"id", s->span_id},
                        {"name", s->name},
                        {"kind", s->server ? "SERVER" : "CLIENT"},
                        {"timestamp", s->start_us},
                        {"duration", std::max<int64_t>(s->duration_us, 1)},
                        {"localEndpoint", {{"serviceName", s->service_name}}}};
    if (!s->parent_id.empty()) span["parentId"] = s->parent_id;
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [k, v] : s->tags) tags[k] = clipped(v, max_tag_length);
    if (s->error) tags["error"] = "true";
    span["tags"] = std::move(tags);
    out.push_back(std::move(span));
  }
  return out.dump();
}

std::string SpanExporter::otlpJson(const std::vector<const SpanRecord*>& spans,
                                   size_t max_tag_length) {
  // One resource per service name (a proxy has one), its spans in one scope.
  std::map<std::string, nlohmann::json> by_service;
  for (const SpanRecord* s : spans) {
    nlohmann::json attributes = nlohmann::json::array();
    for (const auto& [k, v] : s->tags) {
      attributes.push_back({{"key", k}, {"value", {{"stringValue", clipped(v, max_tag_length)}}}});
    }
    const int64_t start_ns = s->start_us * 1000;
    nlohmann::json span{
        {"traceId", s->trace_id},
        {"spanId", s->span_id},
        {"name", s->name},
        {"kind", s->server ? 2 : 3},  // SPAN_KIND_SERVER, SPAN_KIND_CLIENT
        {"startTimeUnixNano", std::to_string(start_ns)},
        {"endTimeUnixNano", std::to_string(start_ns + std::max<int64_t>(s->duration_us, 1) * 1000)},
        {"attributes", std::move(attributes)},
        {"status", {{"code", s->error ? 2 : 0}}}};
    if (!s->parent_id.empty()) span["parentSpanId"] = s->parent_id;
    by_service[s->service_name].push_back(std::move(span));
  }
  nlohmann::json resource_spans = nlohmann::json::array();
  for (auto& [service, list] : by_service) {
    resource_spans.push_back(
        {{"resource",
          {{"attributes", nlohmann::json::array({{{"key", "service.name"},
                                                  {"value", {{"stringValue", service}}}}})}}},
         {"scopeSpans",
          nlohmann::json::array({{{"scope", {{"name", "halyard-proxy"}}}, {"spans", list}}})}});
  }
  return nlohmann::json{{"resourceSpans", std::move(resource_spans)}}.dump();
}

}  // namespace halyard::telemetry
