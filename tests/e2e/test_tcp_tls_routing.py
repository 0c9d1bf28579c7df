"""TCP and TLS passthrough routing at the gateway (issue 11): a Gateway TCP server whose
VirtualService `tcp` route splits connections by weight between two raw TCP echo backends; a
Gateway TLS server in PASSTHROUGH mode whose `tls` routes pick one of two TLS backends (Python
ssl servers with their own self-signed certificates) by the ClientHello's SNI, the backend's
certificate reaching the client untouched (openssl s_client); no matching route closes the
connection; garbage and truncated ClientHellos neither crash the proxy nor leave connections
open; and under a control plane, a gateway TCP route to a TCP app behind its sidecar, whose
inbound listener takes the gateway's mutual TLS and splices the bytes to the app, both proxies
reporting Istio's TCP metrics (reporter source and destination, mutual_tls)."""
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from mesh_harness import Control, MeshProxy, wait_until
from proxy_harness import Proxy, free_port


class TcpBackend:
    """Answers each connection with `name` + ":" + everything it read, after the client's end
    of stream (so half-close is exercised), over TCP or, with `cert`, TLS."""

    def __init__(self, name, cert=None, reply_at_once=False):
        self.name = name  # with version and outbound: what mesh_harness.MeshProxy reads
        self.version = "v1"
        self.outbound = None
        self.reply_prefix = name.encode()
        self.reply_at_once = reply_at_once
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert[0], cert[1])
        self.connections = 0
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            if self.ctx or self.reply_at_once:
                if self.ctx:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                conn.sendall(self.reply_prefix + b":" + conn.recv(4096))
            else:
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(self.reply_prefix + b":" + data)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def service(name, port, backend_port, protocol_name="tcp"):
    return """apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: %s, port: %d, targetPort: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: %s, port: %d}]
---
""" % (name, protocol_name, port, backend_port, name, protocol_name, backend_port)


def tcp_exchange(port, payload=b"hello", timeout=5, half_close=True):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def established_from(port):
    """The established TCP connections whose local port is `port` (/proc/net/tcp and tcp6)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                out.append(row)
    return out


def closed_without_data(port, payload, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            return s.recv(4096) == b""
        except ConnectionResetError:
            return True


@pytest.fixture
def tcp_setup(tmp_path):
    a, b = TcpBackend("a"), TcpBackend("b")
    config = (service("echo-a", 9000, a.port) + service("echo-b", 9000, b.port) + """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: tcp-gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp-gw]
  tcp:
  - match: [{port: 81}]
    route: [{destination: {host: nowhere}}]
  - match: [{port: 80}]
    route:
    - {destination: {host: echo-a, port: {number: 9000}}, weight: 75}
    - {destination: {host: echo-b, port: {number: 9000}}, weight: 25}
""")
    proxy = Proxy(tmp_path, config)
    yield proxy, a, b
    proxy.stop()
    a.stop()
    b.stop()


def test_tcp_route_splits_by_weight_and_half_closes(tcp_setup):
    proxy, a, b = tcp_setup
    counts = {b"a": 0, b"b": 0}
    for i in range(80):
        reply = tcp_exchange(proxy.port, b"ping%d" % i)
        name, _, echoed = reply.partition(b":")
        assert echoed == b"ping%d" % i, proxy.output()
        counts[name] += 1
    assert 40 <= counts[b"a"] <= 76 and counts[b"b"] >= 4, counts


def metric_sum(text, name, **labels):
    total = 0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all('%s="%s"' % kv in line for kv in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_tcp_metrics(tcp_setup):
    proxy, _, _ = tcp_setup
    for i in range(5):
        tcp_exchange(proxy.port, b"x" * 100)
    deadline = time.time() + 5
    while True:
        text = proxy.admin("/stats/prometheus")
        # A connection's last bytes may be added just after it is counted closed.
        if (metric_sum(text, "istio_tcp_connections_closed_total") >= 5
                and metric_sum(text, "istio_tcp_received_bytes_total") >= 500
                and metric_sum(text, "istio_tcp_sent_bytes_total") >= 510) \
                or time.time() > deadline:
            break
        time.sleep(0.1)
    common = dict(reporter="source", request_protocol="tcp", connection_security_policy="unknown")
    assert metric_sum(text, "istio_tcp_connections_opened_total", **common) == 5, text
    assert metric_sum(text, "istio_tcp_connections_closed_total", **common) == 5
    assert metric_sum(text, "istio_tcp_received_bytes_total", **common) == 500
    # Each reply is "a:" or "b:" and the 100 bytes.
    assert metric_sum(text, "istio_tcp_sent_bytes_total", **common) == 510
    assert metric_sum(text, "istio_tcp_sent_bytes_total",
                      destination_service="echo-a.default.svc.cluster.local") > 0
    assert 'response_code=' not in "".join(
        l for l in text.splitlines() if l.startswith("istio_tcp_"))


def test_tcp_route_carries_large_payloads(tcp_setup):
    proxy, _, _ = tcp_setup
    payload = os.urandom(1 << 20)
    reply = tcp_exchange(proxy.port, payload, timeout=15)
    assert reply[2:] == payload


def make_cert(d, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key", "-out",
                    name + ".crt", "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:" + name],
                   cwd=d, check=True, capture_output=True, timeout=30)
    return (str(d / (name + ".crt")), str(d / (name + ".key")))


@pytest.fixture
def tls_setup(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (scripts/setup.sh installs it)")
    one = TcpBackend("one", make_cert(tmp_path, "one.example.com"))
    two = TcpBackend("two", make_cert(tmp_path, "two.example.com"))
    config = (service("one", 8443, one.port, "tls") + service("two", 8443, two.port, "tls") + """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: tls-gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: sni, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [tls-gw]
  tls:
  - match: [{port: 80, sniHosts: [one.example.com]}]
    route: [{destination: {host: one, port: {number: 8443}}}]
  - match: [{sniHosts: ["*.example.com"]}]
    route: [{destination: {host: two, port: {number: 8443}}}]
""")
    proxy = Proxy(tmp_path, config, extra_args=["--access-log", str(tmp_path / "access.log")])
    proxy.access_log = tmp_path / "access.log"
    yield proxy, one, two
    proxy.stop()
    one.stop()
    two.stop()


def tls_exchange(port, sni):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.sendall(b"hi")
            peer = s.getpeercert(binary_form=True)
            return s.recv(4096), peer


def test_tls_passthrough_routes_by_sni(tls_setup, tmp_path):
    proxy, one, two = tls_setup
    reply, cert_one = tls_exchange(proxy.port, "one.example.com")
    assert reply == b"one:hi", proxy.output()
    reply, _ = tls_exchange(proxy.port, "deep.two.example.com")
    assert reply == b"two:hi"
    # The backend's own certificate arrives untouched.
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % proxy.port,
                          "-servername", "one.example.com", "-brief"], input=b"",
                         capture_output=True, timeout=15)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert "CN = one.example.com" in text or "CN=one.example.com" in text, text
    with open(tmp_path / "one.example.com.crt") as f:
        assert ssl.PEM_cert_to_DER_cert(f.read()) == cert_one
    # One access log line per connection: the SNI, the cluster, no HTTP fields.
    deadline = time.time() + 5
    lines = []
    while time.time() < deadline and not lines:
        time.sleep(0.2)
        text = proxy.access_log.read_text() if proxy.access_log.exists() else ""
        lines = [l for l in text.splitlines()
                 if "outbound|8443||two.default.svc.cluster.local" in l]
    assert lines, text
    assert "deep.two.example.com" in lines[0] and '"- - -"' in lines[0], lines[0]


def test_config_dump_shows_the_tls_routes(tls_setup):
    proxy, _, _ = tls_setup
    import json
    dump = json.loads(proxy.admin("/config_dump"))
    listener = [l for l in dump["listeners"] if l["protocol"] == "TLS"][0]
    routes = listener["tcp_routes"]
    assert [r["origin"] for r in routes] == ["default/sni tls[0]", "default/sni tls[1]"]
    assert routes[0]["matches"][0]["sni_hosts"] == ["one.example.com"]
    assert routes[1]["clusters"] == [{"cluster": "outbound|8443||two.default.svc.cluster.local",
                                      "weight": 1}]


def test_tls_passthrough_without_matching_sni_closes(tls_setup):
    proxy, one, two = tls_setup
    before = one.connections + two.connections
    with pytest.raises((ssl.SSLError, OSError)):
        tls_exchange(proxy.port, "other.org")
    assert one.connections + two.connections == before


def test_tls_passthrough_survives_garbage_and_truncated_hellos(tls_setup):
    proxy, one, two = tls_setup
    # Not TLS at all: closed at once.
    assert closed_without_data(proxy.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    # A record header promising more than arrives, then the client goes away.
    for payload in [b"\x16\x03\x01\x40\x00" + os.urandom(100), b"\x16\x03", os.urandom(3000),
                    b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"]:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(payload)
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01" + os.urandom(int.from_bytes(os.urandom(1), "big")))
    time.sleep(0.5)
    reply, _ = tls_exchange(proxy.port, "one.example.com")
    assert reply == b"one:hi"
    assert proxy.proc.poll() is None
    # No connection left open by the proxy once the clients are gone.
    deadline = time.time() + 10
    while time.time() < deadline:
        left = established_from(proxy.port)
        if not left:
            break
        time.sleep(0.2)
    assert not left, left


def test_no_route_closes_the_connection(tmp_path):
    backend = TcpBackend("x")
    config = service("echo", 9000, backend.port) + """
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: tcp-gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp-gw]
  tcp:
  - match: [{port: 81}]
    route: [{destination: {host: echo, port: {number: 9000}}}]
"""
    proxy = Proxy(tmp_path, config)
    try:
        assert closed_without_data(proxy.port, b"hello")
        assert backend.connections == 0
        deadline = time.time() + 5
        while time.time() < deadline:
            text = proxy.admin("/stats/prometheus")
            if metric_sum(text, "istio_tcp_connections_closed_total", response_flags="NR"):
                break
            time.sleep(0.1)
        assert metric_sum(text, "istio_tcp_connections_closed_total", response_flags="NR") == 1
    finally:
        proxy.stop()
        backend.stop()


MESH_CONFIG = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - route: [{destination: {host: db}}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  selector: {app: db}
  ports: [{name: tcp-db, port: 5432, targetPort: 5432}]
"""


def test_gateway_tcp_to_a_tcp_app_behind_its_sidecar_over_mutual_tls(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(MESH_CONFIG)
    # Between the proxies the bytes travel in mutual TLS, which cannot carry a half-close: the
    # app answers and closes, as request/response protocols do.
    app = TcpBackend("db", reply_at_once=True)
    procs = []
    try:
        control = Control(config, tmp_path)
        procs.append(control)
        gateway = MeshProxy(control, tmp_path, "gw-1")
        procs.append(gateway)
        sidecar = MeshProxy(control, tmp_path, "db-v1", role="sidecar", app=app)
        procs.append(sidecar)

        def answered():
            try:
                return tcp_exchange(gateway.gateway_port, b"select 1", timeout=2,
                                    half_close=False) == b"db:select 1"
            except OSError:
                return False

        assert wait_until(answered, timeout=20), gateway.output() + sidecar.output()
        for _ in range(3):
            assert tcp_exchange(gateway.gateway_port, b"select 1",
                                half_close=False) == b"db:select 1"

        def closed(proxy, reporter):
            return metric_sum(proxy.metrics(), "istio_tcp_connections_closed_total",
                              reporter=reporter, request_protocol="tcp")

        assert wait_until(lambda: closed(sidecar, "destination") >= 4, timeout=5)
        text = sidecar.metrics()
        assert metric_sum(text, "istio_tcp_received_bytes_total", reporter="destination",
                          connection_security_policy="mutual_tls",
                          source_principal="spiffe://cluster.local/ns/istio-system/sa/default",
                          destination_principal="spiffe://cluster.local/ns/default/sa/db") >= 32, text
        assert wait_until(lambda: closed(gateway, "source") >= 4, timeout=5)
        text = gateway.metrics()
        assert metric_sum(text, "istio_tcp_sent_bytes_total", reporter="source",
                          destination_principal="spiffe://cluster.local/ns/default/sa/db",
                          destination_service="db.default.svc.cluster.local") >= 44, text
        # Plaintext straight to the sidecar's inbound port is accepted too (PERMISSIVE).
        assert tcp_exchange(sidecar.inbound_port, b"plain") == b"db:plain"
    finally:
        for p in reversed(procs):
            p.stop()
        app.stop()
