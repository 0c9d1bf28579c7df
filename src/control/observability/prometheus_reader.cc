#include "control/observability/prometheus_reader.h"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "control/observability/dashboard_json.h"

namespace halyard::control {

namespace {

using nlohmann::json;

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string label(const json& metric, const char* key) {
  auto it = metric.find(key);
  return it != metric.end() && it->is_string() && !it->get<std::string>().empty()
             ? it->get<std::string>()
             : "unknown";
}

// A sample's value ("NaN" when Prometheus has no rate yet): null when not a finite number.
json sampleValue(const json& sample) {
  auto v = sample.find("value");
  if (v == sample.end() || !v->is_array() || v->size() != 2 || !(*v)[1].is_string()) return nullptr;
  const double d = std::strtod((*v)[1].get<std::string>().c_str(), nullptr);
  return std::isfinite(d) ? json(d) : json(nullptr);
}

// The queries, by name. Edges are the servers' view (reporter="destination"), services the
// clients' view (reporter="source"), as in deploy/prometheus/recording_rules.yml.
const std::vector<std::pair<std::string, std::string>>& queries() {
  static const std::vector<std::pair<std::string, std::string>> q = {
      {"edge_rate", "edge:istio_requests:rate1m"},
      {"edge_5xx_rate",
       "sum by (source_workload, destination_workload, destination_service) "
       "(rate(istio_requests_total{reporter=\"destination\", response_code=~\"5..\"}[1m]))"},
      {"edge_total",
       "sum by (source_workload, destination_workload, destination_service, "
       "connection_security_policy, response_code) "
       "(workload:istio_requests_total{reporter=\"destination\"})"},
      {"service_rate", "service:istio_requests:rate1m"},
      {"service_5xx_ratio", "service:istio_requests_5xx:ratio_rate1m"},
      {"service_p99", "service:istio_request_duration_milliseconds:p99_rate1m"},
      {"service_total",
       "sum by (destination_service, response_code) "
       "(workload:istio_requests_total{reporter=\"source\"})"},
      {"denials",
       "sum by (source_workload, source_workload_namespace, source_principal, "
       "destination_workload, response_code) (workload:istio_requests_total{reporter="
       "\"destination\", response_code=~\"401|403\"})"},
      {"up", "up"},
  };
  return q;
}

}  // namespace

struct PrometheusReader::Pending {
  std::function<void(std::string)> done;
  v1::StatusResponse status;
  std::map<std::string, json> results;  // by query name: data.result
  std::vector<std::string> errors;
  size_t outstanding = 0;
};

PrometheusReader::PrometheusReader(asio::io_context& io, StatusSource status, std::string url,
                                   std::chrono::milliseconds timeout)
    : io_(io), status_(std::move(status)), timeout_(timeout) {
  std::string rest = url.starts_with("http://") ? url.substr(7) : url;
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  prefix_ = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  const auto colon = authority.rfind(':');
  host_ = colon == std::string::npos ? authority : authority.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (host_.size() > 1 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
}

PrometheusReader::~PrometheusReader() {
  *alive_ = false;
}

void PrometheusReader::dashboard(std::function<void(std::string)> done) {
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  pending->status = status_();
  pending->outstanding = queries().size() + 1;
  for (const auto& [name, expr] : queries()) {
    query(pending, name, prefix_ + "/api/v1/query?query=" + urlEncode(expr));
  }
  // Each service's requests/s over the last five minutes, a point per 15 s (the rules' interval).
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  query(pending, "service_history",
        prefix_ + "/api/v1/query_range?query=" + urlEncode("service:istio_requests:rate1m") +
            "&start=" + std::to_string(now - 300) + "&end=" + std::to_string(now) + "&step=15");
}

void PrometheusReader::query(const std::shared_ptr<Pending>& pending, const std::string& name,
                             const std::string& target) {
  struct Call {
    Call(asio::io_context& io) : socket(io), resolver(io), timer(io) {}
    asio::ip::tcp::socket socket;
    asio::ip::tcp::resolver resolver;
    asio::steady_timer timer;
    std::string request;
    std::string response;
    bool finished = false;
  };
  auto call = std::make_shared<Call>(io_);
  call->request = "GET " + target + " HTTP/1.1\r\nHost: " + host_ + ":" + port_ +
                  "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  auto finish = [this, pending, name, call, alive = alive_](bool ok) {
    if (call->finished || !*alive) return;
    call->finished = true;
    call->timer.cancel();
    std::error_code ignored;
    call->socket.close(ignored);
    call->resolver.cancel();
    const auto head_end = call->response.find("\r\n\r\n");
    json doc;
    if (ok && head_end != std::string::npos) {
      doc = json::parse(call->response.substr(head_end + 4), nullptr, false);
    }
    if (!doc.is_discarded() && doc.is_object() && doc.value("status", "") == "success" &&
        doc.contains("data") && doc["data"].contains("result")) {
      pending->results[name] = doc["data"]["result"];
    } else {
      pending->errors.push_back(name + ": " +
                                (ok ? call->response.substr(0, call->response.find("\r\n"))
                                    : std::string("no answer from ") + host_ + ":" + port_));
    }
    if (--pending->outstanding > 0) return;

    // Every query has answered: the dashboard JSON.
    auto& r = pending->results;
    auto each = [&r](const char* q) -> const json& {
      static const json empty = json::array();
      auto it = r.find(q);
      return it == r.end() || !it->second.is_array() ? empty : it->second;
    };
    struct Edge {
      json rps = nullptr, errors_rps = nullptr;
      double requests = 0, errors = 0;
      bool mtls = false;
    };
    std::map<std::string, Edge> edges;
    auto edgeKey = [](const json& m) {
      return label(m, "source_workload") + "|" + label(m, "destination_workload") + "|" +
             label(m, "destination_service");
    };
    for (const auto& s : each("edge_rate")) {
      Edge& e = edges[edgeKey(s["metric"])];
      const json v = sampleValue(s);
      if (v.is_number()) e.rps = (e.rps.is_number() ? e.rps.get<double>() : 0.0) + v.get<double>();
      if (label(s["metric"], "connection_security_policy") == "mutual_tls") e.mtls = true;
    }
    for (const auto& s : each("edge_5xx_rate")) {
      const json v = sampleValue(s);
      if (v.is_number()) edges[edgeKey(s["metric"])].errors_rps = v;
    }
    for (const auto& s : each("edge_total")) {
      Edge& e = edges[edgeKey(s["metric"])];
      const json v = sampleValue(s);
      const double n = v.is_number() ? v.get<double>() : 0;
      e.requests += n;
      if (label(s["metric"], "response_code")[0] == '5') e.errors += n;
      if (label(s["metric"], "connection_security_policy") == "mutual_tls") e.mtls = true;
    }
    json edge_list = json::array();
    for (const auto& [key, e] : edges) {
      const auto a = key.find('|'), b = key.find('|', a + 1);
      json error_percent = nullptr;
      if (e.rps.is_number()) {
        const double rps = e.rps.get<double>();
        const double err = e.errors_rps.is_number() ? e.errors_rps.get<double>() : 0.0;
        error_percent = rps > 0 ? 100.0 * err / rps : 0.0;
      }
      edge_list.push_back({{"source", key.substr(0, a)},
                           {"destination", key.substr(a + 1, b - a - 1)},
                           {"service", key.substr(b + 1)},
                           {"mtls", e.mtls},
                           {"requests", e.requests},
                           {"errors", e.errors},
                           {"rps", e.rps},
                           {"error_percent", error_percent},
                           {"p99_ms", nullptr}});
    }
    std::map<std::string, json> services;
    auto service = [&services](const json& m) -> json& {
      const std::string name = label(m, "destination_service");
      auto [it, inserted] = services.try_emplace(name);
      if (inserted) {
        it->second = {{"service", name},         {"requests", 0.0},   {"errors", 0.0},
                      {"rps", nullptr},          {"p99_ms", nullptr}, {"error_percent", nullptr},
                      {"history", json::array()}};
      }
      return it->second;
    };
    for (const auto& s : each("service_rate")) service(s["metric"])["rps"] = sampleValue(s);
    for (const auto& s : each("service_5xx_ratio")) {
      const json v = sampleValue(s);
      service(s["metric"])["error_percent"] = v.is_number() ? json(100 * v.get<double>()) : v;
    }
    for (const auto& s : each("service_p99")) service(s["metric"])["p99_ms"] = sampleValue(s);
    for (const auto& s : each("service_total")) {
      json& svc = service(s["metric"]);
      const json v = sampleValue(s);
      const double n = v.is_number() ? v.get<double>() : 0;
      svc["requests"] = svc["requests"].get<double>() + n;
      if (label(s["metric"], "response_code")[0] == '5') {
        svc["errors"] = svc["errors"].get<double>() + n;
      }
    }
    for (const auto& series : each("service_history")) {
      json& svc = service(series["metric"]);
      for (const auto& point : series.value("values", json::array())) {
        if (!point.is_array() || point.size() != 2 || !point[1].is_string()) continue;
        const double rps = std::strtod(point[1].get<std::string>().c_str(), nullptr);
        svc["history"].push_back({static_cast<int64_t>(point[0].get<double>() * 1000),
                                  std::isfinite(rps) ? json(rps) : json(nullptr), nullptr,
                                  nullptr});
      }
    }
    // The rate of 5xx is not a recording rule per service when none answered 5xx: 0 then.
    for (auto& [name, svc] : services) {
      if (svc["error_percent"].is_null() && svc["rps"].is_number()) svc["error_percent"] = 0.0;
    }
    json service_list = json::array();
    for (auto& [name, svc] : services) service_list.push_back(std::move(svc));
    json denials = json::array();
    for (const auto& s : each("denials")) {
      const json& m = s["metric"];
      const json v = sampleValue(s);
      denials.push_back({{"source", label(m, "source_workload")},
                         {"source_namespace", label(m, "source_workload_namespace")},
                         {"principal", label(m, "source_principal")},
                         {"destination", label(m, "destination_workload")},
                         {"code", label(m, "response_code")},
                         {"count", v.is_number() ? v.get<double>() : 0.0}});
    }
    std::map<std::string, bool> up;  // by the proxy label of /sd/prometheus ("name.namespace")
    for (const auto& s : each("up")) {
      const json v = sampleValue(s);
      up[label(s["metric"], "proxy")] = v.is_number() && v.get<double>() == 1;
    }
    json out{{"source", "prometheus"},
             {"prometheus", "http://" + host_ + ":" + port_ + prefix_},
             {"prometheus_errors", pending->errors},
             {"edges", std::move(edge_list)},
             {"services", std::move(service_list)},
             {"denials", std::move(denials)}};
    const auto& status = pending->status;
    putStatusJson(out, status, [&](int i) {
      auto it = up.find(status.proxies(i).id());
      return it != up.end() && it->second;
    });
    pending->done(out.dump());
  };
  call->timer.expires_after(timeout_);
  call->timer.async_wait([finish](std::error_code ec) {
    if (!ec) finish(false);
  });
  call->resolver.async_resolve(
      host_, port_,
      [call, finish](std::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) return finish(false);
        asio::async_connect(
            call->socket, results,
            [call, finish](std::error_code ec, const asio::ip::tcp::endpoint&) {
              if (ec) return finish(false);
              asio::async_write(
                  call->socket, asio::buffer(call->request),
                  [call, finish](std::error_code ec, size_t) {
                    if (ec) return finish(false);
                    asio::async_read(
                        call->socket, asio::dynamic_buffer(call->response),
                        [finish](std::error_code ec, size_t) { finish(ec == asio::error::eof); });
                  });
            });
      });
}

}  // namespace halyard::control
