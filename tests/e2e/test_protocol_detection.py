"""MeshConfig protocolDetectionTimeout (issue 11): a server-first protocol (the server speaks
first, as MySQL and SMTP do) on a port whose protocol is not declared, through sidecars under a
control plane. The sidecars sniff such ports for HTTP; a client that says nothing within the
timeout is proxied as plain TCP, so it hears the server's greeting instead of waiting forever:

- through the client's sidecar (a CONNECT tunnel to the service, then mutual TLS to the
  destination's sidecar, which sniffs again), and straight into the destination's inbound
  listener;
- straight into the destination's inbound listener (PERMISSIVE), a plaintext client waits for the
  timeout once, not once for the mutual TLS sniff and again for the protocol sniff;
- a client that speaks first on the same kind of port is still served as HTTP (request metrics);
- the destination reports the server-first connection in Istio's TCP metrics."""
import socket
import threading
import time

import pytest

from mesh_harness import App, Control, MeshProxy, http_get, wait_until
from test_sidecar_tunnel import open_tunnel
from test_tcp_tls_routing import metric_sum

DETECTION_MS = 500

CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    protocolDetectionTimeout: %dms
---
apiVersion: v1
kind: Service
metadata: {name: mail, namespace: default}
spec:
  selector: {app: mail}
  ports: [{name: smtp-ish, port: 2525}]
---
apiVersion: v1
kind: Service
metadata: {name: pages, namespace: default}
spec:
  selector: {app: pages}
  ports: [{name: web, port: 8000}]
""" % DETECTION_MS


class GreetingServer:
    """A server-first line protocol: "220 <name> ready" at once on every connection, then
    "250 <line>" for each line until "QUIT" ("221 bye", then close)."""

    def __init__(self, name):
        self.name, self.version, self.outbound = name, "v1", None
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            try:
                conn.sendall(b"220 %s ready\r\n" % self.name.encode())
                f = conn.makefile("rb")
                for line in f:
                    line = line.strip()
                    if line == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    conn.sendall(b"250 " + line + b"\r\n")
            except OSError:
                pass

    def stop(self):
        self.sock.close()


def read_line(sock, timeout):
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def converse(sock, timeout=5):
    """Waits for the greeting without sending anything, then one line and QUIT: (greeting,
    seconds until it came, replies)."""
    start = time.monotonic()
    greeting = read_line(sock, timeout)
    waited = time.monotonic() - start
    sock.sendall(b"HELO test\r\nQUIT\r\n")
    replies = [read_line(sock, timeout), read_line(sock, timeout)]
    return greeting, waited, replies


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocol_detection")
    config = tmp / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(CONFIG)
    mail, pages, client = GreetingServer("mail"), App("pages"), App("client")
    procs = []
    m = type("Mesh", (), {})()
    try:
        control = Control(config, tmp)
        procs.append(control)
        m.mail = MeshProxy(control, tmp, "mail-1", role="sidecar", app=mail,
                           labels="app=mail,version=v1", service_account="mail")
        procs.append(m.mail)
        m.pages = MeshProxy(control, tmp, "pages-1", role="sidecar", app=pages,
                            labels="app=pages,version=v1", service_account="pages")
        procs.append(m.pages)
        m.client = MeshProxy(control, tmp, "client-1", role="sidecar", app=client,
                             labels="app=client,version=v1", service_account="client")
        procs.append(m.client)
        m.mail_server = mail

        def pages_answer():
            return http_get("http://pages:8000/", proxy="http://127.0.0.1:%d"
                            % m.client.outbound_port)[0] == 200

        assert wait_until(pages_answer, timeout=20), m.client.output()
        yield m
    finally:
        for p in reversed(procs):
            p.stop()
        for app in (mail, pages, client):
            app.stop()


def test_a_server_first_protocol_through_a_connect_tunnel_hears_the_server(mesh):
    def greeted():
        s, status, _ = open_tunnel(mesh.client.outbound_port, "mail:2525")
        with s:
            if not status.endswith(b"200 Connection Established"):
                return False
            return converse(s)[0] == b"220 mail ready\r\n"

    # The first tunnels may come before the mail service's endpoint is pushed to the client.
    assert wait_until(greeted, timeout=20), mesh.client.output()
    s, status, _ = open_tunnel(mesh.client.outbound_port, "mail:2525")
    with s:
        assert status.endswith(b"200 Connection Established"), status
        greeting, waited, replies = converse(s)
    assert greeting == b"220 mail ready\r\n", (greeting, mesh.client.output())
    assert replies == [b"250 HELO test\r\n", b"221 bye\r\n"], replies
    # Both sidecars waited for the client's first bytes (the tunnel's, then the destination's
    # inbound listener), each for the detection timeout and not much more.
    assert waited >= 2 * DETECTION_MS / 1000 * 0.9, waited
    assert waited < 4, waited


def test_a_server_first_protocol_straight_into_the_inbound_listener(mesh):
    # A plaintext caller (PeerAuthentication PERMISSIVE, the default) of the sidecar's inbound.
    # The sidecar first waits to tell mutual TLS from plaintext, then to tell HTTP from other
    # bytes: the client's silence through the first wait answers the second, so it waits once.
    waits = []
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", mesh.mail.inbound_port), timeout=5) as s:
            greeting, waited, replies = converse(s)
        assert greeting == b"220 mail ready\r\n", (greeting, mesh.mail.output())
        assert replies == [b"250 HELO test\r\n", b"221 bye\r\n"], replies
        waits.append(waited)
    assert min(waits) >= DETECTION_MS / 1000 * 0.9, waits
    # (The fastest of three: a loaded machine may stall one.) Two waits would be 2x.
    assert min(waits) < DETECTION_MS / 1000 * 1.6, ("waited more than once", waits)


def test_a_plaintext_client_that_speaks_after_the_timeout_is_proxied_as_tcp(mesh):
    # Silent through the detection timeout, then bytes: the connection is TCP by then, and what
    # the client sends reaches the app as it is (no HTTP parsing, no 400).
    with socket.create_connection(("127.0.0.1", mesh.mail.inbound_port), timeout=5) as s:
        time.sleep(DETECTION_MS / 1000 * 1.3)
        s.sendall(b"GET / HTTP/1.1\r\n")
        greeting = read_line(s, 5)
        echoed = read_line(s, 5)
    assert greeting == b"220 mail ready\r\n", (greeting, mesh.mail.output())
    assert echoed == b"250 GET / HTTP/1.1\r\n", echoed


def test_the_destination_counts_the_server_first_connection_as_tcp(mesh):
    labels = dict(reporter="destination", request_protocol="tcp", destination_workload="mail-1",
                  source_workload="client-1", connection_security_policy="mutual_tls")
    before = metric_sum(mesh.mail.metrics(), "istio_tcp_connections_closed_total", **labels)
    s, status, _ = open_tunnel(mesh.client.outbound_port, "mail:2525")
    with s:
        assert status.endswith(b"200 Connection Established"), status
        assert converse(s)[0] == b"220 mail ready\r\n"
    assert wait_until(lambda: metric_sum(mesh.mail.metrics(), "istio_tcp_connections_closed_total",
                                         **labels) > before, timeout=5), mesh.mail.metrics()
    assert metric_sum(mesh.mail.metrics(), "istio_tcp_sent_bytes_total", **labels) > 0


def test_a_client_that_speaks_first_is_still_served_as_http(mesh):
    # The same kind of port (protocol not declared): an HTTP request is sniffed as HTTP at once.
    proxy = "http://127.0.0.1:%d" % mesh.client.outbound_port
    took = []
    for _ in range(3):
        start = time.monotonic()
        assert http_get("http://pages:8000/hello", proxy=proxy)[0] == 200
        took.append(time.monotonic() - start)
    # (The fastest of three: a loaded machine may stall one.)
    assert min(took) < DETECTION_MS / 1000, ("an HTTP request waited for detection", took)
    assert wait_until(lambda: metric_sum(mesh.pages.metrics(), "istio_requests_total",
                                         reporter="destination", destination_workload="pages-1",
                                         source_workload="client-1") > 0, timeout=5), \
        mesh.pages.metrics()
