"""A route's header operations and the trace context (issue 14), under `halyard up`: a
VirtualService that sets `traceparent` itself does not fork the trace. As Envoy's tracer does,
the proxy's own context replaces what the route set, so the next hop gets one traceparent, the
gateway's, and one request stays one trace of four spans."""
import secrets
import time

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH, running_mesh, zipkin_tracing
from proxy_harness import free_port
from test_tracing import HOST, check_one_trace, request
from trace_collector import Collector

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
FORGED = "00-%s-%s-01" % ("ab" * 16, "cd" * 8)

MESH = zipkin_tracing(100) + PRODUCTPAGE_MESH.replace(
    """  - route:
    - destination: {{host: productpage, port: {{number: 9080}}}}
""", """  - headers:
      request:
        set: {{traceparent: "%s"}}
    route:
    - destination: {{host: productpage, port: {{number: 9080}}}}
""" % FORGED)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    assert FORGED in MESH  # the gateway's route sets the header
    zipkin = Collector()
    try:
        with running_mesh(tmp_path_factory.mktemp("tracing_header_ops"), MESH.format(
                zipkin=zipkin.port, productpage=free_port(), reviews=free_port(), echo=ECHO,
                host=HOST), HOST) as m:
            yield m, zipkin
    finally:
        zipkin.stop()


def test_a_route_that_sets_traceparent_does_not_fork_the_trace(mesh):
    m, zipkin = mesh
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    request(m, {"traceparent": "00-%s-%s-01" % (trace_id, parent)})
    # Every hop after the gateway continued the gateway's span, not the route's forged one.
    check_one_trace(zipkin.wait_trace(trace_id, 4), root_parent=parent)
    time.sleep(0.5)
    assert zipkin.trace("ab" * 16) == []  # no hop took the route's context
