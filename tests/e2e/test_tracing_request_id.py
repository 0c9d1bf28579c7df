"""Istio's useRequestIdForTraceSampling (its default): a request that starts a trace is sampled
from its x-request-id, as Envoy does, so every proxy that sees the same id takes the same
decision. At 50% sampling under `halyard up`, the same request ids are sent through the gateway
and, separately, straight to productpage's sidecar (its outbound listener, calling reviews): the
ids with a root span at the gateway are exactly those with a root span at the sidecar, and both
are the ids Envoy's rule picks (the id's last eight hex digits modulo 10,000, under 5,000)."""
import http.client
import time
import uuid

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH, running_mesh, zipkin_tracing
from proxy_harness import free_port
from test_tracing import GATEWAY, HOST, PRODUCTPAGE
from trace_collector import Collector

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
REQUESTS = 80

MESH = zipkin_tracing(50) + PRODUCTPAGE_MESH


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    zipkin = Collector()
    try:
        with running_mesh(tmp_path_factory.mktemp("tracing_request_id"), MESH.format(
                zipkin=zipkin.port, productpage=free_port(), reviews=free_port(), echo=ECHO,
                host=HOST), HOST) as m:
            yield m, zipkin
    finally:
        zipkin.stop()


def send(port, host, request_id):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host, "x-request-id": request_id})
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
        assert r.status == 200, body
    finally:
        conn.close()


def envoy_sampled(request_id, percentage):
    return int(request_id[28:36], 16) % 10000 < percentage * 100


def root_spans(zipkin, service, kind, ids):
    """The request ids among `ids` with a root span (no parent) of `service` and `kind`."""
    with zipkin.lock:
        return {s["tags"].get("guid:x-request-id") for s in zipkin.spans
                if s["service"] == service and s["kind"] == kind and not s["parentId"]} & ids


def test_the_gateway_and_a_sidecar_take_the_same_decision_per_request_id(mesh):
    m, zipkin = mesh
    ids = [str(uuid.uuid4()) for _ in range(REQUESTS)]
    outbound = m.workload("productpage")["outbound_port"]
    for request_id in ids:
        send(m.port, HOST, request_id)  # gateway -> productpage -> reviews
        send(outbound, "reviews:9080", request_id)  # productpage's sidecar -> reviews
    expected = {i for i in ids if envoy_sampled(i, 50)}
    assert 0 < len(expected) < REQUESTS  # 80 random ids: all or none would be a 1 in 2^79 event
    wanted = set(ids)
    deadline = time.time() + 15
    while time.time() < deadline:
        if (root_spans(zipkin, GATEWAY, "CLIENT", wanted) >= expected and
                root_spans(zipkin, PRODUCTPAGE, "CLIENT", wanted) >= expected):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # a span of an id that should not be sampled would come with the next batch
    at_gateway = root_spans(zipkin, GATEWAY, "CLIENT", wanted)
    at_sidecar = root_spans(zipkin, PRODUCTPAGE, "CLIENT", wanted)
    assert at_gateway == at_sidecar, (sorted(at_gateway ^ at_sidecar))
    assert at_gateway == expected
    # The decision travels on: reviews' sidecar recorded exactly the sampled requests.
    with zipkin.lock:
        reviews = {s["tags"].get("guid:x-request-id") for s in zipkin.spans
                   if s["service"] == "reviews.default" and s["kind"] == "SERVER"} & wanted
    assert reviews == expected
