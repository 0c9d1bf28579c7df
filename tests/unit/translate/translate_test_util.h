// Helpers for the translate tests: YAML text -> ConfigSet -> Snapshot, lookups into the result,
// and requests for the router.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"
#include "proxy/http/request_view.h"
#include "proxy/router/router.h"
#include "translate/translate.h"

namespace halyard::translate::testing {

// A gateway on port 80 for a.example.com and the head of a VirtualService bound to it, up to its
// `http:` list: the test appends the routes (items indented by two spaces).
inline constexpr std::string_view kGatewayRoutesHead = R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [a.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
)";

inline config::model::ConfigSet parseConfig(std::string_view yaml) {
  config::LoadResult loaded;
  config::loadText(yaml, "test.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().message;
  return config::buildConfigSet(loaded.objects);
}

inline TranslateResult translateYaml(std::string_view yaml, const ProxyIdentity& proxy = {}) {
  return buildSnapshot(parseConfig(yaml), proxy, 1);
}

// The snapshot, failing the test (with every diagnostic) when there is none.
inline const Snapshot& snapshotOf(const TranslateResult& r) {
  static const Snapshot kEmpty;
  std::string all;
  for (const auto& d : r.diagnostics) all += d.code + " " + d.message + "\n";
  EXPECT_NE(r.snapshot, nullptr) << all;
  return r.snapshot ? *r.snapshot : kEmpty;
}

inline const Listener* listenerOn(const Snapshot& s, uint16_t port) {
  for (const auto& l : s.listeners) {
    if (l.port == port) return &l;
  }
  return nullptr;
}

inline const VirtualHost* vhostFor(const Snapshot& s, uint16_t port, std::string_view host) {
  const Listener* l = listenerOn(s, port);
  if (!l) return nullptr;
  for (const auto& v : l->routes->virtual_hosts) {
    for (const auto& d : v.domains) {
      if (d == host) return &v;
    }
  }
  return nullptr;
}

inline const ForwardAction* forward(const Route& r) {
  return std::get_if<ForwardAction>(&r.action);
}

inline bool hasWarning(const TranslateResult& r, std::string_view needle) {
  for (const auto& d : r.diagnostics) {
    if (d.message.find(needle) != std::string::npos) return true;
  }
  return false;
}

// A request the router can match; the view points into this object, so keep it alive.
struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string authority = "example.com";
  std::string scheme = "http";
  uint16_t listener_port = 80;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<proxy::http::HeaderView> views;

  proxy::http::RequestView view() {
    views.clear();
    for (const auto& [n, v] : headers) views.push_back({n, v});
    proxy::http::RequestView r;
    r.method = method;
    r.path = path;
    r.authority = authority;
    r.scheme = scheme;
    r.listener_port = listener_port;
    r.headers = views;
    return r;
  }
};

// The route the router picks on `port` for the request, null when none.
inline const Route* routeFor(const Snapshot& s, uint16_t port, Request req) {
  const Listener* l = listenerOn(s, port);
  if (!l) return nullptr;
  req.listener_port = port;
  return proxy::router::selectRoute(*l->routes, req.view()).route;
}

}  // namespace halyard::translate::testing
