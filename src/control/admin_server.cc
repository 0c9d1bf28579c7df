#include "control/admin_server.h"

#include <google/protobuf/util/json_util.h>

#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <istream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>

#include "common/log.h"
#include "control/jwks/jwks_fetcher.h"
#include "control/observability/control_metrics.h"
#include "control/observability/dashboard_page.h"
#include "control/observability/prometheus_sd.h"

namespace halyard::control {

namespace {

constexpr size_t kMaxRequestHead = 8 * 1024;
// A POSTed body (a batch of spans) larger than this is refused: proxies send batches of a few
// hundred kilobytes at most.
constexpr size_t kMaxRequestBody = 4 * 1024 * 1024;

std::string httpResponse(int status, const std::string& reason, const std::string& content_type,
                         const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

// Milliseconds from a query such as "max_age_ms=5000"; `fallback` when absent.
std::chrono::milliseconds queryMillis(const std::string& query, const std::string& key,
                                      std::chrono::milliseconds fallback) {
  const std::string prefix = key + "=";
  for (size_t pos = 0; pos <= query.size();) {
    size_t end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    if (query.compare(pos, prefix.size(), prefix) == 0) {
      return std::chrono::milliseconds(
          std::strtoll(query.c_str() + pos + prefix.size(), nullptr, 10));
    }
    pos = end + 1;
  }
  return fallback;
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Per connected proxy, labelled proxy ("name.namespace"), proxy_namespace and proxy_role (not
// namespace/role: those are the scrape target's own labels from /sd/prometheus). What the
// alerts on NACKed and stale config and on certificates close to expiry read.
void proxyGauges(std::string& out, const v1::StatusResponse& s) {
  struct Family {
    const char* name;
    const char* help;
  };
  const Family families[] = {
      {"halyard_control_proxy_sent_version", "The last config version pushed to the proxy."},
      {"halyard_control_proxy_acked_version", "The last config version the proxy ACKed."},
      {"halyard_control_proxy_nacked", "1 when the proxy's last answer was a NACK."},
      {"halyard_control_proxy_push_pending_seconds",
       "How long the proxy has left the last push unanswered (0: answered)."},
      {"halyard_control_proxy_config_error", "1 when no config could be translated for the proxy."},
      {"halyard_control_proxy_certificate_expiry_timestamp_seconds",
       "notAfter of the proxy's workload certificate (0: none issued)."},
      {"halyard_control_proxy_certificate_issued_timestamp_seconds",
       "notBefore of the proxy's workload certificate (0: none issued)."},
  };
  for (size_t f = 0; f < std::size(families); ++f) {
    out += std::string("# HELP ") + families[f].name + " " + families[f].help + "\n# TYPE " +
           families[f].name + " gauge\n";
    for (const auto& p : s.proxies()) {
      const bool pending = p.sent_version() > 0 && p.last_response_version() < p.sent_version();
      int64_t value = 0;
      switch (f) {
        case 0:
          value = static_cast<int64_t>(p.sent_version());
          break;
        case 1:
          value = static_cast<int64_t>(p.acked_version());
          break;
        case 2:
          value = p.last_response() == "NACK" ? 1 : 0;
          break;
        case 3:
          value = pending && p.ms_since_last_push() > 0 ? p.ms_since_last_push() / 1000 : 0;
          break;
        case 4:
          value = !p.last_error().empty() && p.last_response() != "NACK" ? 1 : 0;
          break;
        case 5:
          value = p.certificate_not_after();
          break;
        default:
          value = p.certificate_not_before();
          break;
      }
      out += std::string(families[f].name) + "{proxy=\"" + escapeLabel(p.id()) +
             "\",proxy_namespace=\"" + escapeLabel(p.namespace_()) + "\",proxy_role=\"" +
             escapeLabel(p.role()) + "\"} " + std::to_string(value) + "\n";
    }
  }
}

std::string metrics(const v1::StatusResponse& s, const IdentityCounters* identity) {
  std::map<std::string, int> by_role;
  uint64_t pushes = 0, nacks = 0;
  for (const auto& p : s.proxies()) {
    ++by_role[p.role()];
    pushes += p.pushes();
    nacks += p.nacks();
  }
  std::string out;
  auto gauge = [&out](const std::string& name, const std::string& help, const std::string& type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  gauge("halyard_control_config_version", "Current config generation.", "gauge");
  out += "halyard_control_config_version " + std::to_string(s.version()) + "\n";
  gauge("halyard_control_objects", "Objects in the effective config.", "gauge");
  out += "halyard_control_objects " + std::to_string(s.objects()) + "\n";
  gauge("halyard_control_quarantined_objects", "Objects left out because they are invalid.",
        "gauge");
  out += "halyard_control_quarantined_objects " + std::to_string(s.quarantined_size()) + "\n";
  gauge("halyard_control_proxies", "Connected proxies by role.", "gauge");
  for (const auto& [role, n] : by_role) {
    out += "halyard_control_proxies{role=\"" + role + "\"} " + std::to_string(n) + "\n";
  }
  gauge("halyard_control_pushes", "Snapshots pushed to the connected proxies.", "gauge");
  out += "halyard_control_pushes " + std::to_string(pushes) + "\n";
  gauge("halyard_control_nacks", "Snapshots the connected proxies rejected.", "gauge");
  out += "halyard_control_nacks " + std::to_string(nacks) + "\n";
  if (const jwks::JwksFetcher* f = jwks::activeFetcher()) out += f->metrics();
  size_t rejected = 0;
  for (const auto& q : s.quarantined()) rejected += q.previous_version_serving() ? 0 : 1;
  gauge("halyard_control_rejected_objects",
        "Quarantined objects with no earlier valid version serving in their place.", "gauge");
  out += "halyard_control_rejected_objects " + std::to_string(rejected) + "\n";
  gauge("halyard_control_config_problems",
        "Problems that quarantine nothing: documents that did not load, duplicates, warnings.",
        "gauge");
  out += "halyard_control_config_problems " + std::to_string(s.config_problems_size()) + "\n";
  proxyGauges(out, s);
  controlMetrics().render(out);
  if (!identity) return out;
  gauge("halyard_control_certificates_issued_total", "Workload certificates signed.", "counter");
  out += "halyard_control_certificates_issued_total " +
         std::to_string(identity->certificates_issued.load()) + "\n";
  gauge("halyard_control_certificate_errors_total",
        "Certificate signing requests refused (bad CSR, too frequent).", "counter");
  out += "halyard_control_certificate_errors_total " +
         std::to_string(identity->certificate_errors.load()) + "\n";
  gauge("halyard_control_credential_refusals_total",
        "Proxy streams refused for their credential, by gRPC status.", "counter");
  out += "halyard_control_credential_refusals_total{code=\"UNAUTHENTICATED\"} " +
         std::to_string(identity->refused_unauthenticated.load()) + "\n";
  out += "halyard_control_credential_refusals_total{code=\"PERMISSION_DENIED\"} " +
         std::to_string(identity->refused_permission_denied.load()) + "\n";
  return out;
}

}  // namespace

AdminServer::AdminServer(const PushController& controller, const IdentityCounters* identity,
                         AdminOptions options)
    : controller_(controller), identity_(identity), options_(std::move(options)) {
  if (!options_.prometheus_url.empty()) {
    options_.scrape.interval = std::chrono::milliseconds(0);
    prometheus_ = std::make_unique<PrometheusReader>(
        io_, [this] { return controller_.status(); }, options_.prometheus_url);
  }
  scraper_ = std::make_unique<MeshScraper>(
      io_, [this] { return controller_.status(); }, options_.scrape);
}

AdminServer::~AdminServer() {
  stop();
}

common::Expected<void> AdminServer::start(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "admin address " + address + " is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::error_code ec;
  const auto ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  int port = -1;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (ec || port < 0 || port > 65535) {
    return common::fail(common::ErrorKind::kInvalidArgument,
                        "admin address " + address + " is not host:port");
  }
  acceptor_.emplace(io_);
  const asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot listen on " + address + " (admin): " + ec.message());
  }
  const uint16_t bound = acceptor_->local_endpoint().port();
  std::string reachable = ip.is_unspecified() ? (ip.is_v6() ? "::1" : "127.0.0.1") : ip.to_string();
  if (reachable.find(':') != std::string::npos) reachable = "[" + reachable + "]";
  address_ = reachable + ":" + std::to_string(bound);
  accept();
  scraper_->start();
  thread_ = std::thread([this] { io_.run(); });
  HLOG_INFO("control plane admin on port {}", bound);
  return common::Ok{};
}

void AdminServer::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void AdminServer::accept() {
  acceptor_->async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) return;  // closed
    auto conn = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
    auto buf = std::make_shared<asio::streambuf>(kMaxRequestHead + kMaxRequestBody);
    asio::async_read_until(
        *conn, *buf, "\r\n\r\n", [this, conn, buf](std::error_code ec, size_t head_size) {
          if (ec || head_size > kMaxRequestHead) return;
          auto request = std::make_shared<Request>();
          std::istream in(buf.get());
          std::string line;
          std::getline(in, line);
          std::istringstream words(line);
          words >> request->method >> request->target;
          if (auto q = request->target.find('?'); q != std::string::npos) {
            request->query = request->target.substr(q + 1);
            request->target.resize(q);
          }
          size_t length = 0;
          while (std::getline(in, line) && line != "\r") {
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (name == "content-length")
              length = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
          }
          auto reply = [conn](std::string text) {
            auto response = std::make_shared<std::string>(std::move(text));
            asio::async_write(*conn, asio::buffer(*response),
                              [conn, response](std::error_code, size_t) {});
          };
          if (length > kMaxRequestBody) {
            return reply(httpResponse(413, "Payload Too Large", "text/plain",
                                      "a request body must be at most 4 MiB\n"));
          }
          // What read_until read past the head is the body's start.
          request->body.assign(std::istreambuf_iterator<char>(in), {});
          if (request->body.size() >= length) {
            request->body.resize(length);
            return respond(*request, reply);
          }
          const size_t have = request->body.size();
          request->body.resize(length);
          asio::async_read(*conn, asio::buffer(request->body.data() + have, length - have),
                           [this, conn, request, reply](std::error_code ec, size_t) {
                             if (!ec) respond(*request, reply);
                           });
        });
    accept();
  });
}

void AdminServer::respond(const Request& request, std::function<void(std::string)> reply) {
  if (request.method == "GET" && request.target == "/api/dashboard") {
    // A script (or a test) asking right after some traffic gets a fresh round; the page asks
    // with max_age_ms and reads the newest periodic round.
    auto answer = [reply](std::string json) {
      reply(httpResponse(200, "OK", "application/json", json));
    };
    if (prometheus_ && request.query.find("source=scrape") == std::string::npos) {
      prometheus_->dashboard(answer);
      return;
    }
    const auto max_age = queryMillis(request.query, "max_age_ms", std::chrono::milliseconds(0));
    scraper_->dashboard(max_age, [reply](std::string json) {
      reply(httpResponse(200, "OK", "application/json", json));
    });
    return;
  }
  reply(respondNow(request));
}

std::string AdminServer::respondNow(const Request& request) {
  const std::string& method = request.method;
  const std::string& target = request.target;
  if (target == "/api/v2/spans") {
    if (method != "POST") {
      return httpResponse(405, "Method Not Allowed", "text/plain",
                          "POST a JSON array of Zipkin v2 spans here\n");
    }
    auto added = traces_.add(request.body);
    if (!added) return httpResponse(400, "Bad Request", "text/plain", added.error().message + "\n");
    return httpResponse(202, "Accepted", "text/plain", "");
  }
  if (method != "GET") return httpResponse(405, "Method Not Allowed", "text/plain", "GET only\n");
  if (target == "/api/traces")
    return httpResponse(200, "OK", "application/json", traces_.recentJson());
  if (target.starts_with("/api/traces/")) {
    return httpResponse(200, "OK", "application/json",
                        traces_.traceJson(target.substr(std::string("/api/traces/").size())));
  }
  if (target == "/ready") return httpResponse(200, "OK", "text/plain", "ready\n");
  if (target == "/metrics") {
    return httpResponse(200, "OK", "text/plain; version=0.0.4",
                        metrics(controller_.status(), identity_));
  }
  if (target == "/" || target == "/dashboard") {
    return httpResponse(200, "OK", "text/html; charset=utf-8", std::string(dashboardPage()));
  }
  if (target == "/sd/prometheus") {
    return httpResponse(200, "OK", "application/json",
                        prometheusSdJson(controller_.status(), address_));
  }
  if (target == "/status") {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(controller_.status(), &json, options);
    return httpResponse(200, "OK", "application/json", json);
  }
  return httpResponse(
      404, "Not Found", "text/plain",
      "no such page; try /, /ready, /status, /metrics, /sd/prometheus, /api/dashboard or "
      "/api/traces\n");
}

}  // namespace halyard::control
