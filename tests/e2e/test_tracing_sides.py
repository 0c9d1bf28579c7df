"""Telemetry tracing entries per side (issue 14), under `halyard up`: every entry applies, and its
match.mode says whether the CLIENT side (the gateway, productpage's outbound call) or the SERVER
side (the inbound hops) takes what it sets, as Istio merges them. One request is one trace of
four spans; each side's spans carry that side's custom tag."""
import secrets

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH, running_mesh, zipkin_tracing
from proxy_harness import free_port
from test_tracing import GATEWAY, HOST, PRODUCTPAGE, REVIEWS, check_one_trace, request
from trace_collector import Collector

ECHO = ROOT / "samples" / "apps" / "echo_app.py"

MESH = zipkin_tracing(100, """  - match: {{mode: SERVER}}
    customTags:
      side: {{literal: {{value: server}}}}
  - match: {{mode: CLIENT}}
    customTags:
      side: {{literal: {{value: client}}}}
""") + PRODUCTPAGE_MESH


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    zipkin = Collector()
    try:
        with running_mesh(tmp_path_factory.mktemp("tracing_sides"), MESH.format(
                zipkin=zipkin.port, productpage=free_port(), reviews=free_port(), echo=ECHO,
                host=HOST), HOST) as m:
            yield m, zipkin
    finally:
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
