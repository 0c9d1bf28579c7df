"""Telemetry tracing entries per side (issue 14), under `halyard up`: every entry applies, and its
match.mode says whether the CLIENT side (the gateway, productpage's outbound call) or the SERVER
side (the inbound hops) takes what it sets, as Istio merges them. One request is one trace of
four spans; each side's spans carry that side's custom tag."""
import secrets
import time

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH
from proxy_harness import free_port
from test_tracing import GATEWAY, HOST, PRODUCTPAGE, REVIEWS, check_one_trace, request
from trace_collector import Collector
from up_harness import Mesh, get

ECHO = ROOT / "samples" / "apps" / "echo_app.py"

MESH = """apiVersion: v1
kind: ConfigMap
metadata: {{name: istio, namespace: istio-system}}
data:
  mesh: |
    extensionProviders:
    - name: test-zipkin
      zipkin: {{service: 127.0.0.1, port: {zipkin}}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {{name: mesh-default, namespace: istio-system}}
spec:
  tracing:
  - providers: [{{name: test-zipkin}}]
    randomSamplingPercentage: 100
  - match: {{mode: SERVER}}
    customTags:
      side: {{literal: {{value: server}}}}
  - match: {{mode: CLIENT}}
    customTags:
      side: {{literal: {{value: client}}}}
---
""" + PRODUCTPAGE_MESH


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    zipkin = Collector()
    tmp = tmp_path_factory.mktemp("tracing_sides")
    config = tmp / "mesh"
    config.mkdir()
    (config / "mesh.yaml").write_text(MESH.format(
        zipkin=zipkin.port, productpage=free_port(), reviews=free_port(), echo=ECHO, host=HOST))
    m = Mesh(tmp, config)
    try:
        m.wait_running()
        deadline = time.time() + 20
        while time.time() < deadline and get(m.port, "/", HOST)[0] != 200:
            time.sleep(0.2)
        yield m, zipkin
    finally:
        m.stop()
        zipkin.stop()


def test_each_side_takes_the_entries_of_its_mode(mesh):
    m, zipkin = mesh
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    request(m, {"traceparent": "00-%s-%s-01" % (trace_id, parent)})
    hop = check_one_trace(zipkin.wait_trace(trace_id, 4), root_parent=parent)
    for key in ((GATEWAY, "CLIENT"), (PRODUCTPAGE, "CLIENT")):
        assert hop[key]["tags"]["side"] == "client", hop[key]
    for key in ((PRODUCTPAGE, "SERVER"), (REVIEWS, "SERVER")):
        assert hop[key]["tags"]["side"] == "server", hop[key]
