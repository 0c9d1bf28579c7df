#include "control/observability/mesh_scraper.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace halyard::control {

namespace {

// GET http://address/path on a fresh connection; "" when it fails within a second.
std::string httpGet(const std::string& address, const std::string& path) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0) {
    return "";
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return "";
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return "";
  }
  std::string response;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, n);
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  if (response.compare(0, 12, "HTTP/1.1 200") != 0 || body == std::string::npos) return "";
  return response.substr(body + 4);
}

std::string label(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() || it->second.empty() ? "unknown" : it->second;
}

// The p99 of a cumulative histogram (le -> count), interpolated within its bucket.
double quantile(const std::map<double, double>& buckets, double q) {
  if (buckets.empty()) return 0;
  const double total = buckets.rbegin()->second;
  if (total <= 0) return 0;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;
      const double in = count - below;
      return in <= 0 ? le : lower + (le - lower) * (rank - below) / in;
    }
    lower = le;
    below = count;
  }
  return lower;
}

}  // namespace

std::vector<MeshScraper::Sample> MeshScraper::parse(const std::string& text,
                                                    const std::string& metric) {
  std::vector<Sample> out;
  const std::string prefix = metric + "{";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(prefix)) continue;
    Sample s;
    size_t i = prefix.size();
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find("=\"", i);
      if (eq == std::string_view::npos) break;
      std::string key(line.substr(i, eq - i));
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value += line[j] == 'n' ? '\n' : line[j];
        } else {
          value += line[j];
        }
      }
      s.labels[std::move(key)] = std::move(value);
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    s.value = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::string MeshScraper::dashboardJson(const v1::StatusResponse& status) {
  using nlohmann::json;
  std::map<std::string, Totals> edges;     // "src|dst|service"
  std::map<std::string, Totals> services;  // destination service
  json denials = json::array();
  json proxies = json::array();
  for (const auto& p : status.proxies()) {
    json proxy{{"id", p.id()},
               {"name", p.name()},
               {"namespace", p.namespace_()},
               {"role", p.role()},
               {"version", p.build_version()},
               {"acked_version", p.acked_version()},
               {"sent_version", p.sent_version()},
               {"last_response", p.last_response()},
               {"last_error", p.last_error()},
               {"certificate_not_after", p.certificate_not_after()},
               {"admin", p.admin_address()},
               {"scraped", false}};
    if (!p.admin_address().empty()) {
      const std::string text = httpGet(p.admin_address(), "/stats/prometheus");
      proxy["scraped"] = !text.empty();
      // The server's view for the graph (it knows the caller over mutual TLS), the clients'
      // view for services (it sees what never reached a server: faults, 503s).
      for (const auto& s : parse(text, "istio_requests_total")) {
        const std::string reporter = label(s.labels, "reporter");
        const std::string code = label(s.labels, "response_code");
        const bool error = !code.empty() && code[0] == '5';
        // Edges from the servers' reports (each request once); a gateway's own report only for
        // requests that reached no workload (a fault abort, no endpoint), which no server saw.
        const bool unreached = label(s.labels, "destination_workload") == "unknown";
        if (reporter == "destination" || (p.role() == "gateway" && unreached)) {
          const std::string key = label(s.labels, "source_workload") + "|" +
                                  label(s.labels, "destination_workload") + "|" +
                                  label(s.labels, "destination_service");
          Totals& e = edges[key];
          e.requests += s.value;
          if (error) e.errors += s.value;
          if (label(s.labels, "connection_security_policy") == "mutual_tls") e.mtls = true;
          if (reporter == "destination" && (code == "401" || code == "403")) {
            denials.push_back({{"source", label(s.labels, "source_workload")},
                               {"source_namespace", label(s.labels, "source_workload_namespace")},
                               {"principal", label(s.labels, "source_principal")},
                               {"destination", label(s.labels, "destination_workload")},
                               {"code", code},
                               {"count", s.value}});
          }
        }
        if (reporter == "source") {
          Totals& svc = services[label(s.labels, "destination_service")];
          svc.requests += s.value;
          if (error) svc.errors += s.value;
        }
      }
      for (const auto& s : parse(text, "istio_request_duration_milliseconds_bucket")) {
        if (label(s.labels, "reporter") != "source") continue;
        const std::string le = label(s.labels, "le");
        const double bound = le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr);
        services[label(s.labels, "destination_service")].buckets[bound] += s.value;
      }
    }
    proxies.push_back(std::move(proxy));
  }

  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  const double dt = has_previous_ ? std::chrono::duration<double>(now - previous_at_).count() : 0.0;
  auto rate = [&](const std::string& key, const Totals& t, json& out) {
    out["requests"] = t.requests;
    out["errors"] = t.errors;
    out["rps"] = nullptr;
    out["error_percent"] = nullptr;
    out["p99_ms"] = nullptr;
    auto prev = previous_.find(key);
    if (dt <= 0 || prev == previous_.end()) return;
    const double d_req = t.requests - prev->second.requests;
    const double d_err = t.errors - prev->second.errors;
    out["rps"] = std::max(0.0, d_req) / dt;
    out["error_percent"] = d_req > 0 ? 100.0 * d_err / d_req : 0.0;
    std::map<double, double> delta;
    for (const auto& [le, count] : t.buckets) {
      auto p = prev->second.buckets.find(le);
      delta[le] = count - (p == prev->second.buckets.end() ? 0 : p->second);
    }
    if (!delta.empty() && delta.rbegin()->second > 0) out["p99_ms"] = quantile(delta, 0.99);
  };
  std::map<std::string, Totals> current;
  json edge_list = json::array();
  for (const auto& [key, t] : edges) {
    const auto a = key.find('|'), b = key.find('|', a + 1);
    json e{{"source", key.substr(0, a)},
           {"destination", key.substr(a + 1, b - a - 1)},
           {"service", key.substr(b + 1)},
           {"mtls", t.mtls}};
    rate("edge|" + key, t, e);
    current["edge|" + key] = t;
    edge_list.push_back(std::move(e));
  }
  json service_list = json::array();
  for (const auto& [name, t] : services) {
    json s{{"service", name}};
    rate("svc|" + name, t, s);
    // p99 over everything so far when there is no earlier scrape to subtract.
    if (s["p99_ms"].is_null() && !t.buckets.empty() && t.buckets.rbegin()->second > 0) {
      s["p99_ms_total"] = quantile(t.buckets, 0.99);
    }
    current["svc|" + name] = t;
    service_list.push_back(std::move(s));
  }
  previous_ = std::move(current);
  previous_at_ = now;
  has_previous_ = true;

  json quarantined = json::array();
  for (const auto& q : status.quarantined()) {
    std::string problem = q.problems_size() > 0 ? q.problems(0).message() : "";
    quarantined.push_back({{"kind", q.kind()},
                           {"namespace", q.namespace_()},
                           {"name", q.name()},
                           {"where", q.file() + ":" + std::to_string(q.line())},
                           {"problem", problem}});
  }
  return json{{"config_version", status.version()}, {"proxies", std::move(proxies)},
              {"edges", std::move(edge_list)},      {"services", std::move(service_list)},
              {"denials", std::move(denials)},      {"quarantined", std::move(quarantined)}}
      .dump();
}

}  // namespace halyard::control
