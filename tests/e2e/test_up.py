"""`halyard up samples/pirata` end to end: the real control plane, gateway, sidecars and sample
apps, started by halyard up on ports this test picks (--port-map 80=<free>, --base-port 0).

The seed's routes are answered by the right apps, items-api calls ai-api through both sidecars
(and both report it), the canary edit shifts traffic under steady load without a failed
request, a killed app is restarted, Ctrl-C leaves nothing behind, and a broken directory is
refused before anything starts; --detach and halyard down."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN, run_halyard
from proxy_harness import curl, free_port
from up_harness import Mesh, admin, alive, copy_samples, get

API_HOST = "pirata.20.88.189.150.nip.io"
FRONT_HOST = "piratafront.20.88.189.150.nip.io"
WORKLOADS = ["items-api", "uploader-api", "ai-api", "front", "front-v2"]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("up")
    m = Mesh(tmp, copy_samples(tmp))
    m.config_dir = tmp / "samples" / "pirata"
    try:
        m.wait_running()
        # The gateway learns the sidecars' registrations through the control plane: wait until
        # every route answers before the tests start.
        deadline = time.time() + 15
        while time.time() < deadline:
            if all(get(m.port, path, API_HOST)[0] == 200 for path in ("/api", "/upload", "/predict")):
                break
            time.sleep(0.2)
        yield m
    finally:
        m.stop()


def test_the_table_names_every_process_its_ports_and_log(mesh):
    out = mesh.output()
    for name in WORKLOADS:
        w = mesh.workload(name)
        row = re.search(r"^%s\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+http://(\S+)\s+(.*)$"
                        % re.escape(name), out, re.M)
        assert row, out
        assert int(row.group(2)) == w["app_port"]
        assert int(row.group(4)) == w["inbound_port"] and int(row.group(5)) == w["outbound_port"]
        assert row.group(6) == w["admin"]
        assert "%s.log, %s.sidecar.log" % (name, name) in row.group(7)
        assert (mesh.log_dir / (name + ".log")).exists()
    assert re.search(r"^istio-ingressgateway\s+\d+\s+gateway 80 on localhost:%d" % mesh.port,
                     out, re.M), out
    assert "curl -H 'Host: %s' localhost:%d/api" % (API_HOST, mesh.port) in out
    assert "proxy-status --control %s" % mesh.state()["control"]["listen"] in out
    assert "Logs: %s/" % mesh.log_dir in out


def test_every_route_of_the_seed_is_answered_by_the_right_app(mesh):
    r = curl(mesh.port, "/api/items", API_HOST)
    assert r.status == 200, (r, mesh.logs())
    assert r.json()["service"] == "items-api"
    assert r.json()["path"] == "/api/items"
    r = curl(mesh.port, "/upload", API_HOST, "--data-binary", "photo-bytes")
    assert r.status == 200 and r.json()["service"] == "uploader-api", r
    assert r.json()["body_bytes"] == len("photo-bytes")
    r = curl(mesh.port, "/predict", API_HOST)
    assert r.status == 200 and r.json()["service"] == "ai-api", r
    served = {get(mesh.port, "/", FRONT_HOST)[1]["service"] for _ in range(20)}
    assert served == {"front"}  # the seed's 100/0 split
    r = curl(mesh.port, "/nothing", API_HOST)
    assert r.status == 404 and "no route" in r.headers["x-halyard-reason"]


def test_items_api_calls_ai_api_through_the_sidecars(mesh):
    status, body = get(mesh.port, "/api/items", API_HOST)
    assert status == 200, body
    assert body["chain"] == ["items-api", "ai-api"], body
    call = body["calls"][0]
    assert call["url"] == "http://ai-api-svc/predict"
    assert call["status"] == 200, call
    assert call["answer"]["service"] == "ai-api"
    # The app's request to ai-api kept the gateway's request id along the chain.
    assert call["answer"]["headers"]["x-request-id"] == body["headers"]["x-request-id"]

    def series(text, *labels):
        return [line for line in text.splitlines()
                if line.startswith("istio_requests_total{") and all(l in line for l in labels)]

    deadline = time.time() + 5
    while True:
        source = series(admin(mesh.workload("items-api")["admin"], "/stats/prometheus"),
                        'reporter="source"', 'source_workload="items-api"',
                        'destination_workload="ai-api"', 'response_code="200"')
        dest = series(admin(mesh.workload("ai-api")["admin"], "/stats/prometheus"),
                      'reporter="destination"', 'source_workload="items-api"',
                      'destination_workload="ai-api"', 'response_code="200"')
        if (source and dest) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert source, admin(mesh.workload("items-api")["admin"], "/stats/prometheus")
    assert dest, admin(mesh.workload("ai-api")["admin"], "/stats/prometheus")
    assert any('destination_service="ai-api-svc.default.svc.cluster.local"' in l for l in source)


def test_proxy_status_lists_the_gateway_and_every_sidecar(mesh):
    res = run_halyard("proxy-status", "--control", mesh.state()["control"]["listen"])
    assert res.returncode == 0, res.stderr
    assert re.search(r"^istio-ingressgateway\S*\s+gateway\s", res.stdout, re.M), res.stdout
    for name in WORKLOADS:
        assert re.search(r"^%s\S*\s+sidecar\s" % re.escape(name), res.stdout, re.M), res.stdout


def test_canary_edit_shifts_traffic_under_load_with_no_failed_request(mesh):
    results = []  # (time, status, service)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, body = get(mesh.port, "/", FRONT_HOST)
                service = body.get("service") if isinstance(body, dict) else None
            except OSError as e:
                status, service = 0, str(e)
            results.append((time.time(), status, service))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    vs = mesh.config_dir / "deploy-front-gateway.yaml"
    original = vs.read_text()
    try:
        time.sleep(1.0)
        edited = re.sub(r"weight: 100\b", "weight: 50", original)
        edited = re.sub(r"weight: 0\b", "weight: 50", edited)
        assert edited != original
        edited_at = time.time()
        vs.write_text(edited)
        deadline = edited_at + 10
        while time.time() < deadline and not any(
                t > edited_at and s == "front-v2" for t, _, s in list(results)):
            time.sleep(0.05)
        first_v2 = min((t for t, _, s in list(results) if t > edited_at and s == "front-v2"),
                       default=None)
        time.sleep(3.0)  # steady 50/50 traffic
    finally:
        stop.set()
        for t in threads:
            t.join()
        vs.write_text(original)
    failed = [r for r in results if r[1] != 200]
    assert not failed, failed[:5]
    assert first_v2 is not None, "front-v2 never answered after the edit"
    assert first_v2 - edited_at < 1.5, "traffic shifted %.2f s after the edit" % (first_v2 - edited_at)
    before = [s for t, _, s in results if t < edited_at]
    assert before and set(before) == {"front"}
    after = [s for t, _, s in results if t > first_v2 + 0.5]
    assert len(after) >= 100, len(after)
    share = after.count("front-v2") / len(after)
    assert 0.35 < share < 0.65, (share, len(after))
    # Back to 100/0 for the tests after this one.
    deadline = time.time() + 10
    while time.time() < deadline:
        if {get(mesh.port, "/", FRONT_HOST)[1]["service"] for _ in range(10)} == {"front"}:
            break
        time.sleep(0.2)


def test_a_crashing_app_is_restarted_and_reported(mesh):
    before = mesh.process("uploader-api")
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.time() + 15
    while time.time() < deadline:
        now = mesh.process("uploader-api")
        if now["pid"] and now["pid"] != before["pid"]:
            status, body = get(mesh.port, "/upload", API_HOST)
            if status == 200 and body["service"] == "uploader-api":
                break
        time.sleep(0.2)
    else:
        raise AssertionError("uploader-api was not restarted:\n" + mesh.output())
    assert now["restarts"] == before["restarts"] + 1
    assert re.search(r"uploader-api \(pid %d\) was killed by signal 9 .*; restart \d+ in 1\.0 s"
                     % before["pid"], mesh.output()), mesh.output()
    # Its sidecar kept running.
    assert mesh.process("uploader-api.sidecar")["pid"] == \
        mesh.process("uploader-api.sidecar")["pids"][0]


def test_ctrl_c_stops_everything_and_leaves_no_process(mesh):
    # Last in this file: it stops the module's mesh.
    pids = mesh.all_pids()
    assert len(pids) >= 2 + 2 * len(WORKLOADS)
    assert mesh.stop(signal.SIGINT) == 0, mesh.output()
    assert "received SIGINT: stopping" in mesh.output()
    left = [pid for pid in pids if alive(pid)]
    assert not left, left
    with socket.socket() as s:  # the gateway's port is free again
        s.bind(("0.0.0.0", mesh.port))


def test_problems_are_reported_before_anything_starts(tmp_path):
    config = copy_samples(tmp_path)
    workloads = (config / "workloads.yaml").read_text()
    workloads = workloads.replace("/usr/bin/python3, ../apps/echo_app.py, --name, ai-api",
                                  "no-such-python3, ../apps/echo_app.py, --name, ai-api")
    (config / "workloads.yaml").write_text(workloads)
    (config / "broken.yaml").write_text("""apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [x.example.com]
  gateways: [no-such-gateway]
  http: [{route: [{destination: {host: items-api-svc}}]}]
""")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        logs = tmp_path / "logs"
        res = subprocess.run([str(BIN / "halyard"), "up", str(config), "--port-map",
                              "80=%d" % port, "--base-port", "0", "--log-dir", str(logs)],
                             capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res
    assert "nothing was started" in res.stderr
    assert re.search(r"workloads\.yaml:\d+: spec\.command\[0\]: \"no-such-python3\" is not found "
                     r"on PATH", res.stderr), res.stderr
    assert re.search(r"broken\.yaml:\d+ .*\[IST0101\] Referenced gateway not found: "
                     r"\"no-such-gateway\"", res.stderr), res.stderr
    assert "port %d (Gateway port 80 of istio-ingressgateway) is in use" % port in res.stderr
    assert not logs.exists()
    assert res.stdout == ""


def solo_mesh(tmp_path):
    """A directory with one workload (no gateway) on a free port: (directory, app port)."""
    config = copy_samples(tmp_path)
    for f in config.glob("*.yaml"):
        f.unlink()
    port = free_port()
    (config / "mesh.yaml").write_text("""apiVersion: v1
kind: Service
metadata: {name: solo-svc}
spec:
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: %d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: solo
  labels: {app: solo}
spec:
  service: solo-svc
  port: %d
  command: [/usr/bin/python3, ../apps/echo_app.py, --name, solo]
""" % (port, port))
    return config, port


def test_a_killed_halyard_up_takes_its_processes_with_it(tmp_path):
    config, port = solo_mesh(tmp_path)
    m = Mesh(tmp_path, config)
    m.wait_running()
    pids = m.all_pids()
    assert get(port, "/", "solo")[1]["service"] == "solo"
    m.stop(signal.SIGKILL)  # no chance to stop anything: PR_SET_PDEATHSIG does it
    deadline = time.time() + 10
    while time.time() < deadline and [pid for pid in pids if alive(pid)]:
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)]


def test_detach_and_down(tmp_path):
    config, port = solo_mesh(tmp_path)
    logs = tmp_path / "logs"
    res = subprocess.run([str(BIN / "halyard"), "up", "--detach", str(config), "--base-port", "0",
                          "--log-dir", str(logs)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res
    assert "Detached. Stop it with: halyard down --log-dir %s" % logs in res.stdout
    state = json.loads((logs / "state.json").read_text())
    pids = [pid for p in state["processes"] for pid in p["pids"]]
    assert all(alive(pid) for pid in pids), state
    assert get(port, "/", "solo")[1]["service"] == "solo"
    res = run_halyard("down", "--log-dir", logs)
    assert res.returncode == 0, res
    assert "stopped the mesh" in res.stdout
    assert not [pid for pid in pids if alive(pid)]
    assert not alive(state["halyard_pid"])
    assert "nothing is left running" in (logs / "halyard-up.log").read_text()
    assert run_halyard("down", "--log-dir", logs).returncode == 1
