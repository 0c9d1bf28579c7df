"""CUSTOM AuthorizationPolicy with MeshConfig extensionProviders, at a gateway: an HTTP external
authorizer (envoyExtAuthzHttp) and a gRPC one (envoyExtAuthzGrpc, Envoy's
envoy.service.auth.v3.Authorization/Check) written here, both steered by a request header the
check forwards. Allow (with headersToUpstreamOnAllow reaching the app), deny with the
authorizer's status, body and headers, timeouts with failOpen true and false, statusOnError,
a 5xx answer, and a CUSTOM policy naming a provider the mesh config does not define."""
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from conftest import ROOT
from proxy_backends import EchoBackend
from proxy_harness import Proxy, service


class HttpAuthorizer:
    """An envoyExtAuthzHttp service. The original request's x-ext-authz header (forwarded
    through includeRequestHeadersInCheck) says what to answer: allow, deny, deny-401, slow
    (answers after 1.5 s), fail (500)."""

    def __init__(self):
        self.checks = []
        self.lock = threading.Lock()
        authorizer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with authorizer.lock:
                    authorizer.checks.append({
                        "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()}})
                mode = self.headers.get("x-ext-authz", "allow")
                if mode == "slow":
                    time.sleep(1.5)
                status, body, headers = 200, b"", [("x-authz-user", "alice"),
                                                   ("x-not-forwarded", "1"),
                                                   ("x-authz-trace", "t-1")]
                if mode == "deny":
                    status, body = 403, b"denied by the test authorizer"
                    headers = [("x-authz-reason", "not-on-the-list"), ("x-hidden", "1"),
                               ("content-type", "text/x-authz")]
                elif mode == "deny-401":
                    status, body = 401, b"who are you"
                    headers = [("www-authenticate", "Bearer realm=test")]
                elif mode == "fail":
                    status, body = 500, b"authorizer broke"
                    headers = []
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last(self):
        with self.lock:
            return self.checks[-1] if self.checks else None

    def count(self):
        with self.lock:
            return len(self.checks)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def load_messages(tmp):
    """The CheckRequest / CheckResponse classes, generated from the proxy's own .proto (Envoy's
    field numbers) with protoc."""
    out = tmp / "pb"
    out.mkdir()
    subprocess.run(["protoc", "-I", str(ROOT / "api"), "--python_out", str(out),
                    str(ROOT / "api" / "halyard" / "v1" / "ext_authz.proto")], check=True)
    sys.path.insert(0, str(out))
    from halyard.v1 import ext_authz_pb2  # noqa: E402
    return ext_authz_pb2


class GrpcAuthorizer:
    """An envoyExtAuthzGrpc service: the same x-ext-authz modes, read from the CheckRequest's
    HTTP attributes."""

    def __init__(self, pb):
        self.pb = pb
        self.checks = []
        self.tcp_mode = "allow"  # what a check without HTTP attributes (a TCP connection) gets
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(
            "envoy.service.auth.v3.Authorization",
            {"Check": grpc.unary_unary_rpc_method_handler(
                self.check, request_deserializer=pb.ExtAuthzCheckRequest.FromString,
                response_serializer=pb.ExtAuthzCheckResponse.SerializeToString)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def check(self, request, context):
        self.checks.append(request)
        http = request.attributes.request.http
        mode = http.headers.get("x-ext-authz", "allow") if http.method else self.tcp_mode
        response = self.pb.ExtAuthzCheckResponse()
        if mode == "slow":
            time.sleep(1.5)
        if mode == "fail":
            context.abort(grpc.StatusCode.UNAVAILABLE, "authorizer broke")
        if mode.startswith("deny"):
            response.status.code = 7  # PERMISSION_DENIED
            denied = response.denied_response
            if mode == "deny-401":
                denied.status.code = 401
            denied.body = "grpc authorizer says no"
            h = denied.headers.add()
            h.header.key = "x-grpc-deny"
            h.header.value = "yes"
            return response
        response.status.code = 0
        h = response.ok_response.headers.add()
        h.header.key = "x-authz-user"
        h.header.value = "grpc-alice"
        response.ok_response.headers_to_remove.append("x-drop-me")
        h = response.ok_response.response_headers_to_add.add()
        h.header.key = "x-grpc-trace"
        h.header.value = "g-1"
        return response

    def stop(self):
        self.server.stop(0)


HOSTS = ["http.example.com", "open.example.com", "grpc.example.com", "missing.example.com",
         "both.example.com"]


def config(backend, http_authz, grpc_authz):
    hosts = "".join("  - %s\n" % h for h in HOSTS)
    gateway_hosts = "".join("    - %s\n" % h for h in HOSTS)
    text = service("app", backend.port) + "---\n"
    text += service("ext-authz-http", http_authz.port, port=8000, namespace="istio-system")
    # The gRPC authorizer is a ServiceEntry host, not a Kubernetes Service.
    text += """---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc-authz, namespace: istio-system}
spec:
  hosts: [grpc-authz.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: grpc, protocol: GRPC}]
  endpoints: [{address: 127.0.0.1, ports: {grpc: %d}}]
""" % grpc_authz.port
    text += """---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: http-authz
      envoyExtAuthzHttp:
        service: ext-authz-http.istio-system.svc.cluster.local
        port: 8000
        pathPrefix: /check
        timeout: 0.5s
        statusOnError: "503"
        includeRequestHeadersInCheck: [x-ext-authz, "x-forward-*"]
        includeAdditionalHeadersInCheck: {x-added-by-proxy: gateway}
        headersToUpstreamOnAllow: [x-authz-user]
        headersToDownstreamOnAllow: [x-authz-trace]
        headersToDownstreamOnDeny: [x-authz-reason]
    - name: http-authz-open
      envoyExtAuthzHttp:
        service: ext-authz-http.istio-system.svc.cluster.local
        port: 8000
        timeout: 0.5s
        failOpen: true
        includeRequestHeadersInCheck: [x-ext-authz]
    - name: grpc-authz
      envoyExtAuthzGrpc:
        service: grpc-authz.internal
        port: 9000
        timeout: 0.5s
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts:
%s---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts:
%s  gateways: [gw]
  http:
  - route: [{destination: {host: app.default.svc.cluster.local, port: {number: 80}}}]
""" % (gateway_hosts, hosts)
    for name, provider, host, extra in [
            ("http-check", "http-authz", "http.example.com", ""),
            ("open-check", "http-authz-open", "open.example.com", ""),
            ("grpc-check", "grpc-authz", "grpc.example.com", ""),
            ("missing-check", "no-such-provider", "missing.example.com", ""),
            # Only /private of both.example.com is checked.
            ("both-check", "http-authz", "both.example.com", ", paths: [\"/private*\"]")]:
        text += """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: %s, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: %s}
  rules:
  - to: [{operation: {hosts: [%s]%s}}]
""" % (name, provider, host, extra)
    # A local DENY still applies after the external authorizer allowed.
    text += """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-secrets, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/secret"]}}]
"""
    return text


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ext_authz")
    pb = load_messages(tmp)
    backend = EchoBackend("app")
    http_authz = HttpAuthorizer()
    grpc_authz = GrpcAuthorizer(pb)
    proxy = Proxy(tmp, config(backend, http_authz, grpc_authz))
    try:
        yield proxy, backend, http_authz, grpc_authz
    finally:
        proxy.stop()
        grpc_authz.stop()
        http_authz.stop()
        backend.stop()


def request(port, host, path="/hello", headers=None, method="GET"):
    """(status, headers dict (lowercase), body text)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 headers=dict({"Host": host}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def test_http_allow_sets_the_upstream_headers_it_names(env):
    proxy, backend, http_authz, _ = env
    status, headers, body = request(proxy.port, "http.example.com", "/hello?x=1", headers={
        "x-ext-authz": "allow", "x-authz-user": "mallory", "x-forward-me": "a",
        "x-private": "p", "authorization": "Bearer t"})
    assert status == 200, body
    assert headers["x-authz-trace"] == "t-1"  # headersToDownstreamOnAllow
    assert "x-authz-user" not in headers
    seen = json.loads(body)["headers"]
    # headersToUpstreamOnAllow: the authorizer's value replaces the client's; other headers of
    # its answer do not reach the app.
    assert seen["x-authz-user"] == "alice"
    assert "x-not-forwarded" not in seen
    check = http_authz.last()
    assert check["method"] == "GET"
    assert check["path"] == "/check/hello?x=1"  # pathPrefix + the original path and query
    assert check["headers"]["host"] == "http.example.com"
    assert check["headers"]["x-ext-authz"] == "allow"
    assert check["headers"]["x-forward-me"] == "a"  # "x-forward-*" prefix form
    assert check["headers"]["authorization"] == "Bearer t"  # always sent, as Envoy does
    assert check["headers"]["x-added-by-proxy"] == "gateway"
    assert "x-private" not in check["headers"]


def test_http_deny_answers_with_the_authorizers_status_body_and_named_headers(env):
    proxy, backend, _, _ = env
    before = backend.count()
    status, headers, body = request(proxy.port, "http.example.com", headers={
        "x-ext-authz": "deny"})
    assert (status, body) == (403, "denied by the test authorizer")
    assert headers["x-authz-reason"] == "not-on-the-list"
    assert "x-hidden" not in headers  # not in headersToDownstreamOnDeny
    assert headers["content-type"] == "text/x-authz"
    assert "CUSTOM provider" in headers["x-halyard-reason"]
    status, headers, body = request(proxy.port, "http.example.com", headers={
        "x-ext-authz": "deny-401"})
    assert (status, body) == (401, "who are you")
    assert headers["www-authenticate"] == "Bearer realm=test"  # always passed on a denial
    assert backend.count() == before


def test_http_timeout_and_5xx_fail_closed_with_status_on_error(env):
    proxy, backend, _, _ = env
    start = time.time()
    status, headers, _ = request(proxy.port, "http.example.com", headers={"x-ext-authz": "slow"})
    assert status == 503, status
    assert time.time() - start < 1.4  # the 0.5 s timeout, not the authorizer's 1.5 s
    assert "could not decide" in headers["x-halyard-reason"]
    status, _, _ = request(proxy.port, "http.example.com", headers={"x-ext-authz": "fail"})
    assert status == 503


def test_http_timeout_fails_open_when_asked(env):
    proxy, _, _, _ = env
    status, _, body = request(proxy.port, "open.example.com", headers={"x-ext-authz": "slow"})
    assert status == 200, body
    assert "x-authz-user" not in json.loads(body)["headers"]
    # failOpen does not turn a denial into an allow.
    status, _, _ = request(proxy.port, "open.example.com", headers={"x-ext-authz": "deny"})
    assert status == 403


def test_grpc_allow_deny_and_errors(env):
    proxy, _, _, grpc_authz = env
    status, headers, body = request(proxy.port, "grpc.example.com", "/g?q=2", headers={
        "x-ext-authz": "allow", "x-drop-me": "1", "x-authz-user": "mallory"})
    assert status == 200, body
    assert headers["x-grpc-trace"] == "g-1"  # ok_response response_headers_to_add
    seen = json.loads(body)["headers"]
    assert seen["x-authz-user"] == "grpc-alice"
    assert "x-drop-me" not in seen  # ok_response headers_to_remove
    check = grpc_authz.checks[-1]
    http = check.attributes.request.http
    assert (http.method, http.path, http.host, http.query) == ("GET", "/g?q=2",
                                                               "grpc.example.com", "q=2")
    assert check.attributes.source.address.socket_address.address == "127.0.0.1"

    status, headers, body = request(proxy.port, "grpc.example.com", headers={"x-ext-authz": "deny"})
    assert (status, body) == (403, "grpc authorizer says no")
    assert headers["x-grpc-deny"] == "yes"
    status, _, _ = request(proxy.port, "grpc.example.com", headers={"x-ext-authz": "deny-401"})
    assert status == 401
    # A gRPC error status and a timeout: statusOnError's default, 403.
    status, _, _ = request(proxy.port, "grpc.example.com", headers={"x-ext-authz": "fail"})
    assert status == 403
    start = time.time()
    status, _, _ = request(proxy.port, "grpc.example.com", headers={"x-ext-authz": "slow"})
    assert status == 403 and time.time() - start < 1.4


def test_missing_provider_denies_what_the_policy_matches(env):
    proxy, backend, _, _ = env
    status, headers, body = request(proxy.port, "missing.example.com")
    assert (status, body) == (403, "RBAC: access denied")
    assert "no-such-provider" in headers["x-halyard-reason"]


def test_grpc_requests_are_denied_with_grpc_statuses(env):
    proxy, _, _, _ = env
    grpc_headers = {"content-type": "application/grpc", "te": "trailers"}
    status, headers, body = request(proxy.port, "missing.example.com", "/pkg.Svc/Call",
                                    headers=grpc_headers, method="POST")
    assert status == 200 and body == ""
    assert headers["content-type"] == "application/grpc"
    assert (headers["grpc-status"], headers["grpc-message"]) == ("7", "RBAC: access denied")
    status, headers, _ = request(proxy.port, "http.example.com", "/pkg.Svc/Call",
                                 headers=dict(grpc_headers, **{"x-ext-authz": "deny-401"}),
                                 method="POST")
    assert (status, headers["grpc-status"]) == (200, "16")  # UNAUTHENTICATED
    status, headers, _ = request(proxy.port, "http.example.com", "/pkg.Svc/Call",
                                 headers=dict(grpc_headers, **{"x-ext-authz": "fail"}),
                                 method="POST")
    assert (status, headers["grpc-status"]) == (200, "14")  # statusOnError 503: UNAVAILABLE


def test_only_matching_requests_are_checked_and_deny_still_applies(env):
    proxy, _, http_authz, _ = env
    before = http_authz.count()
    status, _, _ = request(proxy.port, "both.example.com", "/public",
                           headers={"x-ext-authz": "deny"})
    assert status == 200  # the CUSTOM rule names /private* only
    assert http_authz.count() == before
    status, _, _ = request(proxy.port, "both.example.com", "/private/x",
                           headers={"x-ext-authz": "deny"})
    assert status == 403 and http_authz.count() == before + 1
    # Allowed by the authorizer, then denied by the DENY policy.
    status, _, body = request(proxy.port, "http.example.com", "/secret",
                              headers={"x-ext-authz": "allow"})
    assert (status, body) == (403, "RBAC: access denied")


def test_denials_are_flagged_uaex_in_the_access_log(tmp_path):
    backend = EchoBackend("app")
    http_authz = HttpAuthorizer()
    log = tmp_path / "access.log"
    proxy = Proxy(tmp_path, config(backend, http_authz, http_authz),
                  extra_args=["--access-log", str(log), "--access-log-format", "json"])
    try:
        request(proxy.port, "http.example.com", headers={"x-ext-authz": "deny"})
        request(proxy.port, "http.example.com", headers={"x-ext-authz": "slow"})
        deadline = time.time() + 5
        lines = []
        while time.time() < deadline and len(lines) < 2:
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()] \
                if log.exists() else []
            time.sleep(0.1)
        details = sorted(x.get("response_code_details") for x in lines)
        assert details == ["ext_authz_denied", "ext_authz_error"], lines
        assert all("UAEX" in x.get("response_flags", "") for x in lines), lines
    finally:
        proxy.stop()
        http_authz.stop()
        backend.stop()


def test_grpc_provider_checks_tcp_connections(tmp_path):
    from test_tcp_tls_routing import TcpBackend, closed_without_data, tcp_exchange
    from proxy_harness import free_port, tcp_gateway
    pb = load_messages(tmp_path)
    grpc_authz = GrpcAuthorizer(pb)
    echo = TcpBackend("echo")
    port = free_port()
    config = service("echo", echo.port, 7000, port_name="tcp") + """---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc-authz, namespace: istio-system}
spec:
  hosts: [grpc-authz.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: grpc, protocol: GRPC}]
  endpoints: [{address: 127.0.0.1, ports: {grpc: %d}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: grpc-authz
      envoyExtAuthzGrpc: {service: grpc-authz.internal, port: 9000, timeout: 1s}
---
""" % grpc_authz.port + tcp_gateway(
        [9100], "- route: [{destination: {host: echo, port: {number: 7000}}}]") + """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: tcp-ext, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: grpc-authz}
  rules: [{to: [{operation: {ports: ["9100"]}}]}]
"""
    proxy = Proxy(tmp_path, config, extra_args=["--port-map", "9100=%d" % port])
    try:
        assert tcp_exchange(port, b"hi") == b"echo:hi"
        check = grpc_authz.checks[-1]
        assert not check.attributes.request.http.method  # no HTTP attributes on TCP
        assert check.attributes.source.address.socket_address.address == "127.0.0.1"
        grpc_authz.tcp_mode = "deny"
        assert closed_without_data(port, b"hi")
    finally:
        proxy.stop()
        echo.stop()
        grpc_authz.stop()
