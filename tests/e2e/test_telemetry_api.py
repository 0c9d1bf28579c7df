"""The Telemetry API's metrics overrides and access logging at a gateway (halyard-proxy
--config, which translates the directory itself): standard metrics switched off, a tag removed,
and an access log filter that keeps only failed requests."""
import re
import subprocess
import time

import pytest

from conftest import ROOT
from proxy_harness import Proxy, free_port, gateway, service

HOST = "shop.example.com"

TELEMETRY = """---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_SIZE, mode: CLIENT_AND_SERVER}
      disabled: true
    - match: {metric: RESPONSE_SIZE}
      disabled: true
    - match: {metric: ALL_METRICS}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        transport: {value: "'tcp'"}
        destination_service: {value: "connection.mtls ? 'mutual' : 'plain'"}
  accessLogging:
  - providers: [{name: envoy}]
    filter:
      expression: response.code >= 400
"""


@pytest.fixture
def backend():
    port = free_port()
    app = subprocess.Popen(["/usr/bin/python3", str(ROOT / "samples/apps/echo_app.py"),
                            "--name", "shop", "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield port
    app.terminate()
    app.wait()


def config(backend_port, telemetry=""):
    """The gateway for HOST routing to the echo app on backend_port, then `telemetry` (YAML)."""
    return (gateway("gw", [HOST]) + "---\n" + service("shop", backend_port) + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - route:
    - destination: {host: shop.default.svc.cluster.local, port: {number: 80}}
""" % HOST + telemetry)


def send(proxy, host, count=1):
    import http.client
    codes = []
    for _ in range(count):
        for _ in range(50):  # the backend may still be starting
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
                conn.request("GET", "/", headers={"Host": host})
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status != 503 or host != HOST:
                    codes.append(r.status)
                    break
            except OSError:
                pass
            time.sleep(0.1)
    return codes


def scrape_until(proxy, done, timeout=5):
    """The proxy's metrics once `done(text)` holds (or at the deadline): a request is counted
    when its worker finishes it, which can be just after the client read the response."""
    deadline = time.time() + timeout
    while True:
        text = proxy.admin("/stats/prometheus")
        if done(text) or time.time() > deadline:
            return text
        time.sleep(0.1)


def test_metrics_overrides_switch_off_metrics_and_remove_tags(tmp_path, backend):
    proxy = Proxy(tmp_path, config(backend, TELEMETRY))
    try:
        assert send(proxy, HOST, 3) == [200, 200, 200]
        text = scrape_until(proxy, lambda t: re.search(
            r'istio_requests_total\{[^}]*response_code="200"[^}]*\} 3', t))
        requests = [l for l in text.splitlines() if l.startswith("istio_requests_total{")]
        assert requests, text
        assert all('request_protocol="http"' not in l for l in requests), requests
        assert any('response_code="200"' in l and l.endswith(" 3") for l in requests), requests
        assert "istio_request_duration_milliseconds_bucket{" in text
        assert "istio_request_bytes_bucket{" not in text
        assert "istio_response_bytes_bucket{" not in text
    finally:
        proxy.stop()


SCOPED_TELEMETRY = """---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - overrides:
    - match: {metric: REQUEST_SIZE}
      disabled: true
    - tagOverrides:
        team: {value: "'mesh'"}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: gateway, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  metrics:
  - overrides:
    - match: {metric: RESPONSE_SIZE}
      disabled: true
    - match: {metric: REQUEST_DURATION}
      tagOverrides:
        team: {value: "'gateway'"}
"""


def test_metrics_overrides_of_the_mesh_and_the_workload_both_apply(tmp_path, backend):
    """Istio merges the metrics sections of every scope: the mesh's switch and tag stay, the
    workload's Telemetry adds its own and replaces the tag on the metric it names."""
    proxy = Proxy(tmp_path, config(backend, SCOPED_TELEMETRY))
    try:
        assert send(proxy, HOST) == [200]
        text = scrape_until(proxy, lambda t: 'istio_requests_total{' in t)
        requests = [l for l in text.splitlines() if l.startswith("istio_requests_total{")]
        assert requests and all('team="mesh"' in l for l in requests), requests
        buckets = [l for l in text.splitlines()
                   if l.startswith("istio_request_duration_milliseconds_bucket{")]
        assert buckets and all('team="gateway"' in l for l in buckets), buckets
        assert "istio_request_bytes_bucket{" not in text   # the mesh's switch
        assert "istio_response_bytes_bucket{" not in text  # the workload's
    finally:
        proxy.stop()


def test_without_telemetry_every_standard_metric_is_there(tmp_path, backend):
    proxy = Proxy(tmp_path, config(backend))
    try:
        assert send(proxy, HOST) == [200]
        text = scrape_until(proxy, lambda t: re.search(
            r'istio_requests_total\{[^}]*request_protocol="http"', t))
        assert re.search(r'istio_requests_total\{[^}]*request_protocol="http"', text)
        assert "istio_request_bytes_bucket{" in text
    finally:
        proxy.stop()


def test_access_log_filter_keeps_failed_requests_only(tmp_path, backend):
    log = tmp_path / "access.log"
    proxy = Proxy(tmp_path, config(backend, TELEMETRY),
                  extra_args=["--access-log", str(log)])
    try:
        assert send(proxy, HOST, 2) == [200, 200]
        assert send(proxy, "nowhere.example.com") == [404]
        deadline = time.time() + 5
        while time.time() < deadline and "nowhere.example.com" not in (
                log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        lines = [l for l in log.read_text().splitlines() if l.strip()]
        # Only failures: the 404, and 503s of a backend still starting; never the 200s.
        assert [l for l in lines if '" 404 NR' in l], lines
        assert not [l for l in lines if '" 200 ' in l], lines
    finally:
        proxy.stop()


TCP_TELEMETRY = """---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: TCP_SENT_BYTES}
      disabled: true
    - match: {metric: ALL_METRICS}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        transport: {value: "'tcp'"}
        destination_service: {value: "connection.mtls ? 'mutual' : 'plain'"}
  accessLogging:
  - providers: [{name: envoy}]
    filter:
      expression: response.code >= 400
"""


def test_tcp_metrics_and_logs_follow_the_overrides(tmp_path):
    from proxy_harness import tcp_gateway
    from test_tcp_tls_routing import TcpBackend, tcp_exchange
    echo = TcpBackend("echo")
    port = free_port()
    log = tmp_path / "access.log"
    config = (service("echo", echo.port, 7000, port_name="tcp") + "---\n" +
              tcp_gateway([9000], "- route: [{destination: {host: echo, port: {number: 7000}}}]") +
              TCP_TELEMETRY)
    proxy = Proxy(tmp_path, config,
                  extra_args=["--port-map", "9000=%d" % port, "--access-log", str(log)])
    try:
        assert tcp_exchange(port, b"ping") == b"echo:ping"
        text = scrape_until(proxy, lambda t: re.search(
            r"istio_tcp_received_bytes_total\{[^}]*\} 4", t))
        closed = [l for l in text.splitlines() if l.startswith("istio_tcp_connections_closed_total{")]
        assert closed and closed[0].endswith(" 1"), text
        assert 'request_protocol="tcp"' not in closed[0], closed  # the tag was removed
        # UPSERT: a new dimension, and an existing label set from a CEL value.
        assert 'transport="tcp"' in closed[0], closed
        assert 'destination_service="plain"' in closed[0], closed
        assert re.search(r"istio_tcp_received_bytes_total\{[^}]*\} 4", text), text
        assert "istio_tcp_sent_bytes_total{" not in text  # switched off
        # A TCP connection's response.code is 0: the filter keeps it out of the log, as Envoy's.
        time.sleep(0.3)
        assert not (log.read_text().strip() if log.exists() else "")
    finally:
        proxy.stop()
        echo.stop()


UPSERT_TELEMETRY = """---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: ALL_METRICS}
      tagOverrides:
        destination_service: {value: "request.host"}
    - match: {metric: REQUEST_COUNT, mode: CLIENT}
      tagOverrides:
        user:
          operation: UPSERT
          value: "request.headers['x-user'] | 'anonymous'"
        outcome: {value: "response.code >= 400 ? 'failed' : 'ok'"}
"""


def test_tag_overrides_upsert_cel_values(tmp_path, backend):
    import http.client
    proxy = Proxy(tmp_path, config(backend, UPSERT_TELEMETRY))
    try:
        assert send(proxy, HOST) == [200]  # the backend answers: from here on, 200s
        for user in ("alice", "alice", None):
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            conn.request("GET", "/", headers={"Host": HOST, **({"X-User": user} if user else {})})
            assert conn.getresponse().status == 200
            conn.close()
        text = scrape_until(proxy, lambda t: re.search(
            r'istio_requests_total\{[^}]*user="alice"[^}]*\} 2', t))
        requests = [l for l in text.splitlines() if l.startswith("istio_requests_total{")]
        # An existing label takes the value; new labels are added to REQUEST_COUNT only.
        alice = [l for l in requests if 'user="alice"' in l]
        assert alice and alice[0].endswith(" 2"), requests
        assert 'destination_service="%s"' % HOST in alice[0], alice
        assert 'outcome="ok"' in alice[0], alice
        assert any('user="anonymous"' in l for l in requests), requests
        durations = [l for l in text.splitlines()
                     if l.startswith("istio_request_duration_milliseconds_count{")]
        assert durations and all('user="' not in l for l in durations), durations
        assert all('destination_service="%s"' % HOST in l for l in durations), durations
    finally:
        proxy.stop()


def test_stats_filter_returns_only_the_matching_families(tmp_path, backend):
    import urllib.error
    proxy = Proxy(tmp_path, config(backend))
    try:
        assert send(proxy, HOST) == [200]
        scrape_until(proxy, lambda t: "istio_requests_total{" in t)
        # What the control plane's dashboard scrape asks for, percent-encoded.
        text = proxy.admin("/stats/prometheus?filter=%5Eistio_request%28s_total%7C"
                           "_duration_milliseconds%29%24")
        families = sorted(l.split()[2] for l in text.splitlines() if l.startswith("# TYPE "))
        assert families == ["istio_request_duration_milliseconds", "istio_requests_total"], text
        # Envoy's partial match: every family whose name contains the text.
        partial = proxy.admin("/stats/prometheus?filter=istio_request_")
        assert {l.split()[2] for l in partial.splitlines() if l.startswith("# TYPE ")} == {
            "istio_request_bytes", "istio_request_duration_milliseconds"}, partial
        try:
            proxy.admin("/stats/prometheus?filter=istio_(")
            raise AssertionError("an invalid regular expression was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400
            assert "istio_(" in e.read().decode()
    finally:
        proxy.stop()
