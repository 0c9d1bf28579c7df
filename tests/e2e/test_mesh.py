"""The mesh end to end (issue 4): `halyard control` + a gateway + workloads with sidecars, all
real processes on 127.0.0.1. Gateway -> svc-a (through A's sidecar) -> svc-b (through A's
sidecar's outbound HTTP proxy and B's sidecar), with mesh VirtualServices and DestinationRules
applied on the calling side, both reporters' metrics, live weight changes, a control plane that
dies and comes back, quarantine, and a NACK."""
import json
import subprocess
import time

import pytest

from conftest import BIN
from mesh_harness import (App, Control, Load, MeshProxy, http_get, requests_total, wait_until)
from proxy_harness import free_port

HOST = "shop.example.com"

EDGE = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: ["shop.example.com"]
  gateways: [edge]
  http:
  - route:
    - destination: {host: svc-a}
---
apiVersion: v1
kind: Service
metadata: {name: svc-a, namespace: default}
spec:
  selector: {app: a}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-b, namespace: default}
spec:
  selector: {app: b}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-b, namespace: default}
spec:
  host: svc-b
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""


def split(v1, v2):
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-b, namespace: default}
spec:
  hosts: [svc-b]
  http:
  - route:
    - destination: {host: svc-b, subset: v1}
      weight: %d
    - destination: {host: svc-b, subset: v2}
      weight: %d
""" % (v1, v2)


def write(path, text):
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    tmp.rename(path)  # atomic: the watcher never reads half a file


@pytest.fixture
def mesh(tmp_path):
    """The mesh with B's VirtualService at 100/0 (v1/v2); torn down whatever happens."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "edge.yaml").write_text(EDGE)
    (config / "split.yaml").write_text(split(100, 0))
    started = []

    class Mesh:
        pass

    m = Mesh()
    m.config, m.logs = config, tmp_path
    try:
        m.b1, m.b2 = App("b", "v1"), App("b", "v2")
        m.a = App("a", calls="svc-b")
        started += [m.a, m.b1, m.b2]
        m.control = Control(config, tmp_path)
        started.append(m.control)
        m.gateway = MeshProxy(m.control, tmp_path, "gw-1")
        started.append(m.gateway)
        m.sidecar_b1 = MeshProxy(m.control, tmp_path, "b-v1", role="sidecar", app=m.b1,
                                 labels="app=b,version=v1", service_account="b")
        started.append(m.sidecar_b1)
        m.sidecar_b2 = MeshProxy(m.control, tmp_path, "b-v2", role="sidecar", app=m.b2,
                                 labels="app=b,version=v2", service_account="b")
        started.append(m.sidecar_b2)
        m.sidecar_a = MeshProxy(m.control, tmp_path, "a-v1", role="sidecar", app=m.a,
                                labels="app=a,version=v1", service_account="a")
        started.append(m.sidecar_a)
        m.url = "http://127.0.0.1:%d/" % m.gateway.gateway_port
        # Every registration reaches every proxy: the chain answers once the gateway knows A and
        # A's sidecar knows B's v1.
        assert wait_until(lambda: shop(m)[0] == 200, 10), shop(m)
        yield m
    finally:
        # A test may have replaced the control plane (a restart): stop the one running now too.
        if getattr(m, "control", None) is not None and m.control not in started:
            started.insert(0, m.control)
        for s in reversed(started):
            s.stop()


def shop(m, path="/items"):
    try:
        code, _, body = http_get(m.url.rstrip("/") + path, headers={"Host": HOST})
    except OSError as e:
        return 0, str(e)
    return code, (json.loads(body) if code == 200 else body)


def test_gateway_to_a_to_b_through_the_sidecars_with_both_reporters(mesh):
    code, body = shop(mesh, "/items/7")
    assert code == 200
    assert body["service"] == "a" and body["path"] == "/items/7"
    assert body["upstream"]["service"] == "b" and body["upstream"]["version"] == "v1"
    assert body["upstream"]["path"] == "/items/7"
    # The inbound sidecars strip the peer header before the app sees it.
    assert body["peer"] is None and body["upstream"]["peer"] is None

    for _ in range(4):
        assert shop(mesh)[0] == 200
    a_metrics = mesh.sidecar_a.metrics()
    b_metrics = mesh.sidecar_b1.metrics()
    gw_metrics = mesh.gateway.metrics()
    # The gateway reports calling A; A's sidecar reports being called by the gateway ...
    assert requests_total(gw_metrics, reporter="source", source_workload="gw-1",
                          destination_workload="a-v1", response_code="200") >= 5
    assert requests_total(a_metrics, reporter="destination", source_workload="gw-1",
                          destination_workload="a-v1", destination_app="a",
                          destination_service="svc-a.default.svc.cluster.local") >= 5
    # ... and calling B; B's sidecar reports being called by A.
    assert requests_total(a_metrics, reporter="source", source_workload="a-v1",
                          source_app="a", destination_workload="b-v1",
                          destination_service_name="svc-b", response_code="200") >= 5
    assert requests_total(b_metrics, reporter="destination", source_workload="a-v1",
                          source_workload_namespace="default", destination_workload="b-v1",
                          source_principal="spiffe://cluster.local/ns/default/sa/a") >= 5
    assert mesh.b2.count == 0  # the 100/0 split


def test_an_unknown_host_through_the_outbound_proxy_is_passed_through_or_503(mesh):
    # Outside the registry: passed through (outboundTrafficPolicy ALLOW_ANY), and this name
    # does not resolve.
    code, headers, _ = http_get("http://nowhere-svc.invalid/x",
                                proxy="http://127.0.0.1:%d" % mesh.sidecar_a.outbound_port)
    assert code == 503
    reason = {k.lower(): v for k, v in headers.items()}["x-halyard-reason"]
    assert "is not in the mesh's registry" in reason and "cannot resolve" in reason


def test_weight_change_shifts_traffic_within_a_second_with_no_failed_request(mesh):
    load = Load(mesh.url, HOST)
    try:
        time.sleep(0.5)
        write(mesh.config / "split.yaml", split(0, 100))
        changed = time.monotonic()
        assert wait_until(lambda: mesh.b2.count > 0, 5)
        shifted = time.monotonic() - changed
        before = mesh.b1.count
        time.sleep(0.5)
    finally:
        results = load.stop()
    assert shifted < 1.0, "traffic reached v2 only after %.2f s" % shifted
    assert mesh.b1.count == before  # nothing goes to v1 once the change is in
    assert not [r for r in results if r[0] != 200], results[:3]
    assert len(results) > 50


def test_the_expected_split(mesh):
    write(mesh.config / "split.yaml", split(50, 50))
    assert wait_until(lambda: shop(mesh)[0] == 200 and mesh.b2.count > 0, 5)
    b1, b2 = mesh.b1.count, mesh.b2.count
    for _ in range(200):
        assert shop(mesh)[0] == 200
    v1, v2 = mesh.b1.count - b1, mesh.b2.count - b2
    assert v1 + v2 == 200
    assert 60 <= v2 <= 140, (v1, v2)


def test_killing_the_control_plane_fails_no_request_and_a_restart_resyncs(mesh):
    load = Load(mesh.url, HOST)
    try:
        time.sleep(0.3)
        mesh.control.kill()
        time.sleep(1.5)  # the proxies keep serving their last snapshots
        during = len(load.results)
        # An edit made while the control plane is down is picked up by the new one.
        write(mesh.config / "split.yaml", split(0, 100))
        time.sleep(0.5)
        assert mesh.b2.count == 0
        mesh.control = Control(mesh.config, mesh.logs, port=mesh.control.port)
        assert wait_until(lambda: mesh.b2.count > 0, 10), mesh.sidecar_a.output()[-2000:]
        time.sleep(0.3)
    finally:
        results = load.stop()
    assert during > 20
    assert not [r for r in results if r[0] != 200], [r for r in results if r[0] != 200][:3]
    status = mesh.control.status()
    ids = {p["id"] for p in status["proxies"]}
    assert {"gw-1.istio-system", "a-v1.default", "b-v1.default", "b-v2.default"} <= ids


def test_an_invalid_object_is_quarantined_while_a_valid_change_in_the_same_edit_goes_through(mesh):
    broken = split(0, 100).replace("name: svc-b, namespace", "name: broken, namespace")
    broken = broken.replace("weight: 0", "weight: -5")
    write(mesh.config / "split.yaml", split(0, 100) + "---\n" + broken)
    assert wait_until(lambda: shop(mesh)[0] == 200 and mesh.b2.count > 0, 5)
    status = mesh.control.status()
    names = [q["name"] for q in status["quarantined"]]
    assert names == ["broken"], status["quarantined"]
    out = subprocess.run([str(BIN / "halyard"), "proxy-status", "--control",
                          mesh.control.address], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "VirtualService default/broken" in out.stdout
    assert "split.yaml" in out.stdout


def test_a_snapshot_the_proxy_cannot_apply_is_nacked_and_shown_by_proxy_status(mesh):
    taken = free_port()
    # A second gateway whose Gateway port 80 maps to a port another socket holds.
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", taken))
    holder.listen()
    extra = None
    try:
        extra = subprocess.Popen(
            [str(BIN / "halyard-proxy"), "--control", mesh.control.address, "--role", "gateway",
             "--name", "gw-2", "--namespace", "istio-system", "--labels", "istio=ingressgateway",
             "--port-map", "80=%d" % taken, "--workers", "1",
             "--control-ca", str(mesh.control.root_cert),
             "--token-file", str(mesh.control.token_file("istio-system", "default"))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def nacked():
            for p in mesh.control.status()["proxies"]:
                if p["id"] == "gw-2.istio-system" and p.get("last_response") == "NACK":
                    return True
            return False

        assert wait_until(nacked, 10), mesh.control.status()
        out = subprocess.run([str(BIN / "halyard"), "proxy-status", "--control",
                              mesh.control.address], capture_output=True, text=True, timeout=10)
        line = [l for l in out.stdout.splitlines() if l.startswith("gw-2.istio-system")]
        assert line and "NACK" in line[0] and str(taken) in line[0], out.stdout
        # The mesh keeps serving.
        assert shop(mesh)[0] == 200
    finally:
        if extra:
            extra.terminate()
            extra.wait(10)
        holder.close()
