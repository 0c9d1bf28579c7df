// An envoyFileAccessLog provider's `logFormat` (MeshConfig extensionProviders): `text`, an Envoy
// format string ("[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%\n"), or `labels`, a JSON object
// whose values are such strings. Compiled once per config into literal runs and commands, so a
// line is printed without looking at the source text again.
//
// Commands: START_TIME, REQ(name) and REQ(name?fallback) (any request header; :method, :path,
// :authority, x-envoy-original-path), RESP(x-envoy-upstream-service-time), PROTOCOL,
// RESPONSE_CODE, RESPONSE_FLAGS, RESPONSE_CODE_DETAILS, CONNECTION_TERMINATION_DETAILS,
// UPSTREAM_TRANSPORT_FAILURE_REASON, BYTES_RECEIVED, BYTES_SENT, DURATION, UPSTREAM_HOST,
// UPSTREAM_CLUSTER, UPSTREAM_LOCAL_ADDRESS, DOWNSTREAM_LOCAL_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS,
// DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, REQUESTED_SERVER_NAME, ROUTE_NAME,
// DOWNSTREAM_PEER_URI_SAN, UPSTREAM_PEER_URI_SAN; an optional `:N` cuts the value to N bytes;
// `%%` is a percent sign. Anything else is outside what the proxy prints: parse answers an error
// naming it, the translator reports it and the provider keeps Istio's default format.
//
// Header-only: the proxy parses the text again from its snapshot (wire/snapshot_codec.cc).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace halyard::translate {

class AccessLogTemplate {
 public:
  enum class Command : uint8_t {
    kLiteral,
    kStartTime,
    kRequestHeader,  // header: the lowercase name; fallback: the name after '?'
    kUpstreamServiceTime,
    kProtocol,
    kResponseCode,
    kResponseFlags,
    kResponseCodeDetails,
    kConnectionTerminationDetails,
    kUpstreamTransportFailureReason,
    kBytesReceived,
    kBytesSent,
    kDuration,
    kUpstreamHost,
    kUpstreamCluster,
    kUpstreamLocalAddress,
    kDownstreamLocalAddress,
    kDownstreamRemoteAddress,
    kDownstreamRemoteAddressWithoutPort,
    kRequestedServerName,
    kRouteName,
    kDownstreamPeerUriSan,
    kUpstreamPeerUriSan,
  };
  struct Part {
    Command command = Command::kLiteral;
    std::string text;       // kLiteral: the text; kRequestHeader: the header's lowercase name
    std::string fallback;   // kRequestHeader: REQ(a?b)'s b
    size_t max_length = 0;  // 0: no limit
  };
  // One format string.
  using Parts = std::vector<Part>;

  bool json() const { return !labels_.empty(); }
  const Parts& text() const { return text_; }
  const std::vector<std::pair<std::string, Parts>>& labels() const { return labels_; }

  // The numeric commands print as JSON numbers when a label's value is that command alone.
  static bool numeric(Command c) {
    return c == Command::kResponseCode || c == Command::kBytesReceived ||
           c == Command::kBytesSent || c == Command::kDuration ||
           c == Command::kUpstreamServiceTime;
  }

  // `text`; an error naming what is wrong otherwise.
  static std::variant<AccessLogTemplate, std::string> parseText(std::string_view text) {
    AccessLogTemplate t;
    if (auto error = compile(text, t.text_); !error.empty()) return error;
    return t;
  }
  // `labels` in their order (the JSON keys of each line).
  static std::variant<AccessLogTemplate, std::string> parseLabels(
      const std::vector<std::pair<std::string, std::string>>& labels) {
    AccessLogTemplate t;
    for (const auto& [key, value] : labels) {
      Parts parts;
      if (auto error = compile(value, parts); !error.empty()) return "label " + key + ": " + error;
      t.labels_.emplace_back(key, std::move(parts));
    }
    if (t.labels_.empty()) return std::string("labels is empty; expected at least one key");
    return t;
  }

 private:
  static std::string compile(std::string_view s, Parts& out) {
    static constexpr std::pair<std::string_view, Command> kNames[] = {
        {"START_TIME", Command::kStartTime},
        {"PROTOCOL", Command::kProtocol},
        {"RESPONSE_CODE_DETAILS", Command::kResponseCodeDetails},
        {"RESPONSE_CODE", Command::kResponseCode},
        {"RESPONSE_FLAGS", Command::kResponseFlags},
        {"CONNECTION_TERMINATION_DETAILS", Command::kConnectionTerminationDetails},
        {"UPSTREAM_TRANSPORT_FAILURE_REASON", Command::kUpstreamTransportFailureReason},
        {"BYTES_RECEIVED", Command::kBytesReceived},
        {"BYTES_SENT", Command::kBytesSent},
        {"DURATION", Command::kDuration},
        {"UPSTREAM_HOST", Command::kUpstreamHost},
        {"UPSTREAM_CLUSTER", Command::kUpstreamCluster},
        {"UPSTREAM_LOCAL_ADDRESS", Command::kUpstreamLocalAddress},
        {"DOWNSTREAM_LOCAL_ADDRESS", Command::kDownstreamLocalAddress},
        {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Command::kDownstreamRemoteAddressWithoutPort},
        {"DOWNSTREAM_REMOTE_ADDRESS", Command::kDownstreamRemoteAddress},
        {"REQUESTED_SERVER_NAME", Command::kRequestedServerName},
        {"ROUTE_NAME", Command::kRouteName},
        {"DOWNSTREAM_PEER_URI_SAN", Command::kDownstreamPeerUriSan},
        {"UPSTREAM_PEER_URI_SAN", Command::kUpstreamPeerUriSan},
    };
    auto literal = [&out](std::string_view text) {
      if (text.empty()) return;
      if (out.empty() || out.back().command != Command::kLiteral) out.emplace_back();
      out.back().text.append(text);
    };
    size_t pos = 0;
    while (pos < s.size()) {
      const size_t open = s.find('%', pos);
      if (open == std::string_view::npos) {
        literal(s.substr(pos));
        break;
      }
      literal(s.substr(pos, open - pos));
      if (open + 1 < s.size() && s[open + 1] == '%') {
        literal("%");
        pos = open + 2;
        continue;
      }
      const size_t close = s.find('%', open + 1);
      if (close == std::string_view::npos) {
        return "the % at offset " + std::to_string(open) + " starts a command that never ends";
      }
      std::string_view cmd = s.substr(open + 1, close - open - 1);
      pos = close + 1;
      Part part;
      // A length limit after the command (or after its parenthesis): %REQ(X):10%.
      const size_t paren = cmd.rfind(')');
      const size_t colon = cmd.find(':', paren == std::string_view::npos ? 0 : paren);
      if (colon != std::string_view::npos) {
        const std::string_view digits = cmd.substr(colon + 1);
        if (digits.empty() || digits.size() > 6 ||
            !std::all_of(digits.begin(), digits.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
          return "%" + std::string(cmd) + "% has a length that is not a number";
        }
        part.max_length = std::stoul(std::string(digits));
        cmd = cmd.substr(0, colon);
      }
      if (cmd.starts_with("REQ(") && cmd.ends_with(")")) {
        std::string name(cmd.substr(4, cmd.size() - 5));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const size_t q = name.find('?'); q != std::string::npos) {
          part.fallback = name.substr(q + 1);
          name.resize(q);
        }
        if (name.empty()) return "%" + std::string(cmd) + "% names no header";
        part.command = Command::kRequestHeader;
        part.text = std::move(name);
        out.push_back(std::move(part));
        continue;
      }
      if (cmd.starts_with("RESP(") && cmd.ends_with(")")) {
        std::string name(cmd.substr(5, cmd.size() - 6));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name != "x-envoy-upstream-service-time") {
          return "%" + std::string(cmd) +
                 "% is a response header the proxy does not log (only "
                 "x-envoy-upstream-service-time)";
        }
        part.command = Command::kUpstreamServiceTime;
        out.push_back(std::move(part));
        continue;
      }
      bool known = false;
      for (const auto& [name, command] : kNames) {
        if (cmd != name) continue;
        part.command = command;
        known = true;
        break;
      }
      if (!known) return "%" + std::string(cmd) + "% is not a command the proxy prints";
      out.push_back(std::move(part));
    }
    return {};
  }

  Parts text_;
  std::vector<std::pair<std::string, Parts>> labels_;
};

}  // namespace halyard::translate
