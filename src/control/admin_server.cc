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

namespace halyard::control {

namespace {

constexpr size_t kMaxRequestHead = 8 * 1024;

std::string httpResponse(int status, const std::string& reason, const std::string& content_type,
                         const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
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

std::string AdminServer::respond(const std::string& request_line) const {
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
                      "no such page; try /ready, /status or /metrics\n");
}

}  // namespace halyard::control
