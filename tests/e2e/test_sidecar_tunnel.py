"""TCP and TLS through a sidecar's CONNECT tunnel (issue 11, "Through the sidecar without a
proxy-aware app"), under a control plane with sidecars in front of apps of the test: a tunnel
to a `tcp-` service port is TCP-proxied with the port's TCP route table (VirtualService `tcp`
weights to DestinationRule subsets, mesh mutual TLS to the destination sidecars), counted in
Istio's TCP metrics (reporter="source") and logged once; TLS inside a tunnel is routed by its
SNI (`tls` routes) or passed to the service as opaque TCP, so `openssl s_client -proxy` and
`curl -p -x ... https://` reach TLS apps unchanged, also on a port of undeclared protocol (Istio's
sniffing); a destination that cannot be reached answers 503 with the reason, quickly; and
REGISTRY_ONLY refuses hosts outside the registry."""
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mesh_harness import App, Control, MeshProxy, _Process, wait_until
from test_tcp_tls_routing import TcpBackend, make_cert, metric_sum

CONFIG = """apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 9000}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  tcp:
  - match: [{port: 9000}]
    route:
    - {destination: {host: echo, subset: v1}, weight: 50}
    - {destination: {host: echo, subset: v2}, weight: 50}
---
apiVersion: v1
kind: Service
metadata: {name: tls-echo, namespace: default}
spec:
  selector: {app: tls-echo}
  ports: [{name: https, port: 8443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tls-echo, namespace: default}
spec:
  host: tls-echo
  subsets: [{name: one, labels: {version: one}}, {name: two, labels: {version: two}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-echo, namespace: default}
spec:
  hosts: [tls-echo, two.example.com]  # sniHosts must be within the hosts
  tls:
  - match: [{port: 8443, sniHosts: [two.example.com]}]
    route: [{destination: {host: tls-echo, subset: two}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: https-web, port: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: sniffed, namespace: default}
spec:
  selector: {app: sniffed}
  ports: [{port: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: opaque, namespace: default}
spec:
  selector: {app: opaque}
  ports: [{port: 7000}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: blackhole, namespace: default}
spec:
  hosts: [blackhole.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 192.0.2.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: blackhole, namespace: default}
spec:
  host: blackhole.example.com
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 1s}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: refused, namespace: default}
spec:
  hosts: [refused.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: 1}}]
"""

REGISTRY_ONLY = """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
"""


class _WithArgs(_Process):
    """Adds `extra_args` (set on the instance before MeshProxy starts it) to the command."""

    def __init__(self, args, log_path):
        super().__init__(list(args) + list(getattr(self, "extra_args", ())), log_path)


class LoggedProxy(MeshProxy, _WithArgs):
    def __init__(self, *args, access_log, **kwargs):
        self.access_log = access_log
        self.extra_args = ["--access-log", str(access_log), "--access-log-format", "json"]
        super().__init__(*args, **kwargs)

    def entries(self):
        if not self.access_log.exists():
            return []
        return [json.loads(l) for l in self.access_log.read_text().splitlines()
                if l.startswith("{")]


class HttpsApp:
    """An HTTPS server answering "<name> <path>" with its own certificate."""

    def __init__(self, name, cert):
        self.name, self.version, self.outbound = name, "v1", None
        self.cert = cert
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = ("%s %s\n" % (app.name, self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert[0], cert[1])
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tunnel")
    config = tmp / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(CONFIG)
    certs = tmp / "certs"
    certs.mkdir()
    apps = {
        "v1": TcpBackend("echo-v1", reply_at_once=True),
        "v2": TcpBackend("echo-v2", reply_at_once=True),
        "one": TcpBackend("one", make_cert(certs, "one.example.com")),
        "two": TcpBackend("two", make_cert(certs, "two.example.com")),
        "web": HttpsApp("web", make_cert(certs, "web")),
        "sniffed": HttpsApp("sniffed", make_cert(certs, "sniffed")),
        "opaque": TcpBackend("opaque", reply_at_once=True),
        "client": App("client"),
    }
    procs = []
    m = type("Mesh", (), {})()
    m.tmp, m.config, m.certs, m.apps = tmp, config, certs, apps
    try:
        control = Control(config, tmp)
        procs.append(control)
        for key, app, labels, sa in (
                ("v1", apps["v1"], "app=echo,version=v1", "echo"),
                ("v2", apps["v2"], "app=echo,version=v2", "echo"),
                ("one", apps["one"], "app=tls-echo,version=one", "tls-echo"),
                ("two", apps["two"], "app=tls-echo,version=two", "tls-echo"),
                ("web", apps["web"], "app=web,version=v1", "web"),
                ("sniffed", apps["sniffed"], "app=sniffed,version=v1", "sniffed"),
                ("opaque", apps["opaque"], "app=opaque,version=v1", "opaque")):
            procs.append(MeshProxy(control, tmp, key + "-1", role="sidecar", app=app,
                                   labels=labels, service_account=sa))
            m.sidecars = getattr(m, "sidecars", {})
            m.sidecars[key] = procs[-1]
        m.client = LoggedProxy(control, tmp, "client-1", role="sidecar", app=apps["client"],
                               access_log=tmp / "client-access.log")
        procs.append(m.client)
        m.outbound = m.client.outbound_port
        # Every destination sidecar registered and pushed to the client.
        assert wait_until(lambda: tunnel_exchange(m.outbound, "echo:9000", b"ping")[1]
                          .startswith(b"echo-v"), timeout=20), m.client.output()
        yield m
    finally:
        for p in reversed(procs):
            p.stop()
        for app in apps.values():
            app.stop()


def open_tunnel(proxy_port, target, timeout=5):
    """A CONNECT to `target`: (socket, status line, head bytes)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n", 1)[0], head


def tunnel_exchange(proxy_port, target, payload, timeout=5):
    """Sends `payload` through a tunnel and reads until the far end closes: (head, reply)."""
    try:
        s, status, head = open_tunnel(proxy_port, target, timeout)
    except OSError as e:
        return str(e).encode(), b""
    with s:
        if not status.endswith(b"200 Connection Established"):
            return head, b""
        data = head.split(b"\r\n\r\n", 1)[1]
        try:
            s.sendall(payload)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        return head, data


def test_tcp_through_connect_follows_the_tcp_route_weights_in_mutual_tls(mesh):
    seen = {}
    for i in range(30):
        head, reply = tunnel_exchange(mesh.outbound, "echo:9000", b"hello %d" % i)
        assert head.startswith(b"HTTP/1.1 200 Connection Established"), head
        name, _, echoed = reply.partition(b":")
        assert echoed == b"hello %d" % i, reply
        seen[name] = seen.get(name, 0) + 1
    assert set(seen) == {b"echo-v1", b"echo-v2"}, seen  # 50/50 by subset
    # The FQDN and name.namespace work too, as for HTTP.
    for target in ("echo.default.svc.cluster.local:9000", "echo.default:9000"):
        assert tunnel_exchange(mesh.outbound, target, b"x")[1].endswith(b":x")


def test_tcp_tunnels_are_counted_with_istio_tcp_metrics_and_logged_once(mesh):
    before = metric_sum(mesh.client.metrics(), "istio_tcp_connections_closed_total",
                        reporter="source", destination_service="echo.default.svc.cluster.local")
    logged = len([e for e in mesh.client.entries() if e.get("authority") == "echo:9000"])
    for _ in range(3):
        assert tunnel_exchange(mesh.outbound, "echo:9000", b"x" * 100)[1].endswith(b"x" * 100)
    labels = dict(reporter="source", request_protocol="tcp",
                  destination_service="echo.default.svc.cluster.local",
                  destination_principal="spiffe://cluster.local/ns/default/sa/echo",
                  source_principal="spiffe://cluster.local/ns/default/sa/client")

    def counted():
        text = mesh.client.metrics()
        return (metric_sum(text, "istio_tcp_connections_closed_total", **labels) >= before + 3
                and metric_sum(text, "istio_tcp_received_bytes_total", **labels) >= 300)

    assert wait_until(counted, timeout=5), mesh.client.metrics()
    text = mesh.client.metrics()
    assert metric_sum(text, "istio_tcp_connections_opened_total", **labels) >= before + 3
    assert metric_sum(text, "istio_tcp_sent_bytes_total", **labels) >= 300 + 3 * 8
    # One line per tunnel: the CONNECT, with the TCP connection's cluster, route and bytes.
    def lines():
        return [e for e in mesh.client.entries() if e.get("authority") == "echo:9000"]

    assert wait_until(lambda: len(lines()) >= logged + 3, timeout=5)
    lines = lines()
    last = lines[-1]
    assert last["method"] == "CONNECT" and last["response_code"] == 200, last
    assert last["route_name"] == "default/echo tcp[0]", last
    assert last["upstream_cluster"] in ("outbound|9000|v1|echo.default.svc.cluster.local",
                                        "outbound|9000|v2|echo.default.svc.cluster.local"), last
    assert last["bytes_received"] == 100 and last["bytes_sent"] == 108, last
    assert last["upstream_peer_uri_san"] == "spiffe://cluster.local/ns/default/sa/echo", last
    # The destination sidecars know the caller by its certificate, and its workload from the
    # registry (the only workload with that namespace and service account).
    peer = dict(reporter="destination", request_protocol="tcp", source_workload="client-1",
                source_workload_namespace="default", source_app="client", source_version="v1",
                source_principal="spiffe://cluster.local/ns/default/sa/client",
                connection_security_policy="mutual_tls")

    def destination_closed():
        return sum(metric_sum(mesh.sidecars[k].metrics(), "istio_tcp_connections_closed_total",
                              **peer) for k in ("v1", "v2"))

    # The registry's table reaches the destinations with the push after the client registered,
    # a moment after the client's own: a tunnel before that counts "unknown", as in Istio before
    # the peer's metadata is known.
    def one_more():
        seen = destination_closed()
        tunnel_exchange(mesh.outbound, "echo:9000", b"y")
        return wait_until(lambda: destination_closed() > seen, timeout=1)

    assert wait_until(one_more, timeout=10), mesh.sidecars["v1"].metrics()


def openssl_through(proxy_port, target, sni, payload=b"hi"):
    out = subprocess.run(["openssl", "s_client", "-proxy", "127.0.0.1:%d" % proxy_port,
                          "-connect", target, "-servername", sni, "-quiet"],
                         input=payload, capture_output=True, timeout=20)
    return out.stdout, out.stderr.decode(errors="replace")


def test_openssl_s_client_through_connect_is_routed_by_sni(mesh):
    for _ in range(3):
        reply, err = openssl_through(mesh.outbound, "tls-echo:8443", "two.example.com")
        assert reply == b"two:hi", err
    # No tls route takes this SNI: the service itself, either subset, as opaque TCP.
    seen = set()
    for _ in range(12):
        reply, err = openssl_through(mesh.outbound, "tls-echo:8443", "one.example.com")
        assert reply in (b"one:hi", b"two:hi"), err
        seen.add(reply)
    assert b"one:hi" in seen
    # The app's own certificate arrives untouched (the mesh's mutual TLS is around it).
    out = subprocess.run(["openssl", "s_client", "-proxy", "127.0.0.1:%d" % mesh.outbound,
                          "-connect", "tls-echo:8443", "-servername", "two.example.com",
                          "-brief"], input=b"", capture_output=True, timeout=20)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert "CN = two.example.com" in text or "CN=two.example.com" in text, text
    lines = [e for e in mesh.client.entries() if e.get("requested_server_name")
             == "two.example.com"]
    assert lines and lines[-1]["route_name"] == "default/tls-echo tls[0]", lines


def curl_https(proxy_port, url, cert):
    out = subprocess.run(["curl", "-s", "-S", "--max-time", "10", "-p", "-x",
                          "http://127.0.0.1:%d" % proxy_port, "--cacert", cert, url],
                         capture_output=True, timeout=20)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def test_curl_https_through_connect_reaches_a_tls_app(mesh):
    cert = mesh.apps["web"].cert[0]
    # curl checks the app's certificate for the name it connects to: resolve "web" to it.
    for _ in range(3):
        rc, out, err = curl_https(mesh.outbound, "https://web:8443/hello", cert)
        assert rc == 0 and out == "web /hello\n", err


def test_tls_to_a_port_of_undeclared_protocol_is_sniffed(mesh):
    cert = mesh.apps["sniffed"].cert[0]
    rc, out, err = curl_https(mesh.outbound, "https://sniffed:8443/x", cert)
    assert rc == 0 and out == "sniffed /x\n", err


def test_bytes_that_are_not_http_to_a_port_of_undeclared_protocol_are_sniffed(mesh):
    head, reply = tunnel_exchange(mesh.outbound, "opaque:7000", b"\x00\x01binary")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert reply == b"opaque:\x00\x01binary", reply


def test_an_unreachable_destination_answers_503_with_the_reason_quickly(mesh):
    started = time.time()
    head, _ = tunnel_exchange(mesh.outbound, "blackhole.example.com:9000", b"x", timeout=10)
    assert time.time() - started < 5, head
    assert head.startswith(b"HTTP/1.1 503"), head
    assert b"x-halyard-reason: connect to 192.0.2.1:9000" in head, head
    started = time.time()
    head, _ = tunnel_exchange(mesh.outbound, "refused.example.com:9000", b"x")
    assert time.time() - started < 2 and head.startswith(b"HTTP/1.1 503"), head
    assert b"refused" in head.lower(), head

    def counted():
        return metric_sum(mesh.client.metrics(), "istio_tcp_connections_closed_total",
                          reporter="source", response_flags="UF",
                          destination_service="blackhole.example.com") >= 1

    assert wait_until(counted, timeout=5), mesh.client.metrics()


def test_a_tunnel_whose_client_sends_nothing_does_not_hang_the_proxy(mesh):
    # tls routes on the port: the proxy answers first and waits for a ClientHello; a client
    # that sends nothing and goes away leaves nothing behind.
    s, status, _ = open_tunnel(mesh.outbound, "tls-echo:8443")
    assert status.endswith(b"200 Connection Established")
    s.close()
    # Still serving.
    assert tunnel_exchange(mesh.outbound, "echo:9000", b"y")[1].endswith(b":y")

    def logged():
        return [e for e in mesh.client.entries() if e.get("authority") == "tls-echo:8443"
                and e.get("connection_termination_details")
                == "the client closed the tunnel before sending anything"]

    assert wait_until(logged, timeout=5), mesh.client.entries()[-3:]
    assert logged()[-1]["upstream_cluster"] is None and "DC" in logged()[-1]["response_flags"]


def test_registry_only_refuses_tcp_hosts_outside_the_registry(mesh):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    policy = mesh.config / "mesh-config.yaml"
    try:
        policy.write_text(REGISTRY_ONLY)

        def refused():
            head, _ = tunnel_exchange(mesh.outbound, "127.0.0.1:%d" % port, b"x")
            return head.startswith(b"HTTP/1.1 502")

        assert wait_until(refused, timeout=10)
        head, _ = tunnel_exchange(mesh.outbound, "127.0.0.1:%d" % port, b"x")
        assert b"outboundTrafficPolicy is REGISTRY_ONLY" in head, head
        # Mesh services still are, and so are ServiceEntry hosts (the registry lets them out):
        # this one is routed, and its endpoint refuses.
        assert tunnel_exchange(mesh.outbound, "echo:9000", b"z")[1].endswith(b":z")
        head, _ = tunnel_exchange(mesh.outbound, "refused.example.com:9000", b"x")
        assert head.startswith(b"HTTP/1.1 503") and b"refused" in head.lower(), head
    finally:
        policy.unlink()
        listener.close()


HTTPS_APP = r'''
import os, ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, cert, key = sys.argv[1:4]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("%s %s\n" % (name, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
'''

UP_CONFIG = """apiVersion: v1
kind: Service
metadata: {name: secure, namespace: default}
spec:
  selector: {app: secure}
  ports: [{name: https, port: 8443, targetPort: %(secure)d}]
---
apiVersion: v1
kind: Service
metadata: {name: plain-port, namespace: default}
spec:
  selector: {app: plain-port}
  ports: [{port: 9443, targetPort: %(plain)d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: secure, labels: {app: secure, version: v1}}
spec:
  service: secure
  port: %(secure)d
  command: [/usr/bin/python3, %(app)s, secure, %(cert)s, %(key)s]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: plain-port, labels: {app: plain-port, version: v1}}
spec:
  service: plain-port
  port: %(plain)d
  command: [/usr/bin/python3, %(app)s, plain-port, %(cert)s, %(key)s]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: caller, labels: {app: caller, version: v1}}
spec:
  port: %(caller)d
  command: [/usr/bin/python3, %(echo)s, --name, caller]
"""


def test_https_clients_reach_tls_apps_through_their_sidecar_under_halyard_up(tmp_path):
    from conftest import ROOT
    from proxy_harness import free_port
    from up_harness import Mesh
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "app.key", "-out", "app.crt",
                    "-days", "2", "-subj", "/CN=secure",
                    "-addext", "subjectAltName=DNS:secure,DNS:plain-port"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=30)
    (tmp_path / "https_app.py").write_text(HTTPS_APP)
    config = tmp_path / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(UP_CONFIG % {
        "secure": free_port(), "plain": free_port(), "caller": free_port(),
        "app": tmp_path / "https_app.py", "cert": tmp_path / "app.crt",
        "key": tmp_path / "app.key", "echo": ROOT / "samples" / "apps" / "echo_app.py"})
    mesh = Mesh(tmp_path, config)
    try:
        mesh.wait_running()
        outbound = mesh.workload("caller")["outbound_port"]
        cert = str(tmp_path / "app.crt")

        def reached(url, expected):
            rc, out, _ = curl_https(outbound, url, cert)
            return rc == 0 and out == expected

        assert wait_until(lambda: reached("https://secure:8443/a", "secure /a\n"), timeout=20), \
            mesh.logs()
        assert wait_until(lambda: reached("https://plain-port:9443/b", "plain-port /b\n"),
                          timeout=10), mesh.logs()
        reply, err = openssl_through(outbound, "secure:8443", "secure",
                                     b"GET /c HTTP/1.0\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"secure /c\n"), err
    finally:
        mesh.stop()


def test_gateway_auto_passthrough_routes_istios_sni_to_the_cluster_it_names(tmp_path):
    from proxy_harness import Proxy
    from test_tcp_tls_routing import closed_without_data, service, tls_exchange
    one = TcpBackend("one", make_cert(tmp_path, "one.example.com"))
    two = TcpBackend("two", make_cert(tmp_path, "two.example.com"))
    config = service("one", 8443, one.port, "tls") + service("two", 9443, two.port, "tls") + """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: cross-network, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tls, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: AUTO_PASSTHROUGH}
"""
    proxy = Proxy(tmp_path, config)
    try:
        reply, _ = tls_exchange(proxy.port, "outbound_.8443_._.one.default.svc.cluster.local")
        assert reply == b"one:hi", proxy.output()
        reply, _ = tls_exchange(proxy.port, "outbound_.9443_._.two.default.svc.cluster.local")
        assert reply == b"two:hi"
        # An SNI naming no cluster (a wrong port) gets no route: closed.
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            tls_exchange(proxy.port, "outbound_.9443_._.one.default.svc.cluster.local")
        assert closed_without_data(proxy.port, b"not tls at all")
    finally:
        proxy.stop()
        one.stop()
        two.stop()


def test_gateway_tls_server_in_simple_mode_terminates_then_proxies_tcp(tmp_path):
    from proxy_harness import Proxy
    from test_tcp_tls_routing import service
    backend = TcpBackend("plain", reply_at_once=True)
    cert, key = make_cert(tmp_path, "db.example.com")
    config = service("db", 5432, backend.port) + """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tls, protocol: TLS}
    hosts: ["db.example.com"]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: ["db.example.com"]
  gateways: [tls-edge]
  tcp:
  - route: [{destination: {host: db, port: {number: 5432}}}]
""" % (cert, key)
    proxy = Proxy(tmp_path, config, extra_args=["--access-log", str(tmp_path / "access.log"),
                                                "--access-log-format", "json"])
    try:
        ctx = ssl.create_default_context(cafile=cert)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="db.example.com") as s:
                s.sendall(b"select 1")
                # The proxy's certificate, and the backend got the plaintext.
                assert "db.example.com" in str(s.getpeercert()["subject"])
                assert s.recv(4096) == b"plain:select 1", proxy.output()
        # curl offers h2 by ALPN; a TCP server must not take it (the bytes are not HTTP here).
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % proxy.port,
                              "-servername", "db.example.com", "-alpn", "h2,http/1.1",
                              "-CAfile", cert, "-brief"], input=b"", capture_output=True,
                             timeout=15)
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert "Verification: OK" in text and "ALPN" not in text, text
        log = tmp_path / "access.log"
        assert wait_until(lambda: log.exists() and "db.example.com" in log.read_text(), timeout=5)
        entry = [json.loads(l) for l in log.read_text().splitlines() if l.startswith("{")][0]
        assert entry["requested_server_name"] == "db.example.com", entry
        assert entry["upstream_cluster"] == "outbound|5432||db.default.svc.cluster.local", entry
    finally:
        proxy.stop()
        backend.stop()
