"""`halyard control` end to end: a config directory, a proxy on the wire protocol, and the CLI.
The first snapshot arrives whole; a file edit reaches the proxy as a delta within a second; an
invalid object is quarantined (code and file:line in proxy-status and the log) while a valid
change in the same edit goes through; a NACK shows in proxy-status; proxy-config shows what a
proxy serves; a sidecar gets its inbound, outbound-proxy and per-port listeners, and its workload
is reached at its inbound port."""
import json
import time

import pytest

from conftest import run_halyard
from control_harness import ControlPlane, Proxy, route_prefixes

GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"""

SERVICES = """apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80, targetPort: 9080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: shop, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: 9080}]
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


BROKEN = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: ["broken.example.com"]
  gateways: ["istio-system/gw"]
  http:
  - route:
    - destination: {host: shop}
      weight: -1
"""


def write(path, text):
    """Written aside and renamed, as editors do, so the watcher never reads half a file."""
    tmp = path.with_name(path.name + ".tmp~")
    tmp.write_text(text)
    tmp.rename(path)


@pytest.fixture
def config(tmp_path):
    write(tmp_path / "gateway.yaml", GATEWAY)
    write(tmp_path / "services.yaml", SERVICES)
    write(tmp_path / "shop.yaml", shop_route("/v1"))
    return tmp_path


@pytest.fixture
def control(config):
    plane = ControlPlane(config)
    yield plane
    assert plane.stop() == 0, plane.log()


@pytest.fixture
def proxy(control):
    p = Proxy(control)
    yield p
    p.close()


def status(control, *args):
    res = run_halyard("proxy-status", "--control", control.address, *args)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_first_snapshot_is_whole_and_an_edit_arrives_within_a_second(config, control, proxy):
    first = proxy.wait_push(1)
    assert first.base_version == 0
    assert route_prefixes(first) == ["/v1"]
    assert [l.port for l in first.resources.listeners] == [80]
    assert [c.name for c in first.resources.clusters] == [
        "outbound|80||shop.default.svc.cluster.local"]
    assert first.resources.clusters[0].endpoints[0].port == 9080

    edited = time.monotonic()
    write(config / "shop.yaml", shop_route("/v2"))
    second = proxy.wait_push(2)
    latency = proxy.pushes[1][0] - edited
    assert latency < 1.0, "edit took %.3fs to arrive" % latency
    assert second.version > first.version
    assert second.base_version == first.version  # a delta on top of what was ACKed
    assert route_prefixes(second) == ["/v2"]
    assert len(second.resources.clusters) == 0  # the cluster did not change


def test_an_invalid_object_is_quarantined_and_a_valid_change_in_the_same_edit_goes_through(
        config, control, proxy):
    proxy.wait_push(1)
    write(config / "shop.yaml", shop_route("/v3") + "---\n" + BROKEN)
    second = proxy.wait_push(2)
    assert route_prefixes(second) == ["/v3"]
    assert all(vh.name != "broken.example.com:80" for vh in second.resources.virtual_hosts)

    where = "%s:%d" % (config / "shop.yaml", 21)  # the weight's line
    text = status(control)
    assert "VirtualService default/broken" in text, text
    assert "IST0106" in text and where in text, text
    assert control.wait_log(r"quarantined VirtualService default/broken: IST0106 .*%s"
                            % where), control.log()
    data = json.loads(status(control, "-o", "json"))
    [q] = data["quarantined"]
    assert (q["name"], q["previous_version_serving"]) == ("broken", False)
    assert q["problems"][0]["code"] == "IST0106" and q["problems"][0]["line"] == 21

    # Later changes keep flowing while it stays quarantined.
    write(config / "shop.yaml", shop_route("/v4") + "---\n" + BROKEN)
    assert route_prefixes(proxy.wait_push(3)) == ["/v4"]


def test_an_invalid_update_keeps_the_previous_version_serving(config, control, proxy):
    proxy.wait_push(1)
    write(config / "shop.yaml", shop_route("/v5").replace("prefix", "prefx"))
    assert control.wait_log(r"quarantined VirtualService default/shop: .*previous version keeps "
                            r"serving"), control.log()
    time.sleep(0.3)
    assert len(proxy.pushes) == 1  # nothing changed for the proxy: no push
    assert "its previous version keeps serving" in status(control)


def test_a_nack_shows_in_proxy_status_and_the_previous_snapshot_stays(config, control, proxy):
    first = proxy.wait_push(1)
    proxy.nack_with = "cannot bind 0.0.0.0:80: permission denied"
    write(config / "shop.yaml", shop_route("/v6"))
    rejected = proxy.wait_push(2)
    deadline = time.monotonic() + 5
    while "NACK" not in status(control) and time.monotonic() < deadline:
        time.sleep(0.05)
    text = status(control)
    row = [l for l in text.splitlines() if l.startswith("gw-1.istio-system")]
    assert row, text
    assert "NACK v%d" % rejected.version in row[0], text
    assert "cannot bind 0.0.0.0:80: permission denied" in row[0], text
    [p] = json.loads(status(control, "-o", "json"))["proxies"]
    assert p["acked_version"] == str(first.version)  # protobuf JSON writes 64-bit as strings
    assert p["last_response"] == "NACK"
    assert p["role"] == "gateway" and p["build_version"] == "e2e"
    # proxy-config shows what the proxy serves: the snapshot it ACKed.
    routes = run_halyard("proxy-config", "routes", "gw-1.istio-system", "--control",
                         control.address)
    assert "/v1*" in routes.stdout and "/v6*" not in routes.stdout, routes.stdout

    # After a NACK the next push is whole.
    proxy.nack_with = None
    write(config / "shop.yaml", shop_route("/v7"))
    third = proxy.wait_push(3)
    assert third.base_version == 0 and route_prefixes(third) == ["/v7"]


def test_proxy_config_tables_and_json(control, proxy):
    proxy.wait_push(1)
    proxy.wait(lambda p: "ACK" in status(control))

    def config(what, *args):
        res = run_halyard("proxy-config", what, "gw-1.istio-system", "--control",
                          control.address, *args)
        assert res.returncode == 0, res.stderr
        return res.stdout

    listeners = config("listeners").splitlines()
    assert listeners[0].split() == ["NAME", "KIND", "ADDRESS", "PORT", "PROTOCOL", "VIRTUAL",
                                    "HOSTS"]
    assert listeners[1].split() == ["0.0.0.0_80", "gateway", "0.0.0.0", "80", "HTTP", "1"]
    routes = config("routes")
    assert "shop.example.com:80" in routes and "/v1*" in routes
    assert "outbound|80||shop.default.svc.cluster.local" in routes
    assert "default/shop http[0]" in routes
    clusters = config("clusters")
    assert "shop.default.svc.cluster.local   80" in clusters, clusters
    endpoints = config("endpoints")
    assert "127.0.0.1:9080" in endpoints, endpoints
    [vh] = json.loads(config("routes", "-o", "json"))
    assert vh["name"] == "shop.example.com:80"
    [ep] = json.loads(config("endpoints", "-o", "json"))
    assert (ep["address"], ep["port"], ep["cluster"]) == (
        "127.0.0.1", 9080, "outbound|80||shop.default.svc.cluster.local")

    res = run_halyard("proxy-config", "routes", "nobody", "--control", control.address)
    assert res.returncode == 1 and "no connected proxy nobody" in res.stderr


def endpoints(push):
    return sorted("%s:%d" % (e.address, e.port) for c in push.resources.clusters
                  for e in c.endpoints)


MESH_ROUTE = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-mesh, namespace: default}
spec:
  hosts: ["shop"]
  http:
  - match: [{uri: {prefix: "/mesh"}}]
    route:
    - destination: {host: shop, port: {number: 80}}
"""


@pytest.fixture
def mesh(config):
    """The config with a VirtualService for sidecars (no gateways: the mesh)."""
    write(config / "mesh.yaml", MESH_ROUTE)
    return config


def test_a_sidecar_gets_its_listeners_and_registers_its_workload_behind_them(mesh, control, proxy):
    assert endpoints(proxy.wait_push(1)) == ["127.0.0.1:9080"]
    # The Service selects app=shop; the sidecar's workload has that label.
    sidecar = Proxy(control, name="shop-1", namespace="default", role="sidecar",
                    labels={"app": "shop"}, service_account="shop", address="127.0.0.9",
                    ports=[{"name": "http", "number": 9080}])
    try:
        first = sidecar.wait_push(1)
        assert first.base_version == 0 and not sidecar.errors
        m = {l.name: l for l in first.resources.listeners}
        assert set(m) == {"virtualInbound", "virtualOutbound", "0.0.0.0_80"}, m
        kind = type(first.resources.listeners[0])
        assert (m["virtualInbound"].kind, m["virtualInbound"].bind_address,
                m["virtualInbound"].port) == (kind.INBOUND, "127.0.0.9", 15006)
        assert (m["virtualOutbound"].kind, m["virtualOutbound"].port) == (
            kind.OUTBOUND_PROXY, 15001)
        assert m["0.0.0.0_80"].kind == kind.OUTBOUND_PORT
        outbound = [r.match.uri.value for vh in first.resources.virtual_hosts
                    if vh.listener == "0.0.0.0_80" for r in vh.routes if r.match.HasField("uri")]
        assert outbound == ["/mesh"], outbound
        # Its workload is an endpoint of the Service, at its sidecar's inbound port.
        assert endpoints(proxy.wait_push(2)) == ["127.0.0.1:9080", "127.0.0.9:15006"]
        def row():
            return [l for l in status(control).splitlines() if l.startswith("shop-1.default")]
        # Its own registration changed its snapshot too (the Service's endpoints): pushed again.
        sidecar.wait(lambda p: len(p.pushes) >= 2 and "ACK v%d" % p.pushes[-1][1].version
                     in row()[0])
        assert row()[0].split()[1] == "sidecar", row()
        [p] = [p for p in json.loads(status(control, "-o", "json"))["proxies"]
               if p["id"] == "shop-1.default"]
        assert (p["role"], p["last_response"], p["last_error"]) == ("sidecar", "ACK", ""), p

        listeners = run_halyard("proxy-config", "listeners", "shop-1.default", "--control",
                                control.address)
        assert listeners.returncode == 0, listeners.stderr
        rows = {l.split()[0]: l.split() for l in listeners.stdout.splitlines()[1:]}
        assert rows["virtualInbound"][1:4] == ["inbound", "127.0.0.9", "15006"], rows
        assert rows["virtualOutbound"][1] == "outbound-proxy", rows
        assert rows["0.0.0.0_80"][1] == "outbound-port", rows
        routes = run_halyard("proxy-config", "routes", "shop-1.default", "--control",
                             control.address)
        assert "/mesh*" in routes.stdout and "default/shop-mesh" in routes.stdout, routes.stdout
        assert "virtualInbound" in routes.stdout, routes.stdout
        clusters = run_halyard("proxy-config", "clusters", "shop-1.default", "--control",
                               control.address)
        assert "outbound|80||shop.default.svc.cluster.local" in clusters.stdout, clusters.stdout
    finally:
        sidecar.close()
    # Its stream ended: the workload left the registry.
    assert endpoints(proxy.wait_push(3)) == ["127.0.0.1:9080"]


def test_the_gateway_reaches_a_sidecars_workload_at_its_inbound_port(control, proxy):
    assert endpoints(proxy.wait_push(1)) == ["127.0.0.1:9080"]
    sidecar = Proxy(control, name="shop-2", namespace="default", role="sidecar",
                    labels={"app": "shop"}, address="127.0.0.1", inbound_port=15123,
                    outbound_port=15124, ports=[{"name": "http", "number": 9080}])
    try:
        sidecar.wait_push(1)
        assert endpoints(proxy.wait_push(2)) == ["127.0.0.1:15123", "127.0.0.1:9080"]
        proxy.wait(lambda p: "ACK v%d" % p.pushes[1][1].version in status(control))
        served = json.loads(run_halyard("proxy-config", "endpoints", "gw-1.istio-system",
                                        "--control", control.address, "-o", "json").stdout)
        assert [(e["port"], e["workload"]) for e in served if e["port"] == 15123] == [
            (15123, "shop-2")], served
    finally:
        sidecar.close()


def test_a_sidecar_whose_ports_clash_is_refused(control):
    sidecar = Proxy(control, name="shop-3", namespace="default", role="sidecar",
                    labels={"app": "shop"}, inbound_port=15001,
                    ports=[{"name": "http", "number": 9080}])
    try:
        assert not sidecar.wait(lambda p: p.pushes or p.errors, timeout=1)
        assert control.wait_log(r"refused a proxy stream .*inbound_port and outbound_port are "
                                r"both 15001"), control.log()
    finally:
        sidecar.close()


def test_the_cli_says_when_the_control_plane_is_unreachable(control):
    res = run_halyard("proxy-status", "--control", "127.0.0.1:1", "--ca-cert", control.root_cert)
    assert res.returncode == 1
    assert "cannot reach the control plane at 127.0.0.1:1" in res.stderr
    # Without a root to verify it with, the CLI says where it looked.
    res = run_halyard("proxy-status", "--control", "127.0.0.1:1")
    assert res.returncode == 1
    assert "no root certificate to verify the control plane at 127.0.0.1:1" in res.stderr
    assert "--ca-cert" in res.stderr and "/tmp/halyard-control-1.root.pem" in res.stderr


def test_the_admin_listener_serves_readiness_status_and_metrics(config):
    import socket
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plane = ControlPlane(config, extra=["--admin", "127.0.0.1:%d" % port])
    try:
        base = "http://127.0.0.1:%d" % port
        assert urllib.request.urlopen(base + "/ready", timeout=5).read() == b"ready\n"
        data = json.loads(urllib.request.urlopen(base + "/status", timeout=5).read())
        assert data["objects"] == "4"
        text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert "halyard_control_objects 4" in text
        assert "# TYPE halyard_control_quarantined_objects gauge" in text
    finally:
        assert plane.stop() == 0, plane.log()
