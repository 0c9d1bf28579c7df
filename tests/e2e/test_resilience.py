"""DestinationRule traffic policy through the real proxy with real backends (issue 13): outlier
detection ejecting a failing endpoint and re-admitting it after baseEjectionTime; connection
pool limits overflowing at once with 503 UO and Envoy's overflow counters; one user pinned to
one endpoint by a header and by a cookie (issued when absent); locality failover; a backend
SIGKILLed under load costing at most one request; an endpoint added to a running cluster warming
up (loadBalancer.warmup); a black-holed backend (accepts, never
answers) costing requests only up to the timeouts before it is ejected.

Every backend listens on a port the kernel picks; the proxy is a gateway with two workers, and
each request opens its own connection so that both workers serve them (ejection must be seen
by all workers)."""
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import run_halyard
from control_harness import ControlPlane
from proxy_backends import EchoBackend
from proxy_harness import ControlledProxy, Proxy, free_port, gateway

HOST = "resil.example.com"


def request(port, path, headers=None, timeout=10):
    """(status, headers dict lowercase, body) over a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": HOST, **(headers or {})})
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def served_by(headers):
    return headers.get("x-served-by", "-")


def virtual_service(routes):
    return ("apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
            "metadata: {name: resil, namespace: default}\nspec:\n  hosts: [%s]\n"
            "  gateways: [resil-gw]\n  http:\n%s" % (HOST, routes))


def route(prefix, host, extra="    retries: {attempts: 0}\n"):
    return "  - match: [{uri: {prefix: %s}}]\n%s    route: [{destination: {host: %s}}]\n" % (
        prefix, extra, host)


def multi_service(name, ports, localities=None):
    """A ServiceEntry with one static endpoint per port (all on 127.0.0.1), optionally with
    localities."""
    endpoints = ""
    for i, p in enumerate(ports):
        loc = ", locality: %s" % localities[i] if localities else ""
        endpoints += "  - {address: 127.0.0.1, ports: {http: %d}%s}\n" % (p, loc)
    return """apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
%s""" % (name, name, endpoints)


def destination_rule(name, host, policy):
    return """apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: %s, namespace: default}
spec:
  host: %s
  trafficPolicy:
%s""" % (name, host, policy)


def clusters_health(proxy, cluster):
    """endpoint -> health_flags value, from the admin /clusters output."""
    out = {}
    for line in proxy.admin("/clusters").splitlines():
        parts = line.split("::")
        if len(parts) == 4 and parts[0] == cluster and parts[2] == "health_flags":
            out[parts[1]] = parts[3]
    return out


def metric(proxy, name, cluster):
    total = 0.0
    pattern = re.compile(r'^%s\{[^}]*cluster_name="%s"[^}]*\} (\S+)$' % (re.escape(name),
                                                                       re.escape(cluster)))
    for line in proxy.admin("/stats/prometheus").splitlines():
        m = pattern.match(line)
        if m:
            total += float(m.group(1))
    return total


def wait_for(predicate, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# --------------------------------------------------------------------------------------------
# Outlier detection: ejection and re-admission


def test_failing_endpoint_is_ejected_then_readmitted(tmp_path):
    good, bad = EchoBackend("good"), EchoBackend("bad")
    bad.fail_next = [500] * 1000
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "pair.internal")),
        multi_service("pair", [good.port, bad.port]),
        destination_rule("pair", "pair.internal", """    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 2s
      maxEjectionPercent: 100
"""),
    ])
    proxy = Proxy(tmp_path, config)
    cluster = "outbound|80||pair.internal"
    bad_endpoint = "127.0.0.1:%d" % bad.port
    try:
        assert clusters_health(proxy, cluster)[bad_endpoint] == "healthy"
        failures = 0
        for _ in range(10):
            status, _, _ = request(proxy.port, "/")
            failures += status != 200
            if failures == 2:
                break
        assert failures == 2
        # Ejected: every request from now on succeeds, though nothing retries.
        health = clusters_health(proxy, cluster)
        assert health[bad_endpoint] == "/failed_outlier_check"
        assert health["127.0.0.1:%d" % good.port] == "healthy"
        statuses = [request(proxy.port, "/")[0] for _ in range(30)]
        assert statuses == [200] * 30
        assert metric(proxy, "envoy_cluster_outlier_detection_ejections_enforced_total",
                      cluster) == 1
        # The backend recovers; after baseEjectionTime it takes traffic again.
        bad.fail_next = []
        before = bad.count()
        assert wait_for(lambda: clusters_health(proxy, cluster)[bad_endpoint] == "healthy", 4)
        for _ in range(10):
            assert request(proxy.port, "/")[0] == 200
        assert bad.count() > before
    finally:
        proxy.stop()
        good.stop()
        bad.stop()


def test_retries_go_to_another_host_and_never_to_an_ejected_one(tmp_path):
    good, bad = EchoBackend("good"), EchoBackend("bad")
    bad.fail_next = [503] * 1000
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "pair.internal",
                              extra="    retries: {attempts: 2, retryOn: 5xx}\n")),
        multi_service("pair", [good.port, bad.port]),
        destination_rule("pair", "pair.internal", """    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 60s, maxEjectionPercent: 50}
"""),
    ])
    proxy = Proxy(tmp_path, config)
    try:
        # Whatever host a request starts on, its retry goes to the other one: all succeed.
        assert [request(proxy.port, "/")[0] for _ in range(20)] == [200] * 20
        # The failing host was ejected after its first 503 and got nothing after it.
        assert bad.count() == 1
        assert good.count() >= 20
    finally:
        proxy.stop()
        good.stop()
        bad.stop()


def test_proxy_config_endpoints_shows_the_ejection(tmp_path):
    """Through the control plane: `halyard proxy-config endpoints` reads the proxy's health from
    its admin listener, as istioctl reads Envoy's."""
    good, bad = EchoBackend("good"), EchoBackend("bad")
    bad.fail_next = [500] * 1000
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "mesh.yaml").write_text("---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "pair.internal")),
        multi_service("pair", [good.port, bad.port]),
        destination_rule("pair", "pair.internal", """    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 60s, maxEjectionPercent: 50}
"""),
    ]))
    control = ControlPlane(config_dir)
    proxy = ControlledProxy(tmp_path / "proxy", control)
    try:
        proxy.wait_ready()
        assert any(request(proxy.port, "/")[0] == 500 for _ in range(4))

        def endpoints(*args):
            res = run_halyard("proxy-config", "endpoints", "halyard-gateway.istio-system",
                              "--control", control.address, *args)
            assert res.returncode == 0, res.stderr
            return res.stdout

        table = endpoints()
        lines = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line}
        assert table.splitlines()[0].split()[:4] == ["ENDPOINT", "STATUS", "OUTLIER", "CHECK"]
        assert lines["127.0.0.1:%d" % bad.port][1:3] == ["UNHEALTHY", "FAILED"], table
        assert lines["127.0.0.1:%d" % good.port][1:3] == ["HEALTHY", "OK"], table
        by_port = {e["port"]: e for e in json.loads(endpoints("-o", "json"))}
        assert by_port[bad.port]["outlier_check"] == "FAILED"
        assert by_port[bad.port]["health_flags"] == "/failed_outlier_check"
        assert by_port[good.port]["status"] == "HEALTHY"
    finally:
        proxy.stop()
        control.stop()
        good.stop()
        bad.stop()


# --------------------------------------------------------------------------------------------
# Connection pool limits


def test_pool_limits_overflow_fast_with_uo(tmp_path):
    slow = EchoBackend("slow")
    log = tmp_path / "access.log"
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "slow.internal")),
        multi_service("slow", [slow.port]),
        destination_rule("slow", "slow.internal", """    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
"""),
    ])
    proxy = Proxy(tmp_path, config, extra_args=["--access-log", str(log),
                                                "--access-log-format", "json"])
    cluster = "outbound|80||slow.internal"
    try:
        results = []
        lock = threading.Lock()

        def one(i):
            start = time.monotonic()
            status, headers, _ = request(proxy.port, "/", {"x-test-delay-ms": "1000",
                                                           "x-request-id": "uo-%d" % i})
            with lock:
                results.append((status, time.monotonic() - start, headers))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r[0] == 200]
        overflow = [r for r in results if r[0] == 503]
        # One on the connection, one pending (served after it): the rest overflow at once.
        assert len(ok) == 2, results
        assert len(overflow) == 6, results
        for status, elapsed, headers in overflow:
            assert elapsed < 0.5  # at once, not after the 1 s the admitted ones take
            assert "connectionPool" in headers.get("x-halyard-reason", "")
        assert max(slow.count(), 0) == 2
        assert metric(proxy, "envoy_cluster_upstream_rq_pending_overflow", cluster) == 6
        assert metric(proxy, "envoy_cluster_upstream_cx_overflow", cluster) >= 6

        def flags():
            if not log.exists():
                return []
            return [json.loads(l)["response_flags"] for l in log.read_text().splitlines()]

        assert wait_for(lambda: flags().count("UO") == 6, 5)
    finally:
        proxy.stop()
        slow.stop()


def test_max_requests_overflow_and_one_connection(tmp_path):
    slow = EchoBackend("slow")
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "slow.internal")),
        multi_service("slow", [slow.port]),
        destination_rule("slow", "slow.internal", """    connectionPool:
      http: {http2MaxRequests: 2}
"""),
    ])
    proxy = Proxy(tmp_path, config)
    try:
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            request(proxy.port, "/", {"x-test-delay-ms": "500"})[0])) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 200, 503, 503, 503, 503]
    finally:
        proxy.stop()
        slow.stop()


# --------------------------------------------------------------------------------------------
# Consistent hashing


def test_new_endpoint_warms_up_slowly(tmp_path):
    """loadBalancer.warmup: an endpoint added to a running cluster starts at minimumPercent of
    its weight and reaches its full share once `duration` has passed."""
    old, new = EchoBackend("old"), EchoBackend("new")

    def config(ports):
        return "---\n".join([
            gateway("resil-gw", [HOST]),
            virtual_service(route("/", "warm.internal")),
            multi_service("warm", ports),
            destination_rule("warm", "warm.internal", """    loadBalancer:
      simple: ROUND_ROBIN
      warmup: {duration: 5s, minimumPercent: 10, aggression: 1}
"""),
        ])

    proxy = Proxy(tmp_path, config([old.port]), workers=1)
    try:
        for _ in range(5):
            assert request(proxy.port, "/")[0] == 200
        time.sleep(5.5)  # the first endpoint's own warmup is over
        (proxy.config / "config.yaml").write_text(config([old.port, new.port]))
        assert wait_for(lambda: "127.0.0.1:%d" % new.port in proxy.admin("/clusters"), 10)
        early = [served_by(request(proxy.port, "/")[1]) for _ in range(80)]
        time.sleep(5.5)
        late = [served_by(request(proxy.port, "/")[1]) for _ in range(80)]
        # Expected: about 10% of the early requests (minimumPercent), half of the late ones.
        assert early.count("new") < 24, early
        assert late.count("new") > 24, late
        assert early.count("new") + early.count("old") == 80
    finally:
        proxy.stop()
        old.stop()
        new.stop()


def hashed_setup(tmp_path, hash_block):
    backends = [EchoBackend("b%d" % i) for i in range(4)]
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "sticky.internal")),
        multi_service("sticky", [b.port for b in backends]),
        destination_rule("sticky", "sticky.internal",
                         "    loadBalancer:\n      consistentHash:\n" + hash_block),
    ])
    return backends, Proxy(tmp_path, config)


def test_user_pinned_by_header(tmp_path):
    backends, proxy = hashed_setup(tmp_path, "        httpHeaderName: x-user\n")
    try:
        owners = {}
        for user in range(20):
            seen = {served_by(request(proxy.port, "/", {"x-user": "user-%d" % user})[1])
                    for _ in range(6)}
            assert len(seen) == 1, (user, seen)
            owners[user] = seen.pop()
        assert len(set(owners.values())) >= 3  # users spread over the endpoints
    finally:
        proxy.stop()
        for b in backends:
            b.stop()


def test_user_pinned_by_cookie_issued_when_absent(tmp_path):
    backends, proxy = hashed_setup(tmp_path, """        httpCookie:
          name: sticky
          path: /
          ttl: 3600s
""")
    try:
        status, headers, _ = request(proxy.port, "/")
        assert status == 200
        cookie = headers["set-cookie"]
        assert cookie.startswith("sticky=")
        assert "Max-Age=3600" in cookie
        assert "Path=/" in cookie
        assert "HttpOnly" in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        first = served_by(headers)
        for _ in range(10):
            status, h, _ = request(proxy.port, "/", {"Cookie": "sticky=" + value})
            assert status == 200
            assert served_by(h) == first
            assert "set-cookie" not in h  # the client has it now
        # Different cookies spread.
        seen = {served_by(request(proxy.port, "/", {"Cookie": "sticky=v%d" % i})[1])
                for i in range(40)}
        assert len(seen) >= 3
    finally:
        proxy.stop()
        for b in backends:
            b.stop()


# --------------------------------------------------------------------------------------------
# Locality failover


def test_locality_failover(tmp_path):
    near, far = EchoBackend("near"), EchoBackend("far")
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "geo.internal")),
        multi_service("geo", [near.port, far.port], localities=["r1/z1", "r2/z1"]),
        destination_rule("geo", "geo.internal", """    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        failover: [{from: r1, to: r2}]
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
"""),
    ])
    proxy = Proxy(tmp_path, config, extra_args=[
        "--labels", "istio=ingressgateway,topology.kubernetes.io/region=r1,"
                    "topology.kubernetes.io/zone=z1"])
    try:
        # Same locality first: everything goes to the near endpoint.
        assert {served_by(request(proxy.port, "/")[1]) for _ in range(10)} == {"near"}
        # It fails once and is ejected: traffic fails over to the other region.
        near.fail_next = [503]
        assert request(proxy.port, "/")[0] == 503
        assert {served_by(request(proxy.port, "/")[1]) for _ in range(10)} == {"far"}
    finally:
        proxy.stop()
        near.stop()
        far.stop()


# --------------------------------------------------------------------------------------------
# Backends that die or hang


BACKEND = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        time.sleep(0.01)
        body = sys.argv[2].encode()
        self.send_response(200)
        self.send_header("X-Served-By", sys.argv[2])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
"""


def start_backend(tmp_path, name):
    port = free_port()
    script = tmp_path / "backend.py"
    script.write_text(BACKEND)
    proc = subprocess.Popen([sys.executable, str(script), str(port), name],
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    return proc, port


def test_backend_sigkilled_under_load_costs_at_most_one_request(tmp_path):
    a, port_a = start_backend(tmp_path, "a")
    b, port_b = start_backend(tmp_path, "b")
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        # Istio's default retries (connect-failure among them) on the route.
        virtual_service(route("/", "duo.internal", extra="")),
        multi_service("duo", [port_a, port_b]),
        destination_rule("duo", "duo.internal", """    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
"""),
    ])
    proxy = Proxy(tmp_path, config)
    try:
        statuses = []
        stop = threading.Event()

        def load():
            # A keep-alive client, like most: pooled upstream connections to the dead backend
            # must not turn into failures.
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            while not stop.is_set():
                try:
                    conn.request("GET", "/", headers={"Host": HOST})
                    r = conn.getresponse()
                    r.read()
                    statuses.append(r.status)
                except (OSError, http.client.HTTPException):
                    statuses.append(0)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            conn.close()

        t = threading.Thread(target=load)
        t.start()
        time.sleep(1.0)
        a.send_signal(signal.SIGKILL)
        a.wait()
        time.sleep(1.5)
        stop.set()
        t.join()
        assert len(statuses) > 50
        failures = [s for s in statuses if s != 200]
        assert len(failures) <= 1, failures
    finally:
        proxy.stop()
        for p in (a, b):
            if p.poll() is None:
                p.kill()
            p.wait()


class BlackHole:
    """Accepts connections and never answers (nor closes) them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.running = True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def stop(self):
        self.running = False
        self.sock.close()
        for c in self.conns:
            c.close()


def test_black_holed_backend_costs_requests_up_to_timeouts_then_is_ejected(tmp_path):
    good = EchoBackend("good")
    hole = BlackHole()
    config = "---\n".join([
        gateway("resil-gw", [HOST]),
        virtual_service(route("/", "hole.internal", extra="    timeout: 300ms\n"
                                                          "    retries: {attempts: 0}\n")),
        multi_service("hole", [good.port, hole.port]),
        destination_rule("hole", "hole.internal", """    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
"""),
    ])
    proxy = Proxy(tmp_path, config)
    cluster = "outbound|80||hole.internal"
    try:
        results = []
        for _ in range(30):
            start = time.monotonic()
            status = request(proxy.port, "/")[0]
            results.append((status, time.monotonic() - start))
        timeouts = [r for r in results if r[0] == 504]
        assert len(timeouts) == 2, results
        for _, elapsed in timeouts:
            assert elapsed < 1.0  # only the route timeout
        # After the second timeout, nothing but successes.
        last_timeout = max(i for i, r in enumerate(results) if r[0] == 504)
        assert all(r[0] == 200 for r in results[last_timeout + 1:])
        assert clusters_health(proxy, cluster)["127.0.0.1:%d" % hole.port] == \
            "/failed_outlier_check"
    finally:
        proxy.stop()
        good.stop()
        hole.stop()
