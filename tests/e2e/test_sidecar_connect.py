"""CONNECT through a sidecar's outbound listener (an app's HTTP_PROXY) under `halyard up`, with
the canary of fixtures/canary: a tunnel to a mesh service is served with the mesh's routing
(VirtualService matches, DestinationRule subsets); a host outside the registry is passed
through (MeshConfig outboundTrafficPolicy ALLOW_ANY) or refused with 502 (REGISTRY_ONLY); a
malformed target is 400 and an unreachable one 503, quickly."""
import http.client
import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proxy_harness import raw_exchange
from test_up_canary import canary_copy
from up_harness import Mesh

REGISTRY_ONLY = """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("connect")
    m = Mesh(tmp, canary_copy(tmp))
    m.config_dir = tmp / "canary"
    try:
        m.wait_running()
        m.outbound = m.workload("productpage")["outbound_port"]
        deadline = time.time() + 15
        while time.time() < deadline and tunnel_get(m.outbound, "reviews", 9080)[0] != 200:
            time.sleep(0.2)
        yield m
    finally:
        m.stop()


def tunnel_get(proxy_port, host, port, headers=None, count=1):
    """`count` GETs on one CONNECT tunnel (Python's set_tunnel): [(status, chain tail)]."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=5)
    conn.set_tunnel(host, port)
    out = []
    try:
        for _ in range(count):
            conn.request("GET", "/", headers=headers or {})
            r = conn.getresponse()
            body = r.read().decode(errors="replace")
            try:
                out.append((r.status, json.loads(body)["chain"][-1]))
            except (ValueError, KeyError):
                out.append((r.status, body))
    except OSError as e:
        out.append((0, str(e)))
    finally:
        conn.close()
    return out[0] if count == 1 else out


def curl_tunnel(proxy_port, url, *args):
    out = subprocess.run(["curl", "-s", "-S", "-i", "--max-time", "10", "-x",
                          "http://127.0.0.1:%d" % proxy_port, *args, url],
                         capture_output=True, timeout=20)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def test_curl_proxytunnel_to_a_mesh_service_follows_the_routing_rules(mesh):
    seen = set()
    # 60 tunnels: at 80/20, none reaching v2 is a 1 in 650,000 event (with 30 it was 1 in 800,
    # and a CI run saw it once).
    for _ in range(60):
        rc, out, err = curl_tunnel(mesh.outbound, "http://reviews:9080/", "-p")
        assert rc == 0, err
        assert "200 Connection Established" in out and "HTTP/1.1 200" in out.split("\r\n\r\n", 1)[1]
        seen.add("reviews-v2" if '"reviews-v2"' in out else "reviews-v1")
    assert seen == {"reviews-v1", "reviews-v2"}  # the VirtualService's 80/20 split by subset
    for _ in range(5):
        rc, out, err = curl_tunnel(mesh.outbound, "http://reviews:9080/", "-p", "-H",
                                   "x-canary: yes")
        assert rc == 0 and '"reviews-v2"' in out, out + err


def test_python_set_tunnel_serves_many_requests_on_one_tunnel(mesh):
    answers = tunnel_get(mesh.outbound, "reviews", 9080, {"x-canary": "yes"}, count=5)
    assert answers == [(200, "reviews-v2")] * 5


class _Plain(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("plain outside the mesh: %s %s\n" % (self.path, self.headers.get("Host"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def plain_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_plain_http_to_a_host_outside_the_registry_is_passed_through(mesh, plain_server):
    rc, out, err = curl_tunnel(mesh.outbound, "http://127.0.0.1:%d/outside?q=1" % plain_server)
    assert rc == 0, err
    assert out.startswith("HTTP/1.1 200")
    assert "plain outside the mesh: /outside?q=1 127.0.0.1:%d" % plain_server in out


@pytest.fixture
def tls_server(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = b"outside the mesh\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def test_https_through_connect_to_a_host_outside_the_registry_is_passed_through(mesh,
                                                                                   tls_server):
    port, cert = tls_server
    rc, out, err = curl_tunnel(mesh.outbound, "https://localhost:%d/" % port, "--cacert",
                               str(cert))
    assert rc == 0, err
    assert "200 Connection Established" in out and "outside the mesh" in out


def test_connect_to_a_port_nothing_listens_on_is_503_at_once(mesh):
    started = time.time()
    out, closed = raw_exchange(mesh.outbound, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert time.time() - started < 2
    assert out.startswith(b"HTTP/1.1 503"), out
    assert (b"x-halyard-reason: 127.0.0.1:1 is not in the mesh's registry" in out and
            b"cannot connect to 127.0.0.1:1: Connection refused" in out), out
    assert closed


def test_a_malformed_connect_target_is_400(mesh):
    for target in (b"reviews:0", b"reviews:99999", b"rev!ews:80"):
        out, closed = raw_exchange(mesh.outbound,
                                   b"CONNECT " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400"), (target, out)
        assert closed


def test_registry_only_refuses_hosts_outside_the_registry(mesh, tls_server):
    port, cert = tls_server
    policy = mesh.config_dir / "mesh-config.yaml"
    policy.write_text(REGISTRY_ONLY)
    try:
        deadline = time.time() + 10
        out = b""
        while time.time() < deadline:
            out, _ = raw_exchange(
                mesh.outbound, b"CONNECT localhost:%d HTTP/1.1\r\nHost: x\r\n\r\n" % port,
                until_close=False)
            if out.startswith(b"HTTP/1.1 502"):
                break
            time.sleep(0.2)
        assert out.startswith(b"HTTP/1.1 502"), out
        assert (b"x-halyard-reason: localhost is not in the mesh's registry" in out and
                b"outboundTrafficPolicy is REGISTRY_ONLY" in out), out
        rc, text, err = curl_tunnel(mesh.outbound, "https://localhost:%d/" % port, "--cacert",
                                    str(cert))
        assert rc != 0 and "502" in text + err
        rc, text, err = curl_tunnel(mesh.outbound, "http://localhost:%d/x" % port)
        assert text.startswith("HTTP/1.1 502"), text + err
        assert "outboundTrafficPolicy is REGISTRY_ONLY" in text
        # Mesh services are in the registry: still served.
        assert tunnel_get(mesh.outbound, "reviews", 9080, {"x-canary": "yes"}) == (200,
                                                                                   "reviews-v2")
    finally:
        policy.unlink()
    deadline = time.time() + 10
    while time.time() < deadline:
        rc, text, _ = curl_tunnel(mesh.outbound, "https://localhost:%d/" % port, "--cacert",
                                  str(cert))
        if rc == 0:
            break
        time.sleep(0.2)
    assert rc == 0 and "outside the mesh" in text


def test_the_access_log_shows_the_connect_and_the_requests_inside(mesh, tmp_path, tls_server):
    # One more sidecar in the mesh (productpage's identity), with an access log.
    from conftest import BIN
    from proxy_harness import free_port
    state = mesh.state()
    log_path, outbound, admin = tmp_path / "access.log", free_port(), free_port()
    out = open(tmp_path / "sidecar.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "halyard-proxy"), "--control", state["control"]["listen"],
         "--control-ca", state["control"]["root_cert"],
         "--token-file", str(mesh.log_dir / "credentials" / "productpage.sidecar.token"),
         "--role", "sidecar", "--name", "productpage-logged", "--namespace", "default",
         "--service-account", "productpage", "--app-port", str(free_port()),
         "--inbound-port", str(free_port()), "--outbound-port", str(outbound),
         "--admin", "127.0.0.1:%d" % admin, "--access-log", str(log_path),
         "--access-log-format", "json"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 15
        while time.time() < deadline and tunnel_get(outbound, "reviews", 9080)[0] != 200:
            time.sleep(0.1)
        canary = {"x-canary": "yes", "x-request-id": "canary-in-a-tunnel"}
        assert tunnel_get(outbound, "reviews", 9080, canary, count=2) == [(200, "reviews-v2")] * 2
        port, cert = tls_server
        rc, text, err = curl_tunnel(outbound, "https://localhost:%d/" % port, "--cacert", str(cert))
        assert rc == 0, err
        deadline = time.time() + 5
        entries = []
        while time.time() < deadline:
            entries = [json.loads(l) for l in log_path.read_text().splitlines() if l.startswith("{")]
            authorities = [e["authority"] for e in entries if e.get("method") == "CONNECT"]
            canaries = [e for e in entries if e.get("request_id") == "canary-in-a-tunnel"]
            if "localhost:%d" % port in authorities and len(canaries) == 2:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
    # A tunnel is logged when it ends, so the two may be logged in either order; the mesh one is
    # the last of those to reviews (the earlier ones waited for the sidecar to be ready).
    connects = [e for e in entries if e.get("method") == "CONNECT"]
    mesh_tunnels = [c for c in connects if c["authority"] == "reviews:9080"]
    passthroughs = [c for c in connects if c["authority"] == "localhost:%d" % port]
    assert mesh_tunnels and len(passthroughs) == 1, entries
    assert mesh_tunnels[-1]["response_code"] == 200 and passthroughs[0]["response_code"] == 200
    passthrough = passthroughs[0]
    assert passthrough["upstream_cluster"] == "PassthroughCluster"
    assert passthrough["bytes_sent"] > 500 and passthrough["bytes_received"] > 300, passthrough
    inside = [e for e in entries if e.get("request_id") == "canary-in-a-tunnel"]
    assert len(inside) == 2 and all(e["response_code"] == 200 for e in inside), entries
    assert all("reviews" in (e.get("upstream_cluster") or "") and "|v2|" in e["upstream_cluster"]
               for e in inside), inside
