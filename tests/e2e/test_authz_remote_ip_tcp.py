"""AuthorizationPolicy at a gateway beyond plain HTTP: remoteIpBlocks / remote.ip from
X-Forwarded-For with MeshConfig gatewayTopology.numTrustedProxies (ipBlocks staying the
connection's peer), policies on Gateway TCP servers (evaluated at connection start, a denial
closes the connection, is counted and logged with the policy's name; an ALLOW rule using HTTP
fields is dropped on TCP as Istio drops it), and MeshConfig pathNormalization."""
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, free_port, service, tcp_gateway
from test_tcp_tls_routing import TcpBackend, closed_without_data, tcp_exchange


def request(port, path="/", headers=None, host="ip.example.com"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers=dict({"Host": host}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def mesh(text):
    lines = "".join("    %s\n" % line for line in text.strip().splitlines())
    return """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
%s---
""" % lines


HTTP_GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [ip.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [ip.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: app.default.svc.cluster.local, port: {number: 80}}}]
---
"""

REMOTE_POLICIES = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-partner, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules:
  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
  - to: [{operation: {paths: ["/peer*", "/when*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: peer-not-partner, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - from: [{source: {ipBlocks: [203.0.113.0/24]}}]
    to: [{operation: {paths: ["/peer*"]}}]
  - to: [{operation: {paths: ["/when*"]}}]
    when: [{key: remote.ip, values: [198.51.100.0/24]}]
---
"""


@pytest.fixture(scope="module")
def backend():
    b = EchoBackend("app")
    yield b
    b.stop()


def remote_proxy(tmp, backend, topology):
    return Proxy(tmp, mesh(topology) + service("app", backend.port) + "---\n" + HTTP_GATEWAY +
                 REMOTE_POLICIES)


def test_remote_ip_follows_xff_with_trusted_proxies(tmp_path, backend):
    proxy = remote_proxy(tmp_path, backend, "defaultConfig:\n  gatewayTopology: "
                                            "{numTrustedProxies: 1}")
    try:
        # One trusted proxy in front: the client is the last address it appended.
        assert request(proxy.port, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 200
        assert request(proxy.port, headers={
            "X-Forwarded-For": "203.0.113.9, 192.0.2.1"})[0] == 403
        assert request(proxy.port)[0] == 403  # no XFF: the peer, 127.0.0.1
        # ipBlocks is still the connection's peer: the DENY on 203.0.113.0/24 does not apply.
        assert request(proxy.port, "/peer", headers={"X-Forwarded-For": "203.0.113.9"})[0] == 200
        # when remote.ip: the same address.
        status, body = request(proxy.port, "/when", headers={"X-Forwarded-For": "198.51.100.4"})
        assert (status, body) == (403, "RBAC: access denied")
        assert request(proxy.port, "/when", headers={"X-Forwarded-For": "192.0.2.4"})[0] == 200
    finally:
        proxy.stop()


def test_without_trusted_proxies_xff_is_not_believed(tmp_path, backend):
    proxy = remote_proxy(tmp_path, backend, "gatewayTopology: {numTrustedProxies: 0}")
    try:
        assert request(proxy.port, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 403
        assert request(proxy.port, "/when", headers={"X-Forwarded-For": "198.51.100.4"})[0] == 200
    finally:
        proxy.stop()


def test_path_normalization_merge_slashes(tmp_path, backend):
    policy = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
"""
    config = service("app", backend.port) + "---\n" + HTTP_GATEWAY + policy
    merge = Proxy(tmp_path / "merge", mesh("pathNormalization: {normalization: "
                                           "DECODE_AND_MERGE_SLASHES}") + config)
    base = Proxy(tmp_path / "base", config)
    try:
        # DECODE_AND_MERGE_SLASHES: "//admin" and "/x%2F..%2Fadmin" are /admin.
        assert request(merge.port, "//admin")[0] == 403
        assert request(merge.port, "/x%2F..%2Fadmin")[0] == 403
        status, body = request(merge.port, "/public//a")
        assert status == 200 and json.loads(body)["path"] == "/public/a"
        # BASE (the default) leaves double slashes alone: "//admin" is not /admin* (Python's
        # http.server itself collapses leading slashes, so the app's view is checked elsewhere).
        assert request(base.port, "//admin")[0] == 200
        status, body = request(base.port, "/public//a")
        assert status == 200 and json.loads(body)["path"] == "/public//a"
    finally:
        merge.stop()
        base.stop()


ECHO_ROUTE = "- route: [{destination: {host: echo, port: {number: 7000}}}]"


def tcp_service(name, port, backend_port):
    return service(name, backend_port, port, port_name="tcp") + "---\n"


def test_tcp_servers_enforce_policies_at_connection_start(tmp_path):
    echo = TcpBackend("echo")
    denied_port, open_port = free_port(), free_port()
    log = tmp_path / "access.log"
    config = tcp_service("echo", 7000, echo.port) + tcp_gateway([9000, 9001], ECHO_ROUTE) + """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-9000, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  # methods is HTTP-only: on TCP the DENY rule keeps its port and denies every connection.
  - to: [{operation: {ports: ["9000"], methods: [POST]}}]
"""
    proxy = Proxy(tmp_path, config, extra_args=[
        "--port-map", "9000=%d" % denied_port, "--port-map", "9001=%d" % open_port,
        "--access-log", str(log)])
    try:
        assert tcp_exchange(open_port, b"hi") == b"echo:hi"
        before = echo.connections
        assert closed_without_data(denied_port, b"hi")
        assert echo.connections == before  # never connected upstream
        stats = proxy.admin("/stats/prometheus")
        assert any(line.startswith("envoy_tcp_rbac_denied") and line.endswith(" 1")
                   for line in stats.splitlines()), stats
        deadline = time.time() + 5
        while time.time() < deadline and "no-9000" not in (log.read_text() if log.exists()
                                                            else ""):
            time.sleep(0.1)
        assert "rbac_access_denied_matched_policy[istio-system/no-9000]" in log.read_text()
    finally:
        proxy.stop()
        echo.stop()


def test_tcp_allow_rules_with_http_fields_are_dropped(tmp_path):
    echo = TcpBackend("echo")
    port = free_port()
    config = tcp_service("echo", 7000, echo.port) + tcp_gateway([9000], ECHO_ROUTE) + """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules:
  - to: [{operation: {methods: [GET]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: local-clients, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules:
  - from: [{source: {ipBlocks: [127.0.0.0/8]}}]
    to: [{operation: {ports: ["9000"]}}]
"""
    proxy = Proxy(tmp_path, config, extra_args=["--port-map", "9000=%d" % port])
    try:
        # get-only's rule is dropped (it allows nothing on TCP); local-clients allows.
        assert tcp_exchange(port, b"x") == b"echo:x"
    finally:
        proxy.stop()
    config2 = config.replace("127.0.0.0/8", "10.0.0.0/8")
    (tmp_path / "second").mkdir()
    proxy = Proxy(tmp_path / "second", config2, extra_args=["--port-map", "9000=%d" % port])
    try:
        assert closed_without_data(port, b"x")
    finally:
        proxy.stop()
        echo.stop()


def test_dry_run_policies_are_counted_and_decide_nothing(tmp_path, backend):
    policy = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: would-deny
  namespace: istio-system
  annotations: {istio.io/dry-run: "true"}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/shadow*"]}}]
"""
    proxy = Proxy(tmp_path, service("app", backend.port) + "---\n" + HTTP_GATEWAY + policy)
    try:
        assert request(proxy.port, "/shadow")[0] == 200
        assert request(proxy.port, "/other")[0] == 200
        stats = proxy.admin("/stats/prometheus").splitlines()
        denied = [l for l in stats if l.startswith("envoy_http_rbac_istio_dry_run_deny_shadow_denied")]
        allowed = [l for l in stats
                   if l.startswith("envoy_http_rbac_istio_dry_run_deny_shadow_allowed")]
        assert denied and denied[0].endswith(" 1"), stats
        assert allowed and allowed[0].endswith(" 1"), stats
        assert "dry-run AuthorizationPolicy istio-system/would-deny (DENY) matched GET /shadow" \
            in proxy.output()
    finally:
        proxy.stop()
