"""Routing and route actions through the real proxy: no route (404 NR), redirect, direct
response, CORS, fault injection (abort, delay), header operations, rewrites, weighted split."""
import time

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, gateway, service

HOST = "routes.example.com"


def config(v1, v2):
    vs = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: routes, namespace: default}
spec:
  hosts: [routes.example.com]
  gateways: [routes-gw]
  http:
  - name: redirect
    match: [{uri: {prefix: /redirect}}]
    redirect: {uri: /new-place, authority: new.example.com, redirectCode: 302}
  - name: direct
    match: [{uri: {exact: /direct}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
    headers:
      response:
        set: {x-direct: "yes"}
  - name: cors
    match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: "https://app.example.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-exposed]
      maxAge: 1h
    route: [{destination: {host: v1}}]
  - name: abort
    match: [{uri: {prefix: /fault-abort}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - name: delay
    match: [{uri: {prefix: /fault-delay}}]
    fault: {delay: {fixedDelay: 400ms, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - name: headers
    match: [{uri: {prefix: /headers}}]
    headers:
      request:
        set: {x-req-set: route}
        add: {x-req-add: added}
        remove: [x-remove-me]
      response:
        set: {x-resp-set: route}
        remove: [x-served-by]
    route:
    - destination: {host: v1}
      headers:
        request:
          set: {x-dest: v1}
        response:
          add: {x-dest-resp: v1}
  - name: rewrite
    match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new, authority: rewritten.example.com}
    route: [{destination: {host: v1}}]
  - name: split
    match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: v1}, weight: 70}
    - {destination: {host: v2}, weight: 30}
  - name: default
    match: [{uri: {prefix: /app}}]
    route: [{destination: {host: v1}}]
"""
    secure = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: secure, namespace: default}
spec:
  hosts: [secure.example.com]
  gateways: [secure-gw]
  http:
  - route: [{destination: {host: v1}}]
"""
    return "---\n".join([gateway("routes-gw", [HOST]), vs, service("v1", v1.port),
                         service("v2", v2.port),
                         gateway("secure-gw", ["secure.example.com"], extra="    tls: {httpsRedirect: true}\n"),
                         secure])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    v1, v2 = EchoBackend("v1"), EchoBackend("v2")
    proxy = Proxy(tmp_path_factory.mktemp("routing"), config(v1, v2))
    yield proxy, v1, v2
    proxy.stop()
    v1.stop()
    v2.stop()


def test_no_route_is_404_nr(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/elsewhere", HOST)
    assert r.status == 404
    assert r.headers["x-halyard-reason"] == "no route for host routes.example.com path /elsewhere"


def test_redirect(env):
    proxy, v1, _ = env
    before = v1.count()
    r = curl(proxy.port, "/redirect/x?q=1", HOST)
    assert r.status == 302
    assert r.headers["location"] == "http://new.example.com/new-place?q=1"
    assert "redirect" in r.headers["x-halyard-reason"]
    assert v1.count() == before


def test_gateway_https_redirect(env):
    proxy, v1, _ = env
    before = v1.count()
    r = curl(proxy.port, "/login?next=/", "secure.example.com")
    assert r.status == 301
    assert r.headers["location"] == "https://secure.example.com/login?next=/"
    assert "requires TLS" in r.headers["x-halyard-reason"]
    assert v1.count() == before


def test_direct_response_with_route_response_headers(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/direct", HOST)
    assert r.status == 418
    assert r.body == "short and stout"
    assert r.headers["x-direct"] == "yes"
    assert "direct response" in r.headers["x-halyard-reason"]


def test_cors_preflight_is_answered_locally(env):
    proxy, v1, _ = env
    before = v1.count()
    r = curl(proxy.port, "/cors", HOST, "-X", "OPTIONS", "-H", "Origin: https://app.example.com",
             "-H", "Access-Control-Request-Method: POST")
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "x-custom"
    assert r.headers["access-control-max-age"] == "3600"
    assert v1.count() == before


def test_cors_simple_request_gets_allow_origin_from_upstream_response(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/cors", HOST, "-H", "Origin: https://app.example.com")
    assert r.status == 200 and r.json()["service"] == "v1"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "x-exposed"
    r = curl(proxy.port, "/cors", HOST, "-H", "Origin: https://evil.example.com")
    assert "access-control-allow-origin" not in r.headers


def test_fault_abort(env):
    proxy, v1, _ = env
    before = v1.count()
    r = curl(proxy.port, "/fault-abort", HOST)
    assert r.status == 503
    assert "fault injection abort" in r.headers["x-halyard-reason"]
    assert v1.count() == before


def test_fault_delay(env):
    proxy, _, _ = env
    start = time.monotonic()
    r = curl(proxy.port, "/fault-delay", HOST)
    assert r.status == 200 and r.json()["service"] == "v1"
    assert time.monotonic() - start >= 0.39


def test_header_operations_route_then_destination(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/headers", HOST, "-H", "x-remove-me: 1", "-H", "x-req-set: client",
             "-H", "x-req-add: client")
    assert r.status == 200
    seen = r.json()
    headers = seen["headers"]
    assert "x-remove-me" not in headers
    assert headers["x-req-set"] == "route"
    assert [v for k, v in seen["header_list"] if k == "x-req-add"] == ["client", "added"]
    assert headers["x-dest"] == "v1"
    assert r.headers["x-resp-set"] == "route"
    assert r.headers["x-dest-resp"] == "v1"
    assert "x-served-by" not in r.headers


def test_uri_and_authority_rewrite(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/old/page?x=1", HOST)
    seen = r.json()
    assert seen["path"] == "/new/page?x=1"
    assert seen["headers"]["host"] == "rewritten.example.com"
    assert seen["headers"]["x-envoy-original-path"] == "/old/page?x=1"


def test_weighted_split(env):
    proxy, _, _ = env
    served = [curl(proxy.port, "/split", HOST).json()["service"] for _ in range(100)]
    v1 = served.count("v1")
    assert served.count("v2") == 100 - v1
    assert 50 <= v1 <= 90, served


def test_request_id_kept_when_present(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/app", HOST, "-H", "x-request-id: my-id-1")
    assert r.json()["headers"]["x-request-id"] == "my-id-1"
    r = curl(proxy.port, "/app", HOST, "-H", "x-forwarded-for: 10.1.1.1")
    assert r.json()["headers"]["x-forwarded-for"] == "10.1.1.1, 127.0.0.1"


def test_hop_by_hop_headers_are_not_forwarded(env):
    proxy, _, _ = env
    r = curl(proxy.port, "/app", HOST, "-H", "Connection: keep-alive, x-private",
             "-H", "x-private: secret", "-H", "Keep-Alive: timeout=5", "-H", "TE: trailers",
             "-H", "Proxy-Connection: keep-alive", "-H", "Upgrade-Insecure-Requests: 1")
    headers = r.json()["headers"]
    for name in ("x-private", "keep-alive", "te", "proxy-connection"):
        assert name not in headers, name
    assert headers["upgrade-insecure-requests"] == "1"
