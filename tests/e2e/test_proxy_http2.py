"""HTTP/2 through the gateway with real clients: curl with prior knowledge (h2c) and over TLS
(ALPN h2), h2load for many concurrent streams, HTTP/1.1 still served on the same ports, an
HTTP/2 backend (a small server written with the Python h2 library), bodies in both directions,
local replies, and memory that stays bounded for a slow reader."""
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

import proxy_backends
from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, free_port, gateway, service, wait_listening

if not shutil.which("curl"):
    pytest.skip("curl is not installed", allow_module_level=True)

HOST = "h2.example.com"

# Many streams start at once and each may open an upstream connection: Python's default listen
# backlog of 5 would drop SYNs and stall the first wave for seconds.
proxy_backends._Server.request_queue_size = 256


def routes(name, host, backend):
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /denied}}]
    directResponse: {status: 403, body: {string: "no\\n"}}
  - route: [{destination: {host: %s}}]
""" % (name, host, backend)


def curl_h2(port, path, *args, host=HOST, timeout=20):
    """curl --http2-prior-knowledge; (http_version, status, headers, body bytes)."""
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "--max-time", str(timeout), "-D", "-",
         "-o", "/dev/stderr", "-H", "Host: " + host, *args,
         "http://127.0.0.1:%d%s" % (port, path)], capture_output=True, timeout=timeout + 5)
    head = out.stdout.decode(errors="replace")
    assert head, "no response from curl (exit %d)" % out.returncode
    lines = head.strip().split("\r\n")
    version, status = lines[0].split()[0], int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return version, status, headers, out.stderr


H2_HOST = "h2backend.example.com"
UPGRADE_HOST = "upgrade.example.com"
CLIENT_PROTOCOL_HOST = "clientprotocol.example.com"
WS_HOST = "ws.example.com"
TLS_PORT = 443


class H2Backend:
    """An HTTP/2 (h2c, prior knowledge) server written with the h2 library: answers every
    request with a JSON record of what it got, trailers included (`x-h2-body-size` asks for a
    body that large)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests = []  # the request heads received, in order
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.running = False
        self.sock.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve_closing, args=(conn,), daemon=True).start()

    def _serve_closing(self, conn):
        try:
            self._serve(conn)
        except Exception:  # an HTTP/1.1 client, say: the connection just ends
            pass
        finally:
            conn.close()

    def _serve(self, conn):
        import h2.config
        import h2.connection
        import h2.events
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                 header_encoding="utf-8"))
        c.initiate_connection()
        conn.sendall(c.data_to_send())
        heads, bodies, trailers = {}, {}, {}
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    heads[ev.stream_id] = dict(ev.headers)
                    self.requests.append(dict(ev.headers))
                    bodies[ev.stream_id] = 0
                elif isinstance(ev, h2.events.TrailersReceived):
                    trailers[ev.stream_id] = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += len(ev.data)
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    head = heads.pop(ev.stream_id)
                    size = head.get("x-h2-body-size")
                    body = (b"y" * int(size) if size else json.dumps(
                        {"headers": head, "body_bytes": bodies.pop(ev.stream_id),
                         "trailers": trailers.pop(ev.stream_id, {})}).encode())
                    c.send_headers(ev.stream_id, [(":status", "200"), ("server", "h2-backend"),
                                                  ("content-length", str(len(body)))])
                    # Within the flow-control window only (small answers in these tests).
                    for i in range(0, len(body), 16384):
                        chunk = body[i:i + 16384]
                        while c.local_flow_control_window(ev.stream_id) < len(chunk):
                            conn.sendall(c.data_to_send())
                            more = conn.recv(65536)
                            if not more:
                                return
                            c.receive_data(more)
                        c.send_data(ev.stream_id, chunk)
                    c.end_stream(ev.stream_id)
            conn.sendall(c.data_to_send())


def h2_service(name, port):
    return """apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: http2-web, port: 80, targetPort: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http2-web, port: %d}]
""" % (name, port, name, port)


def tls_gateway(pki):
    return """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [%s, %s, %s, %s, %s]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [%s]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
""" % (HOST, H2_HOST, WS_HOST, UPGRADE_HOST, CLIENT_PROTOCOL_HOST, HOST, pki / "secure.crt",
       pki / "secure.key")


def start_tls_echo_gateway(tmp_path_factory, name):
    """A gateway whose TLS server (ALPN h2 and http/1.1) routes HOST to an echo backend, for the
    modules that only need that: its fields dir, pki, backend, tls_port and proxy. Stop it with
    stop_tls_echo_gateway."""
    from test_proxy_tls import make_pki

    class E:
        pass

    e = E()
    e.dir = tmp_path_factory.mktemp(name)
    e.pki = e.dir / "pki"
    e.pki.mkdir()
    make_pki(e.pki)
    e.backend = EchoBackend("echo")
    config = "---\n".join([tls_gateway(e.pki), routes("h2", HOST, "echo"),
                           service("echo", e.backend.port)])
    e.tls_port = free_port()
    e.proxy = Proxy(e.dir, config, extra_args=["--port-map", "%d=%d" % (TLS_PORT, e.tls_port)])
    return e


def stop_tls_echo_gateway(e):
    e.proxy.stop()
    e.backend.stop()


def http_policy(name, field):
    """A DestinationRule setting connectionPool.http `field` for service `name`."""
    return """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s, namespace: default}
spec:
  host: %s
  trafficPolicy:
    connectionPool:
      http: {%s}
""" % (name, name, field)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from test_proxy_tls import make_pki

    class E:
        pass

    e = E()
    e.dir = tmp_path_factory.mktemp("h2")
    e.pki = e.dir / "pki"
    e.pki.mkdir()
    make_pki(e.pki)
    e.backend = EchoBackend("echo")
    e.h2_backend = H2Backend()
    e.ws_port, e.ws_stop = start_websocket_server()
    e.access_log = e.dir / "access.log"
    config = "---\n".join([tls_gateway(e.pki), routes("h2", HOST, "echo"),
                           routes("h2b", H2_HOST, "h2b"), routes("ws", WS_HOST, "ws"),
                           routes("up", UPGRADE_HOST, "up"),
                           routes("cp", CLIENT_PROTOCOL_HOST, "cp"),
                           # An HTTP/2-only backend behind ports named plain http.
                           service("up", e.h2_backend.port), service("cp", e.h2_backend.port),
                           http_policy("up", "h2UpgradePolicy: UPGRADE"),
                           http_policy("cp", "useClientProtocol: true"),
                           service("echo", e.backend.port), h2_service("h2b", e.h2_backend.port),
                           service("ws", e.ws_port)])
    e.tls_port = free_port()
    e.proxy = Proxy(e.dir, config, extra_args=["--access-log", str(e.access_log),
                                               "--port-map", "%d=%d" % (TLS_PORT, e.tls_port)])
    yield e
    e.proxy.stop()
    e.backend.stop()
    e.h2_backend.stop()
    e.ws_stop()


def start_websocket_server():
    """A websockets echo server on its own event loop thread; (port, stop)."""
    import asyncio
    import websockets

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    async def echo(ws, path=None):
        async for message in ws:
            await ws.send("echo:" + message)

    async def main():
        holder["server"] = await websockets.serve(echo, "127.0.0.1", 0)
        holder["port"] = holder["server"].sockets[0].getsockname()[1]
        started.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    started.wait(10)

    async def shutdown():
        holder["server"].close()
        await holder["server"].wait_closed()

    def stop():
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return holder["port"], stop


def test_prior_knowledge_get(env):
    version, status, headers, body = curl_h2(env.proxy.port, "/hello?x=1")
    assert version == "HTTP/2"
    assert status == 200
    assert headers["x-served-by"] == "echo"
    record = json.loads(body)
    assert record["path"] == "/hello?x=1"
    assert record["headers"]["host"] == HOST
    assert "x-envoy-upstream-service-time" in headers


def test_http11_still_served_on_the_same_port(env):
    r = curl(env.proxy.port, "/h1", HOST)
    assert r.status == 200
    assert json.loads(r.body)["path"] == "/h1"


def test_post_bodies_both_ways(env):
    payload = env.dir / "payload.bin"
    payload.write_bytes(b"a" * 300_000)
    version, status, _, body = curl_h2(env.proxy.port, "/upload", "--data-binary",
                                       "@%s" % payload)
    assert (version, status) == ("HTTP/2", 200)
    assert json.loads(body)["body_bytes"] == 300_000
    # A large response streamed back.
    version, status, _, body = curl_h2(env.proxy.port, "/big", "-H", "x-test-body-size: 2000000")
    assert status == 200 and len(body) == 2_000_000


def test_local_replies_over_h2(env):
    _, status, headers, body = curl_h2(env.proxy.port, "/denied")
    assert status == 403 and body == b"no\n"
    _, status, headers, body = curl_h2(env.proxy.port, "/", host="nowhere.example.org")
    assert status == 404
    assert "x-halyard-reason" in headers


def test_access_log_says_http2(env):
    curl_h2(env.proxy.port, "/logged-h2")
    deadline = time.time() + 5
    while time.time() < deadline:
        text = env.access_log.read_text() if env.access_log.exists() else ""
        if "/logged-h2" in text:
            break
        time.sleep(0.1)
    line = [l for l in env.access_log.read_text().splitlines() if "/logged-h2" in l][-1]
    assert "HTTP/2" in line


@pytest.mark.skipif(not shutil.which("h2load"), reason="h2load is not installed")
def test_h2load_many_streams(env):
    out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "16", "-H", ":authority: " + HOST,
                          "http://127.0.0.1:%d/load" % env.proxy.port],
                         capture_output=True, text=True, timeout=120)
    assert "2000 succeeded" in out.stdout, out.stdout + out.stderr
    assert "status codes: 2000 2xx" in out.stdout, out.stdout


def test_tls_alpn_h2_and_http11(env):
    """curl --http2 over TLS negotiates h2 by ALPN; --http1.1 still gets HTTP/1.1."""
    for flag, want in (("--http2", "HTTP/2"), ("--http1.1", "HTTP/1.1")):
        out = subprocess.run(
            ["curl", "-s", flag, "--max-time", "10", "--cacert", str(env.pki / "ca.crt"),
             "--resolve", "%s:%d:127.0.0.1" % (HOST, env.tls_port), "-D", "-", "-o",
             "/dev/null", "https://%s:%d/tls" % (HOST, env.tls_port)],
            capture_output=True, timeout=15)
        first = out.stdout.decode().split("\r\n")[0]
        assert first.startswith(want + " 200"), (flag, out.stdout, out.stderr)


def test_http2_backend_by_port_name(env):
    """A Service port named http2-*: the gateway speaks HTTP/2 to it, streams multiplexed on one
    connection, whatever the client spoke."""
    before = env.h2_backend.connections
    cx_before = upstream_cx_total(env.proxy.admin("/stats/prometheus"), "h2b")
    _, status, headers, body = curl_h2(env.proxy.port, "/via-h2?q=1", host=H2_HOST)
    assert status == 200 and headers["server"] == "h2-backend"
    got = json.loads(body)["headers"]
    assert got[":path"] == "/via-h2?q=1" and got[":authority"] == H2_HOST
    r = curl(env.proxy.port, "/from-h1", H2_HOST, "--data-binary", "abc")
    assert r.status == 200 and json.loads(r.body)["body_bytes"] == 3
    out = subprocess.run(["h2load", "-n", "500", "-c", "2", "-m", "20", "-H",
                          ":authority: " + H2_HOST, "http://127.0.0.1:%d/many" % env.proxy.port],
                         capture_output=True, text=True, timeout=60)
    assert "500 succeeded" in out.stdout, out.stdout
    # One worker's connection or two (the proxy runs two workers), not one per request.
    made = env.h2_backend.connections - before
    assert made <= 4
    # The cluster's connection counter counts those connections, not the 502 streams.
    cx_after = upstream_cx_total(env.proxy.admin("/stats/prometheus"), "h2b")
    assert cx_after > 0 and cx_after - cx_before == made


def upstream_cx_total(metrics, service):
    total = 0
    for line in metrics.splitlines():
        if line.startswith("envoy_cluster_upstream_cx_total{") and "|%s.default" % service in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def start_nginx_h2_backend(directory, max_requests):
    """nginx answering HTTP/2 (h2c) that ends each connection after `max_requests` streams with a
    graceful GOAWAY (keepalive_requests), as nginx, Envoy and Go servers do: the streams the proxy
    opened past the GOAWAY's last stream were never processed. (port, process)"""
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text("""daemon off; worker_processes 1; pid %s/nginx.pid; error_log stderr error;
events { worker_connections 1024; }
http { access_log off; keepalive_requests %d; http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:%d http2; location / { return 200 "from nginx\\n"; } } }
""" % (directory, max_requests, port))
    proc = subprocess.Popen(["nginx", "-e", "stderr", "-c", str(conf), "-p", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return port, proc


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("h2load"),
                    reason="nginx or h2load is not installed")
def test_streams_refused_by_an_upstream_goaway_are_retried(tmp_path):
    """An HTTP/2 upstream's GOAWAY refuses the streams above its last one, and they go again on
    a new connection under retryOn refused-stream (part of Istio's default policy): no client
    sees an error. (Five attempts: with a GOAWAY every 50 streams and 16 in flight, the default
    two retries can all land on connections that are about to refuse them too.)"""
    port, nginx = start_nginx_h2_backend(tmp_path, 50)
    host = "goaway.example.com"
    retried_route = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: goaway, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - route: [{destination: {host: goaway}}]
    retries: {attempts: 5, retryOn: refused-stream}
""" % host
    config = "---\n".join([gateway("gw", [host]), retried_route, h2_service("goaway", port)])
    access_log = tmp_path / "access.log"
    proxy = Proxy(tmp_path, config, extra_args=["--access-log", str(access_log)])
    try:
        out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "8", "-H",
                              ":authority: " + host, "http://127.0.0.1:%d/" % proxy.port],
                             capture_output=True, text=True, timeout=120)
        time.sleep(0.2)  # the access log is written after the response
        failed = [line for line in access_log.read_text().splitlines() if '" 200 ' not in line]
        assert "2000 succeeded" in out.stdout, "\n".join(failed[:5]) + "\n" + out.stdout
        assert "status codes: 2000 2xx" in out.stdout, out.stdout
        # nginx did end its connections: 2000 streams took dozens of them.
        assert upstream_cx_total(proxy.admin("/stats/prometheus"), "goaway") >= 20
    finally:
        proxy.stop()
        nginx.terminate()
        nginx.wait(timeout=10)


def test_websocket_through_the_gateway(env):
    import asyncio
    import websockets

    async def talk():
        # The URI names the routed host; host/port say where to connect.
        async with websockets.connect("ws://%s:%d/chat" % (WS_HOST, env.proxy.port),
                                      host="127.0.0.1", port=env.proxy.port) as ws:
            replies = []
            for m in ("a", "b", "c"):
                await ws.send(m)
                replies.append(await asyncio.wait_for(ws.recv(), 5))
            return replies

    assert asyncio.run(talk()) == ["echo:a", "echo:b", "echo:c"]


def test_slow_reader_memory_stays_bounded(env):
    """A client that opens a 200 MB response and reads nothing: flow control stops the relay,
    the proxy does not buffer the body."""
    import h2.config
    import h2.connection
    rss_before = env.proxy.rss_kb()
    sock = socket.create_connection(("127.0.0.1", env.proxy.port))
    try:
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        c.initiate_connection()
        c.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", HOST),
                           (":path", "/huge"), ("x-test-body-size", "200000000")],
                       end_stream=True)
        sock.sendall(c.data_to_send())
        time.sleep(3)  # the backend writes as fast as it can; only the windows hold it back
        rss_after = env.proxy.rss_kb()
        assert rss_after - rss_before < 20_000, (rss_before, rss_after)
    finally:
        sock.close()


def test_h2_upgrade_policy_and_use_client_protocol(env):
    """h2UpgradePolicy UPGRADE: HTTP/2 upstream whatever the client spoke; useClientProtocol:
    HTTP/2 upstream only for an HTTP/2 client (an HTTP/1.1 one then fails against this
    HTTP/2-only backend)."""
    r = curl(env.proxy.port, "/up", UPGRADE_HOST)
    assert r.status == 200 and r.headers.get("server") == "h2-backend", r
    _, status, headers, _ = curl_h2(env.proxy.port, "/cp", host=CLIENT_PROTOCOL_HOST)
    assert status == 200 and headers["server"] == "h2-backend"
    r = curl(env.proxy.port, "/cp", CLIENT_PROTOCOL_HOST)
    assert r.status in (502, 503), r


def h2_exchange(port, head, chunks=(), trailers=None, burst=False, timeout=10):
    """One request over a fresh h2c connection with the h2 library, body in `chunks` (separate
    DATA frames, sent apart unless `burst`) and optional trailers; (status, response headers,
    body)."""
    import h2.config
    import h2.connection
    import h2.events
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                 header_encoding="utf-8"))
        c.initiate_connection()
        end_with_head = not chunks and not trailers
        c.send_headers(1, head, end_stream=end_with_head)
        if not burst:
            sock.sendall(c.data_to_send())
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1 and not trailers
            c.send_data(1, chunk, end_stream=last)
            if not burst:
                sock.sendall(c.data_to_send())
                time.sleep(0.05)  # separate bursts: the body streams, its length unknown
        if trailers:
            c.send_headers(1, trailers, end_stream=True)
            sock.sendall(c.data_to_send())
        status, headers, body = None, {}, b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            done = False
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    headers = dict(ev.headers)
                    status = int(headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(c.data_to_send())
            if done:
                break
        return status, headers, body
    finally:
        sock.close()


def test_streamed_body_of_unknown_length_reaches_an_http2_backend(env):
    # DATA in several bursts without content-length: relayed as DATA, ended with the stream.
    head = [(":method", "POST"), (":scheme", "http"), (":authority", H2_HOST),
            (":path", "/stream")]
    status, _, body = h2_exchange(env.proxy.port, head, chunks=[b"a" * 1000, b"b" * 2000,
                                                                 b"c" * 3000])
    assert status == 200
    got = json.loads(body)
    assert got["body_bytes"] == 6000
    assert "transfer-encoding" not in got["headers"]


def test_request_trailers_reach_an_http2_backend(env):
    # A client that ends its request with trailers (gRPC-style trailing metadata): forwarded
    # to the HTTP/2 upstream in a trailing HEADERS frame, as Envoy does.
    head = [(":method", "POST"), (":scheme", "http"), (":authority", H2_HOST),
            (":path", "/trailers"), ("content-type", "application/octet-stream")]
    status, _, body = h2_exchange(env.proxy.port, head, chunks=[b"x" * 100, b"y" * 100],
                                  trailers=[("x-checksum", "abc123"), ("x-count", "2")])
    assert status == 200
    got = json.loads(body)
    assert got["body_bytes"] == 200
    assert got["trailers"] == {"x-checksum": "abc123", "x-count": "2"}


def test_request_trailers_within_the_first_burst(env):
    # Head, body and trailers all at once: the body is kept whole (retries), the trailers go too.
    head = [(":method", "POST"), (":scheme", "http"), (":authority", H2_HOST),
            (":path", "/trailers-burst")]
    status, _, body = h2_exchange(env.proxy.port, head, chunks=[b"z" * 10],
                                  trailers=[("x-final", "yes")], burst=True)
    assert status == 200
    got = json.loads(body)
    assert got["body_bytes"] == 10
    assert got["trailers"] == {"x-final": "yes"}


def test_h2c_upgrade_from_http11(env):
    # curl --http2 on an http:// URL sends "Upgrade: h2c" with HTTP2-Settings: 101, then the
    # request is answered on stream 1 over HTTP/2, and the connection stays HTTP/2.
    out = subprocess.run(
        ["curl", "-s", "--http2", "--max-time", "10", "-H", "Host: " + HOST,
         "-w", "\n%{http_version} %{response_code}",
         "http://127.0.0.1:%d/upgraded" % env.proxy.port,
         "http://127.0.0.1:%d/second" % env.proxy.port],
        capture_output=True, text=True, timeout=20)
    # Each body is followed by "\n<version> <status>" (-w).
    assert out.stdout.count("\n2 200") == 2, out.stdout
    assert "/upgraded" in out.stdout and "/second" in out.stdout


def test_h2c_upgrade_not_taken_for_a_request_with_a_body(env):
    # A body may be half read when the protocol switches: such a request stays HTTP/1.1.
    out = subprocess.run(
        ["curl", "-s", "--http2", "--max-time", "10", "-H", "Host: " + HOST,
         "--data-binary", "payload", "-w", "\n%{http_version} %{response_code}",
         "http://127.0.0.1:%d/upgrade-post" % env.proxy.port],
        capture_output=True, text=True, timeout=20)
    assert out.stdout.strip().split("\n")[-1] == "1.1 200", out.stdout


def test_streamed_body_of_unknown_length_to_an_http11_backend(env):
    # The same body to an HTTP/1.1 upstream goes chunked.
    head = [(":method", "POST"), (":scheme", "http"), (":authority", HOST), (":path", "/chunked")]
    status, _, body = h2_exchange(env.proxy.port, head, chunks=[b"a" * 500, b"b" * 700])
    assert status == 200
    record = json.loads(body)
    assert record["body_bytes"] == 1200
    assert record["chunked"] is True


def test_head_request_to_an_http2_backend_keeps_the_described_length(env):
    head = [(":method", "HEAD"), (":scheme", "http"), (":authority", H2_HOST), (":path", "/head")]
    status, headers, body = h2_exchange(env.proxy.port, head)
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


def test_websocket_over_http2_extended_connect(env):
    # RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL from the proxy, then CONNECT with
    # :protocol websocket; bridged to the backend's HTTP/1.1 WebSocket upgrade (the 101 is
    # answered as 200) and the frames flow as DATA both ways.
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    sock = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10)
    try:
        c = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
            normalize_outbound_headers=False))
        c.initiate_connection()
        sock.sendall(c.data_to_send())
        enabled = False
        while not enabled:
            data = sock.recv(65536)
            assert data, "the proxy closed before its SETTINGS"
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    s = ev.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                    enabled = enabled or (s is not None and s.new_value == 1)
            sock.sendall(c.data_to_send())
        c.send_headers(1, [(":method", "CONNECT"), (":protocol", "websocket"),
                           (":scheme", "http"), (":authority", WS_HOST), (":path", "/chat"),
                           ("sec-websocket-version", "13")])
        sock.sendall(c.data_to_send())
        status, got = None, b""

        def pump(until):
            nonlocal status, got
            deadline = time.time() + 10
            while not until() and time.time() < deadline:
                data = sock.recv(65536)
                assert data, "the proxy closed the connection"
                for ev in c.receive_data(data):
                    if isinstance(ev, h2.events.ResponseReceived):
                        status = int(dict(ev.headers)[":status"])
                    elif isinstance(ev, h2.events.DataReceived):
                        got += ev.data
                        c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamReset):
                        raise AssertionError("stream reset")
                sock.sendall(c.data_to_send())

        pump(lambda: status is not None)
        assert status == 200
        payload, mask = b"hi", b"\x01\x02\x03\x04"
        frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
            b ^ mask[i % 4] for i, b in enumerate(payload))
        c.send_data(1, frame)
        sock.sendall(c.data_to_send())
        pump(lambda: len(got) >= 2 + len(b"echo:hi"))
        assert got == bytes([0x81, len(b"echo:hi")]) + b"echo:hi"
    finally:
        sock.close()


class H2Client:
    """One h2c connection to the proxy that sends requests one after another, each on its own
    stream, so the proxy's per-stream objects of one stream are reused by the next."""

    def __init__(self, port, timeout=10):
        import h2.config
        import h2.connection
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                      header_encoding="utf-8"))
        self.c.initiate_connection()
        self.sock.sendall(self.c.data_to_send())
        self.next_id = 1

    def close(self):
        self.sock.close()

    def request(self, head, body=b"", trailers=None, reset_after=None):
        """(status, headers, body); `reset_after`: send that many body bytes, then reset the
        stream (returns None)."""
        import h2.events
        sid = self.next_id
        self.next_id += 2
        self.c.send_headers(sid, head, end_stream=not body and not trailers)
        if reset_after is not None:
            self.c.send_data(sid, body[:reset_after])
            self.sock.sendall(self.c.data_to_send())
            time.sleep(0.1)
            self.c.reset_stream(sid)
            self.sock.sendall(self.c.data_to_send())
            return None
        if body:
            self.c.send_data(sid, body, end_stream=not trailers)
        if trailers:
            self.c.send_headers(sid, trailers, end_stream=True)
        self.sock.sendall(self.c.data_to_send())
        status, headers, got = None, {}, b""
        while True:
            data = self.sock.recv(65536)
            assert data, "the proxy closed the connection"
            done = False
            for ev in self.c.receive_data(data):
                if getattr(ev, "stream_id", sid) != sid:
                    continue  # the reset stream's late frames
                if isinstance(ev, h2.events.ResponseReceived):
                    headers = dict(ev.headers)
                    status = int(headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    got += ev.data
                    self.c.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            self.sock.sendall(self.c.data_to_send())
            if done:
                return status, headers, got


def test_streams_of_one_connection_do_not_inherit_each_other(env):
    # A finished stream's request-path objects serve the connection's next stream: nothing of
    # the request before (its id, headers, body, trailers, a reset) may show in the next one.
    def head(method, path, *extra):
        return [(":method", method), (":scheme", "http"), (":authority", H2_HOST),
                (":path", path), *extra]

    client = H2Client(env.proxy.port)
    try:
        status, _, body = client.request(
            head("POST", "/first", ("x-request-id", "first-id"), ("x-custom", "a"),
                 ("content-length", "3000")),
            body=b"a" * 3000, trailers=[("x-trailer", "1")])
        assert status == 200
        first = json.loads(body)
        assert first["body_bytes"] == 3000 and first["trailers"] == {"x-trailer": "1"}, first
        assert first["headers"]["x-request-id"] == "first-id"

        status, _, body = client.request(head("GET", "/second"))
        assert status == 200
        second = json.loads(body)
        assert second["headers"][":path"] == "/second"
        assert second["body_bytes"] == 0 and second["trailers"] == {}, second
        assert "x-custom" not in second["headers"], second
        assert second["headers"]["x-request-id"] not in ("", "first-id"), second

        # A stream the client resets in the middle of its body, then one more request.
        assert client.request(head("POST", "/reset"), body=b"r" * 5000, reset_after=1000) is None
        for i in range(20):
            status, _, body = client.request(head("GET", "/after/%d" % i))
            assert status == 200, (i, status, body)
            got = json.loads(body)
            assert got["headers"][":path"] == "/after/%d" % i and got["body_bytes"] == 0, got
        # A local reply (no route) between forwarded requests, then forwarded again.
        status, _, _ = client.request([(":method", "GET"), (":scheme", "http"),
                                       (":authority", "nowhere.example.com"), (":path", "/")])
        assert status == 404
        status, _, body = client.request(head("GET", "/last"))
        assert status == 200 and json.loads(body)["headers"][":path"] == "/last"
    finally:
        client.close()
