"""Recent traces on the dashboard when no collector is configured: under `halyard up` the control
plane runs with --trace-collector, so while MeshConfig declares no tracing provider the proxies
report to the control plane's own Zipkin endpoint (POST /api/v2/spans on its admin address) at
Istio's default 1% sampling. A request that arrives already sampled (traceparent flag 01) is
traced whatever the rate: its four spans (gateway, productpage in and out, reviews) reach the
control plane, which lists the trace at /api/traces and draws it as a waterfall in Chromium."""
import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH, running_mesh
from proxy_harness import free_port

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
HOST = "shop.example.com"
GATEWAY = "istio-ingressgateway.istio-system"
PRODUCTPAGE = "productpage.default"
REVIEWS = "reviews.default"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with running_mesh(tmp_path_factory.mktemp("dashboard-traces"), PRODUCTPAGE_MESH.format(
            productpage=free_port(), reviews=free_port(), echo=ECHO, host=HOST), HOST) as m:
        yield m


def admin(mesh):
    return mesh.state()["control"]["admin"]


def api(mesh, path):
    with urllib.request.urlopen("http://%s%s" % (admin(mesh), path), timeout=10) as r:
        return json.loads(r.read())


def sampled_request(mesh):
    """One request through the gateway, already sampled by its caller; returns the trace id."""
    import http.client
    trace_id = secrets.token_hex(16)
    conn = http.client.HTTPConnection("127.0.0.1", mesh.port, timeout=10)
    try:
        conn.request("GET", "/", headers={
            "Host": HOST, "traceparent": "00-%s-%s-01" % (trace_id, secrets.token_hex(8))})
        r = conn.getresponse()
        assert r.status == 200, r.read()
        r.read()
    finally:
        conn.close()
    return trace_id


def wait_trace(mesh, trace_id, spans, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [t for t in api(mesh, "/api/traces")["traces"] if t["trace_id"] == trace_id]
        if found and found[0]["spans"] >= spans:
            return found[0]
        time.sleep(0.3)
    raise AssertionError("trace %s did not reach the control plane with %d spans: %s" % (
        trace_id, spans, api(mesh, "/api/traces")))


@pytest.fixture(scope="module")
def trace(mesh):
    trace_id = sampled_request(mesh)
    return wait_trace(mesh, trace_id, 4)


def test_the_control_plane_collects_a_trace_across_gateway_and_sidecars(mesh, trace):
    assert trace["root_service"] == GATEWAY
    assert trace["spans"] == 4
    assert trace["errors"] == 0
    assert set(trace["services"]) == {GATEWAY, PRODUCTPAGE, REVIEWS}
    assert trace["duration_us"] > 0
    spans = api(mesh, "/api/traces/" + trace["trace_id"])["spans"]
    hop = {(s["service"], s["kind"]): s for s in spans}
    assert set(hop) == {(GATEWAY, "CLIENT"), (PRODUCTPAGE, "SERVER"), (PRODUCTPAGE, "CLIENT"),
                        (REVIEWS, "SERVER")}
    assert hop[(REVIEWS, "SERVER")]["parent_id"] == hop[(PRODUCTPAGE, "CLIENT")]["id"]
    assert spans[0]["service"] == GATEWAY  # by start time


def test_the_span_endpoint_takes_zipkin_json_and_refuses_the_rest(mesh):
    url = "http://%s/api/v2/spans" % admin(mesh)
    body = json.dumps([{"traceId": "ab" * 8, "id": "cd" * 8, "name": "handmade",
                        "timestamp": 1, "duration": 2,
                        "localEndpoint": {"serviceName": "by-hand"}}]).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 202
    assert any(t["trace_id"] == "ab" * 8 and t["root_service"] == "by-hand"
               for t in api(mesh, "/api/traces")["traces"])
    bad = urllib.request.Request(url, data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=10)
    assert e.value.code == 400
    assert b"not a JSON array of Zipkin v2 spans" in e.value.read()


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (scripts/setup.sh)")
def test_the_page_lists_recent_traces_and_draws_a_waterfall(mesh, trace, tmp_path):
    url = "http://%s/#trace=%s" % (admin(mesh), trace["trace_id"])
    r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=%s" % (tmp_path / "profile"),
                        "--virtual-time-budget=5000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=60)
    dom = r.stdout
    assert 'data-loaded="true"' in dom, r.stderr[-2000:]
    assert 'data-trace="%s"' % trace["trace_id"] in dom  # the row in the traces table
    assert 'id="spans" data-trace="%s"' % trace["trace_id"] in dom  # the waterfall
    for service in (GATEWAY, PRODUCTPAGE, REVIEWS):
        assert 'class="span" data-service="%s"' % service in dom
    assert dom.count('class="bar"') >= 4
