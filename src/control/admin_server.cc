#include "control/admin_server.h"

#include <google/protobuf/util/json_util.h>

#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>
#include <istream>
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

std::string httpResponse(int status, const std::string& reason, const std::string& content_type,
                         const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
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
    auto buf = std::make_shared<asio::streambuf>(kMaxRequestHead);
    asio::async_read_until(*conn, *buf, "\r\n\r\n", [this, conn, buf](std::error_code ec, size_t) {
      if (ec) return;
      std::istream in(buf.get());
      std::string line;
      std::getline(in, line);
      auto response = std::make_shared<std::string>(respond(line));
      asio::async_write(*conn, asio::buffer(*response),
                        [conn, response](std::error_code, size_t) {});
    });
    accept();
  });
}

std::string AdminServer::respond(const std::string& request_line) {
  std::istringstream words(request_line);
  std::string method, target;
  words >> method >> target;
  target = target.substr(0, target.find('?'));
  if (method != "GET") return httpResponse(405, "Method Not Allowed", "text/plain", "GET only\n");
  if (target == "/ready") return httpResponse(200, "OK", "text/plain", "ready\n");
  if (target == "/metrics") {
    return httpResponse(200, "OK", "text/plain; version=0.0.4",
                        metrics(controller_.status(), identity_));
  }
  if (target == "/" || target == "/dashboard") {
    return httpResponse(200, "OK", "text/html; charset=utf-8", std::string(dashboardPage()));
  }
  if (target == "/api/dashboard") {
    return httpResponse(200, "OK", "application/json",
                        scraper_.dashboardJson(controller_.status()));
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
  return httpResponse(404, "Not Found", "text/plain",
                      "no such page; try /, /ready, /status, /metrics or /sd/prometheus\n");
}

}  // namespace halyard::control
