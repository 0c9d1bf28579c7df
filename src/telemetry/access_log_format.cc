#include "telemetry/access_log_format.h"

#include <charconv>

#include "common/json_string.h"

namespace halyard::telemetry {

namespace {

using common::appendJsonString;

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 chars hold any uint64_t
  out.append(buf, end);
}

void appendPadded(std::string& out, unsigned v, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, width);
}

void appendOrDash(std::string& out, std::string_view v) {
  if (v.empty()) {
    out.push_back('-');
  } else {
    out.append(v);
  }
}

void appendQuoted(std::string& out, std::string_view v) {
  out.push_back('"');
  appendOrDash(out, v);
  out.push_back('"');
}

// Writes `"key":` with the separator before every key but the first.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }
  void string(std::string_view key, std::string_view v) {
    this->key(key);
    if (v.empty()) {
      out_.append("null");
    } else {
      appendJsonString(out_, v);
    }
  }
  void number(std::string_view key, uint64_t v) {
    this->key(key);
    appendNumber(out_, v);
  }
  // A value already rendered as JSON (a quoted string or a literal).
  std::string& raw(std::string_view key) {
    this->key(key);
    return out_;
  }
  void close() { out_.append("}\n"); }

 private:
  void key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
  }
  std::string& out_;
  bool first_ = true;
};

uint64_t millis(std::chrono::milliseconds d) {
  return d.count() < 0 ? 0 : d.count();
}

}  // namespace

void appendStartTime(std::string& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  appendPadded(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  out.push_back('-');
  appendPadded(out, static_cast<unsigned>(ymd.month()), 2);
  out.push_back('-');
  appendPadded(out, static_cast<unsigned>(ymd.day()), 2);
  out.push_back('T');
  appendPadded(out, static_cast<unsigned>(hms.hours().count()), 2);
  out.push_back(':');
  appendPadded(out, static_cast<unsigned>(hms.minutes().count()), 2);
  out.push_back(':');
  appendPadded(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out.push_back('.');
  appendPadded(out, static_cast<unsigned>(hms.subseconds().count()), 3);
  out.push_back('Z');
}

void appendTextLine(std::string& out, const AccessLogEntry& e) {
  out.push_back('[');
  appendStartTime(out, e.start_time);
  out.append("] \"");
  appendOrDash(out, e.method);
  out.push_back(' ');
  appendOrDash(out, e.path);
  out.push_back(' ');
  appendOrDash(out, e.protocol);
  out.append("\" ");
  appendNumber(out, e.response_code);
  out.push_back(' ');
  e.response_flags.appendTo(out);
  out.push_back(' ');
  appendOrDash(out, e.response_code_details);
  out.push_back(' ');
  appendOrDash(out, e.connection_termination_details);
  out.push_back(' ');
  appendQuoted(out, e.upstream_transport_failure_reason);
  out.push_back(' ');
  appendNumber(out, e.bytes_received);
  out.push_back(' ');
  appendNumber(out, e.bytes_sent);
  out.push_back(' ');
  appendNumber(out, millis(e.duration));
  out.push_back(' ');
  if (e.upstream_service_time) {
    appendNumber(out, millis(*e.upstream_service_time));
  } else {
    out.push_back('-');
  }
  out.push_back(' ');
  appendQuoted(out, e.x_forwarded_for);
  out.push_back(' ');
  appendQuoted(out, e.user_agent);
  out.push_back(' ');
  appendQuoted(out, e.request_id);
  out.push_back(' ');
  appendQuoted(out, e.authority);
  out.push_back(' ');
  appendQuoted(out, e.upstream_host);
  for (std::string_view v :
       {e.upstream_cluster, e.upstream_local_address, e.downstream_local_address,
        e.downstream_remote_address, e.requested_server_name, e.route_name}) {
    out.push_back(' ');
    appendOrDash(out, v);
  }
  out.push_back('\n');
}

void appendJsonLine(std::string& out, const AccessLogEntry& e) {
  JsonObject o(out);
  std::string& start = o.raw("start_time");
  start.push_back('"');
  appendStartTime(start, e.start_time);
  start.push_back('"');
  o.string("route_name", e.route_name);
  o.string("method", e.method);
  o.string("path", e.path);
  o.string("protocol", e.protocol);
  o.number("response_code", e.response_code);
  std::string& flags = o.raw("response_flags");
  flags.push_back('"');
  e.response_flags.appendTo(flags);  // short codes and commas only: nothing to escape
  flags.push_back('"');
  o.string("response_code_details", e.response_code_details);
  o.string("connection_termination_details", e.connection_termination_details);
  o.number("bytes_received", e.bytes_received);
  o.number("bytes_sent", e.bytes_sent);
  o.number("duration", millis(e.duration));
  // A response header in Envoy's format, hence a string.
  std::string& ust = o.raw("upstream_service_time");
  if (e.upstream_service_time) {
    ust.push_back('"');
    appendNumber(ust, millis(*e.upstream_service_time));
    ust.push_back('"');
  } else {
    ust.append("null");
  }
  o.string("x_forwarded_for", e.x_forwarded_for);
  o.string("user_agent", e.user_agent);
  o.string("request_id", e.request_id);
  o.string("authority", e.authority);
  o.string("upstream_host", e.upstream_host);
  o.string("upstream_cluster", e.upstream_cluster);
  o.string("upstream_local_address", e.upstream_local_address);
  o.string("downstream_local_address", e.downstream_local_address);
  o.string("downstream_remote_address", e.downstream_remote_address);
  o.string("requested_server_name", e.requested_server_name);
  o.string("upstream_transport_failure_reason", e.upstream_transport_failure_reason);
  o.string("downstream_peer_uri_san", e.downstream_peer_uri_san);
  o.string("upstream_peer_uri_san", e.upstream_peer_uri_san);
  o.close();
}

namespace {

using Template = translate::AccessLogTemplate;
using Command = Template::Command;

// The value of a string command; empty when the request has none.
std::string_view stringValue(const Template::Part& p, const AccessLogEntry& e) {
  switch (p.command) {
    case Command::kRequestHeader: {
      auto header = [&e](std::string_view name) -> std::string_view {
        if (name == ":method") return e.method;
        if (name == ":path" || name == "x-envoy-original-path") return e.path;
        if (name == ":authority" || name == "host") return e.authority;
        if (name == "user-agent") return e.user_agent;
        if (name == "x-request-id") return e.request_id;
        if (name == "x-forwarded-for") return e.x_forwarded_for;
        return e.request_headers(name).value_or(std::string_view());
      };
      std::string_view v = header(p.text);
      if (v.empty() && !p.fallback.empty()) v = header(p.fallback);
      return v;
    }
    case Command::kProtocol:
      return e.protocol;
    case Command::kResponseCodeDetails:
      return e.response_code_details;
    case Command::kConnectionTerminationDetails:
      return e.connection_termination_details;
    case Command::kUpstreamTransportFailureReason:
      return e.upstream_transport_failure_reason;
    case Command::kUpstreamHost:
      return e.upstream_host;
    case Command::kUpstreamCluster:
      return e.upstream_cluster;
    case Command::kUpstreamLocalAddress:
      return e.upstream_local_address;
    case Command::kDownstreamLocalAddress:
      return e.downstream_local_address;
    case Command::kDownstreamRemoteAddress:
      return e.downstream_remote_address;
    case Command::kDownstreamRemoteAddressWithoutPort: {
      std::string_view a = e.downstream_remote_address;
      const size_t colon = a.rfind(':');
      if (colon != std::string_view::npos) a = a.substr(0, colon);
      if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
      return a;
    }
    case Command::kRequestedServerName:
      return e.requested_server_name;
    case Command::kRouteName:
      return e.route_name;
    case Command::kDownstreamPeerUriSan:
      return e.downstream_peer_uri_san;
    case Command::kUpstreamPeerUriSan:
      return e.upstream_peer_uri_san;
    default:
      return {};
  }
}

// Appends the part's value; false when it had none (nothing appended).
bool appendPart(std::string& out, const Template::Part& p, const AccessLogEntry& e) {
  const size_t before = out.size();
  switch (p.command) {
    case Command::kLiteral:
      out.append(p.text);
      return true;
    case Command::kStartTime:
      appendStartTime(out, e.start_time);
      break;
    case Command::kResponseCode:
      appendNumber(out, e.response_code);
      break;
    case Command::kResponseFlags:
      e.response_flags.appendTo(out);
      break;
    case Command::kBytesReceived:
      appendNumber(out, e.bytes_received);
      break;
    case Command::kBytesSent:
      appendNumber(out, e.bytes_sent);
      break;
    case Command::kDuration:
      appendNumber(out, millis(e.duration));
      break;
    case Command::kUpstreamServiceTime:
      if (!e.upstream_service_time) return false;
      appendNumber(out, millis(*e.upstream_service_time));
      break;
    default: {
      const std::string_view v = stringValue(p, e);
      if (v.empty()) return false;
      out.append(v);
    }
  }
  if (p.max_length && out.size() - before > p.max_length) out.resize(before + p.max_length);
  return true;
}

}  // namespace

void appendTemplateLine(std::string& out, const AccessLogEntry& e,
                        const translate::AccessLogTemplate& format) {
  if (!format.json()) {
    const size_t start = out.size();
    for (const auto& part : format.text()) {
      if (!appendPart(out, part, e)) out.push_back('-');
    }
    if (out.size() == start || out.back() != '\n') out.push_back('\n');
    return;
  }
  // A mixed value is printed here first, then escaped; kept per thread, so steady state does
  // not allocate.
  thread_local std::string scratch;
  JsonObject o(out);
  for (const auto& [key, parts] : format.labels()) {
    std::string& v = o.raw(key);
    if (parts.size() == 1 && parts.front().command != Command::kLiteral) {
      const Template::Part& p = parts.front();
      if (Template::numeric(p.command)) {
        if (!appendPart(v, p, e)) v.append("null");
        continue;
      }
      scratch.clear();
      if (appendPart(scratch, p, e)) {
        appendJsonString(v, scratch);
      } else {
        v.append("null");
      }
      continue;
    }
    scratch.clear();
    for (const auto& part : parts) {
      if (!appendPart(scratch, part, e)) scratch.push_back('-');
    }
    appendJsonString(v, scratch);
  }
  o.close();
}

}  // namespace halyard::telemetry
