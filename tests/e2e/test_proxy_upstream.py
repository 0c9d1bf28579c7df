"""Upstream behaviour through the real proxy: unknown cluster (503 NC), no endpoints (503 UH),
connect failure (503 UF, URX once retries are spent), resets before a response (503 UC/UR),
route and per-try timeouts (504 UT), retries (5xx, on another host), load balancing, DNS
endpoints and mirroring. Response flags are read from the proxy's JSON access log."""
import http.client
import json
import time

import pytest

from proxy_backends import ClosingBackend, EchoBackend
from proxy_harness import Proxy, curl, free_port, gateway, service

HOST = "up.example.com"


def route(prefix, body):
    return "  - match: [{uri: {prefix: %s}}]\n%s" % (prefix, body)


def config(ports):
    routes = [
        route("/nc", "    route: [{destination: {host: missing-svc}}]\n"),
        route("/uh", "    route: [{destination: {host: empty}}]\n"),
        route("/uf-noretry", "    retries: {attempts: 0}\n    route: [{destination: {host: refused}}]\n"),
        route("/uf", "    route: [{destination: {host: refused}}]\n"),
        route("/uc", "    retries: {attempts: 0}\n    route: [{destination: {host: closing}}]\n"),
        route("/ur", "    retries: {attempts: 0}\n    route: [{destination: {host: resetting}}]\n"),
        route("/timeout", "    timeout: 300ms\n    route: [{destination: {host: echo}}]\n"),
        route("/per-try", "    retries: {attempts: 1, perTryTimeout: 200ms, retryOn: 5xx}\n"
                          "    route: [{destination: {host: echo}}]\n"),
        route("/retry", "    retries: {attempts: 3, retryOn: 5xx}\n"
                        "    route: [{destination: {host: flaky}}]\n"),
        route("/codes", "    retries: {attempts: 2, retryOn: \"retriable-status-codes,418\"}\n"
                        "    route: [{destination: {host: flaky}}]\n"),
        route("/other-host", "    retries: {attempts: 2, retryOn: connect-failure}\n"
                             "    route: [{destination: {host: half-down}}]\n"),
        route("/rr", "    route: [{destination: {host: pair}}]\n"),
        route("/dns", "    route: [{destination: {host: dns.example.internal, port: {number: 80}}}]\n"),
        route("/mirror", "    mirror: {host: shadow}\n    route: [{destination: {host: echo}}]\n"),
        route("/", "    route: [{destination: {host: echo}}]\n"),
    ]
    vs = ("apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
          "metadata: {name: up, namespace: default}\nspec:\n  hosts: [up.example.com]\n"
          "  gateways: [up-gw]\n  http:\n" + "".join(routes))
    pair = """apiVersion: v1
kind: Service
metadata: {name: pair, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: pair, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: %d}]
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: %d}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: pair, namespace: default}
spec:
  host: pair
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
""" % (ports["a"], ports["b"])
    half_down = pair.replace("pair", "half-down").replace(
        "port: %d}]\n- addresses" % ports["a"], "port: %d}]\n- addresses" % ports["refused"], 1)
    dns = """apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [dns.example.internal]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: localhost, ports: {http: %d}}]
""" % ports["echo"]
    docs = [gateway("up-gw", [HOST]), vs,
            service("empty", 1234, endpoints=False),
            service("refused", ports["refused"]),
            service("closing", ports["closing"]),
            service("resetting", ports["resetting"]),
            service("echo", ports["echo"]),
            service("flaky", ports["flaky"]),
            service("shadow", ports["shadow"]),
            pair, half_down, dns]
    return "---\n".join(docs)


class Env:
    def __init__(self, tmp):
        self.echo = EchoBackend("echo")
        self.flaky = EchoBackend("flaky")
        self.shadow = EchoBackend("shadow")
        self.a = EchoBackend("a")
        self.b = EchoBackend("b")
        self.closing = ClosingBackend()
        self.resetting = ClosingBackend(reset=True)
        ports = {"echo": self.echo.port, "flaky": self.flaky.port, "shadow": self.shadow.port,
                 "a": self.a.port, "b": self.b.port, "closing": self.closing.port,
                 "resetting": self.resetting.port, "refused": free_port()}
        self.log_path = tmp / "access.log"
        self.proxy = Proxy(tmp, config(ports), extra_args=[
            "--access-log", str(self.log_path), "--access-log-format", "json"])

    def get(self, path, *args):
        return curl(self.proxy.port, path, HOST, *args)

    def log_entry(self, request_id, timeout=5.0):
        """The access log entry of the request with this x-request-id (logs flush every second)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log_path.exists():
                for line in self.log_path.read_text().splitlines():
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id:
                        return entry
            time.sleep(0.1)
        raise AssertionError("no access log entry for " + request_id)

    def flags(self, request_id):
        return set((self.log_entry(request_id)["response_flags"] or "-").split(","))

    def stop(self):
        self.proxy.stop()
        for b in (self.echo, self.flaky, self.shadow, self.a, self.b, self.closing, self.resetting):
            b.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("upstream"))
    yield e
    e.stop()


def test_unknown_cluster_is_503_nc(env):
    r = env.get("/nc", "-H", "x-request-id: nc-1")
    assert r.status == 503
    assert "missing-svc" in r.headers["x-halyard-reason"]
    assert "does not exist" in r.headers["x-halyard-reason"]
    assert env.flags("nc-1") == {"NC"}


def test_no_endpoints_is_503_uh(env):
    r = env.get("/uh", "-H", "x-request-id: uh-1")
    assert r.status == 503
    assert r.headers["x-halyard-reason"].startswith("no healthy upstream host in cluster")
    assert env.flags("uh-1") == {"UH"}


def test_connect_failure_is_503_uf(env):
    r = env.get("/uf-noretry", "-H", "x-request-id: uf-1")
    assert r.status == 503
    assert "upstream connect error" in r.headers["x-halyard-reason"]
    assert "Connection refused" in r.headers["x-halyard-reason"]
    assert env.flags("uf-1") == {"UF"}


def test_connect_failure_after_default_retries_is_uf_urx(env):
    r = env.get("/uf", "-H", "x-request-id: urx-1")
    assert r.status == 503
    assert "after 2 retries" in r.headers["x-halyard-reason"]
    assert env.flags("urx-1") == {"UF", "URX"}


def test_close_before_response_is_503_uc(env):
    r = env.get("/uc", "-H", "x-request-id: uc-1")
    assert r.status == 503
    assert "upstream reset before response" in r.headers["x-halyard-reason"]
    assert env.flags("uc-1") == {"UC"}


def test_reset_before_response_is_503_ur(env):
    r = env.get("/ur", "-H", "x-request-id: ur-1")
    assert r.status == 503
    assert env.flags("ur-1") == {"UR"}


def test_route_timeout_is_504_ut(env):
    start = time.monotonic()
    r = env.get("/timeout", "-H", "x-test-delay-ms: 1500", "-H", "x-request-id: ut-1")
    elapsed = time.monotonic() - start
    assert r.status == 504
    assert "upstream request timeout after 300 ms" in r.headers["x-halyard-reason"]
    assert 0.29 <= elapsed < 1.4
    assert env.flags("ut-1") == {"UT"}


def test_per_try_timeout_retries_then_504(env):
    before = env.echo.count()
    r = env.get("/per-try", "-H", "x-test-delay-ms: 1000", "-H", "x-request-id: pt-1")
    assert r.status == 504
    assert "per-try timeout" in r.headers["x-halyard-reason"]
    time.sleep(0.1)
    assert env.echo.count() - before == 2
    assert "UT" in env.flags("pt-1")


def test_retry_on_5xx_succeeds(env):
    before = env.flaky.count()
    env.flaky.fail_next = [503, 500]
    r = env.get("/retry")
    assert r.status == 200 and r.json()["service"] == "flaky"
    assert env.flaky.count() - before == 3


def test_retries_exhausted_relay_last_response_with_urx(env):
    before = env.flaky.count()
    env.flaky.fail_next = [503] * 10
    r = env.get("/retry", "-H", "x-request-id: ex-1")
    env.flaky.fail_next = []
    assert r.status == 503
    assert r.headers.get("x-served-by") == "flaky"  # the upstream's own response
    assert env.flaky.count() - before == 4
    assert env.flags("ex-1") == {"URX"}


def test_retriable_status_codes(env):
    env.flaky.fail_next = [418]
    assert env.get("/codes").status == 200
    env.flaky.fail_next = [404]
    assert env.get("/codes").status == 404
    env.flaky.fail_next = []


def test_retry_moves_to_another_host(env):
    # Endpoints: one refusing, one healthy; round robin plus previous-host avoidance means every
    # request ends on the healthy one.
    for _ in range(6):
        r = env.get("/other-host")
        assert r.status == 200 and r.json()["service"] == "b"


def test_small_body_is_replayed_on_retry(env):
    before = env.flaky.count()
    env.flaky.fail_next = [503]
    r = env.get("/retry", "--data-binary", "x" * 5000)
    assert r.status == 200
    assert r.json()["body_bytes"] == 5000
    assert [q["body_bytes"] for q in env.flaky.requests[before:]] == [5000, 5000]


def test_round_robin_alternates(env):
    # One keep-alive connection stays on one worker, whose round robin alternates strictly (each
    # worker balances on its own).
    conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=10)
    served = []
    for _ in range(10):
        conn.request("GET", "/rr", headers={"Host": HOST})
        served.append(json.loads(conn.getresponse().read())["service"])
    conn.close()
    assert served.count("a") == 5 and served.count("b") == 5
    assert all(served[i] != served[i + 1] for i in range(9))


def test_dns_endpoint_resolved(env):
    r = env.get("/dns")
    assert r.status == 200 and r.json()["service"] == "echo"


def test_mirror_gets_a_copy(env):
    before = env.shadow.count()
    r = env.get("/mirror/x", "--data-binary", "copy-me")
    assert r.status == 200 and r.json()["service"] == "echo"
    deadline = time.time() + 3
    while env.shadow.count() == before and time.time() < deadline:
        time.sleep(0.05)
    seen = env.shadow.requests[-1]
    assert seen["path"] == "/mirror/x" and seen["body_bytes"] == len("copy-me")


def test_upstream_connections_are_reused(env):
    # Many sequential requests over separate client connections: the proxy's pool keeps the
    # upstream connections; the echo backend sees far fewer connections than requests.
    metrics_before = env.proxy.admin("/stats/prometheus")
    for _ in range(20):
        assert env.get("/").status == 200
    metrics = env.proxy.admin("/stats/prometheus")

    def cx_total(text):
        total = 0
        for line in text.splitlines():
            if line.startswith("envoy_cluster_upstream_cx_total{") and "|echo.default" in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    assert cx_total(metrics) - cx_total(metrics_before) <= 4


def test_client_hanging_up_abandons_the_upstream_exchange(env):
    import subprocess
    subprocess.run(["curl", "-s", "--max-time", "0.3", "-H", "Host: " + HOST, "-H",
                    "x-test-delay-ms: 2500", "-H", "x-request-id: dc-1",
                    "http://127.0.0.1:%d/" % env.proxy.port], capture_output=True, timeout=10)
    entry = env.log_entry("dc-1")
    assert "DC" in entry["response_flags"]
    assert entry["response_code"] in (0, None)
    assert entry["duration"] < 1500  # well before the upstream would have answered
