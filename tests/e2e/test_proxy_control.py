"""halyard-proxy following the real `halyard control` (--control ADDR): /ready is 503 until the
first push and 200 after it; the Gateway and VirtualService of the control plane's directory
serve; an edit reaches the proxy within a second; with the control plane killed (-9) the proxy
keeps serving under load without a failure, and follows the restarted control plane; a pushed
Gateway port another process holds is NACKed (proxy-status shows it) while the previous snapshot
keeps serving; two sidecars carry a request from one app to the other through the
outbound HTTP proxy and report it as source and as destination."""
import pathlib
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import run_halyard
from control_harness import ControlPlane, create_token
from proxy_backends import EchoBackend
from proxy_harness import ControlledProxy, curl, free_port, service

GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
%s"""

EXTRA_SERVER = """  - port: {number: %d, name: http-extra, protocol: HTTP}
    hosts: ["*"]
"""


def shop_route(prefix):
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: ["shop.example.com"]
  gateways: ["istio-system/gw"]
  http:
  - match: [{uri: {prefix: "%s"}}]
    route:
    - destination: {host: shop, port: {number: 80}}
""" % prefix


def write(path, text):
    """Written aside and renamed, as editors do, so the watcher never reads half a file."""
    tmp = path.with_name(path.name + ".tmp~")
    tmp.write_text(text)
    tmp.rename(path)


def FixedPortControlPlane(config_dir, port, debounce_ms=100):
    """`halyard control` on a port chosen by the test, so it can be restarted there."""
    return ControlPlane(config_dir, debounce_ms=debounce_ms, port=port)


@pytest.fixture
def backend():
    b = EchoBackend("shop")
    yield b
    b.stop()


@pytest.fixture
def config(tmp_path, backend):
    d = tmp_path / "config"
    d.mkdir()
    write(d / "gateway.yaml", GATEWAY % "")
    write(d / "services.yaml", service("shop", backend.port))
    write(d / "shop.yaml", shop_route("/v1"))
    return d


@pytest.fixture
def control_port():
    return free_port()


@pytest.fixture
def proxy(tmp_path, config, control_port):
    # Started before its control plane: the token is made with the CA directory that control
    # plane will use (ControlPlane's default, beside the config), and the root it writes there is
    # read at each connect.
    ca_dir = pathlib.Path(str(config) + ".ca")
    token = tmp_path / "proxy.token"
    token.write_text(create_token(ca_dir, "istio-system", "default") + "\n")
    p = ControlledProxy(tmp_path / "proxy", "127.0.0.1:%d" % control_port, token_file=token,
                        control_ca=ca_dir / "root-cert.pem")
    yield p
    p.stop()


def wait_for(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def status_of(proxy, path):
    return curl(proxy.port, path, "shop.example.com", timeout=5).status


def metric(proxy, name):
    text = proxy.admin("/stats/prometheus")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def test_ready_waits_for_the_first_push_then_serves_and_follows_edits(config, control_port, proxy):
    status, body = proxy.ready()
    assert status == 503
    assert "waiting for the first config from 127.0.0.1:%d\n" % control_port in body, body

    control = FixedPortControlPlane(config, control_port)
    try:
        proxy.wait_ready()
        assert status_of(proxy, "/v1/items") == 200
        assert status_of(proxy, "/v2/items") == 404
        version = metric(proxy, 'halyard_config_version')
        assert version and version > 0
        assert 'halyard_control_answers_total{answer="ack"} 1' in proxy.admin("/stats/prometheus")

        edited = time.monotonic()
        write(config / "shop.yaml", shop_route("/v2"))
        assert wait_for(lambda: status_of(proxy, "/v2/items") == 200, timeout=3)
        latency = time.monotonic() - edited
        assert latency < 1.0, latency
        assert status_of(proxy, "/v1/items") == 404
        assert metric(proxy, "halyard_config_version") > version
    finally:
        assert control.stop() == 0, control.log()


def test_the_proxy_keeps_serving_without_its_control_plane_and_follows_it_back(
        config, control_port, proxy):
    control = FixedPortControlPlane(config, control_port)
    try:
        proxy.wait_ready()
        assert status_of(proxy, "/v1/x") == 200
    except BaseException:
        control.stop()  # the one below is stopped by its own finally
        raise

    results = []
    stop = threading.Event()

    def load():
        with socket.create_connection(("127.0.0.1", proxy.port)) as s:
            s.settimeout(5)
            request = b"GET /v1/load HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
            while not stop.is_set():
                s.sendall(request)
                raw = b""
                while b"\r\n\r\n" not in raw:
                    raw += s.recv(65536)
                head, _, rest = raw.partition(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                while len(rest) < length:
                    rest += s.recv(65536)
                results.append(int(head.split()[1]))

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    time.sleep(0.3)
    control.kill()
    time.sleep(1.5)  # several reconnect attempts fail meanwhile
    assert proxy.ready()[0] == 200  # still serving its last snapshot
    control = FixedPortControlPlane(config, control_port)
    try:
        # Reconnected: a change made after the restart arrives.
        write(config / "shop.yaml", shop_route("/v3"))
        assert wait_for(lambda: status_of(proxy, "/v3/x") == 200, timeout=10), proxy.output()
        stop.set()
        loader.join(timeout=10)
        # /v1 served 200 until the /v3 edit took it away; nothing else happened.
        assert results, "no request completed"
        first_404 = results.index(404) if 404 in results else len(results)
        assert all(s == 200 for s in results[:first_404]), set(results)
        assert all(s == 404 for s in results[first_404:])
        assert first_404 > 50, len(results)

        log = proxy.output()
        # One line for the loss and one for the failed retries, not one per retry.
        assert log.count("control plane stream to") == 1, log
        assert log.count("unreachable") <= 2, log  # before the first start, and after the kill
        assert log.count("connected to the control plane") == 2, log
    finally:
        stop.set()
        assert control.stop() == 0, control.log()


def test_a_port_another_process_holds_is_nacked_and_the_old_snapshot_keeps_serving(
        config, control_port, proxy):
    control = FixedPortControlPlane(config, control_port)
    busy = socket.socket()
    try:
        proxy.wait_ready()
        assert status_of(proxy, "/v1/x") == 200
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        busy_port = busy.getsockname()[1]

        write(config / "gateway.yaml", GATEWAY % (EXTRA_SERVER % busy_port))

        def nacked():
            res = run_halyard("proxy-status", "--control", control.address)
            return res.stdout if "NACK" in res.stdout else None

        out = wait_for(nacked, timeout=5)
        assert out, run_halyard("proxy-status", "--control", control.address).stdout
        assert "cannot bind 0.0.0.0:%d: Address already in use" % busy_port in out, out
        assert 'halyard_control_answers_total{answer="nack"} 1' in proxy.admin("/stats/prometheus")
        assert "cannot bind 0.0.0.0:%d" % busy_port in proxy.output()
        # Still the previous snapshot: /v1 routes, the busy port is not ours.
        assert status_of(proxy, "/v1/x") == 200

        # Once the port is free, the next push (a whole one, after a NACK) is served.
        busy.close()
        write(config / "shop.yaml", shop_route("/v4"))
        assert wait_for(lambda: status_of(proxy, "/v4/x") == 200, timeout=5)
        assert curl(busy_port, "/v4/x", "shop.example.com", timeout=5).status == 200
    finally:
        busy.close()
        assert control.stop() == 0, control.log()


ITEMS_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: items-api-svc, namespace: default}
spec:
  selector: {app: items-api}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def sidecar_args(name, app, app_port, service_account):
    return ["--role", "sidecar", "--workload", name, "--namespace", "default",
            "--labels", "app=%s,version=v1" % app, "--service-account", service_account,
            "--app-port", str(app_port), "--inbound-port", str(free_port()),
            "--outbound-port", str(free_port())]


def requests_total(metrics_text, **labels):
    """Sum of istio_requests_total over the series whose labels include `labels`."""
    total = 0
    for line in metrics_text.splitlines():
        if line.startswith("istio_requests_total{") and all(
                '%s="%s"' % (k, v) in line for k, v in labels.items()):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_sidecars_carry_a_request_through_the_outbound_proxy_and_report_both_sides(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    write(config / "items.yaml", ITEMS_SERVICE)
    items_app, web_app = EchoBackend("items"), EchoBackend("web")
    control = ControlPlane(config)
    sidecars = []
    try:
        items = ControlledProxy(tmp_path / "items", control, workers=1, extra_args=(
            sidecar_args("items-api-v1", "items-api", items_app.port, "items")))
        sidecars.append(items)
        web = ControlledProxy(tmp_path / "web", control, workers=1, extra_args=(
            sidecar_args("web-v1", "web", web_app.port, "web")))
        sidecars.append(web)
        items.wait_ready()
        web.wait_ready()
        outbound = int(web.proc.args[web.proc.args.index("--outbound-port") + 1])

        def call():
            out = subprocess.run(
                ["curl", "-s", "-i", "--max-time", "5", "-x", "http://127.0.0.1:%d" % outbound,
                 "-H", "x-halyard-peer: workload=forged", "http://items-api-svc/x?q=1"],
                capture_output=True, timeout=10)
            return out.stdout.decode(errors="replace")

        # The items sidecar registers its workload; the web sidecar's next push has it.
        assert wait_for(lambda: call().startswith("HTTP/1.1 200"), timeout=10), call()
        request = items_app.requests[-1]
        assert request["path"] == "/x?q=1"  # origin-form upstream
        assert request["headers"]["host"] == "items-api-svc"
        assert "x-halyard-peer" not in request["headers"]  # consumed by the inbound listener

        no_route = subprocess.run(
            ["curl", "-s", "-i", "--max-time", "5", "-x", "http://127.0.0.1:%d" % outbound,
             "http://nowhere-svc:8081/"], capture_output=True, timeout=10).stdout.decode()
        # Outside the registry: passed through (outboundTrafficPolicy ALLOW_ANY) to a name that
        # does not resolve.
        assert no_route.startswith("HTTP/1.1 503"), no_route
        assert ("x-halyard-reason: nowhere-svc:8081 is not in the mesh's registry" in no_route and
                "cannot resolve nowhere-svc" in no_route), no_route

        source = dict(reporter="source", source_workload="web-v1", source_app="web",
                      source_workload_namespace="default", destination_workload="items-api-v1",
                      destination_app="items-api", destination_version="v1",
                      destination_service_name="items-api-svc", response_code="200")
        destination = dict(reporter="destination", source_workload="web-v1", source_app="web",
                           source_version="v1",
                           source_principal="spiffe://cluster.local/ns/default/sa/web",
                           destination_workload="items-api-v1", destination_app="items-api",
                           destination_principal="spiffe://cluster.local/ns/default/sa/items",
                           response_code="200")
        assert wait_for(lambda: requests_total(web.admin("/stats/prometheus"), **source) >= 1)
        assert wait_for(
            lambda: requests_total(items.admin("/stats/prometheus"), **destination) >= 1), \
            items.admin("/stats/prometheus")
    finally:
        for s in sidecars:
            s.stop()
        items_app.stop()
        web_app.stop()
        assert control.stop() == 0, control.log()
