"""Istio's useRequestIdForTraceSampling (its default): a request that starts a trace is sampled
from its x-request-id, as Envoy does, so every proxy that sees the same id takes the same
decision. At 50% sampling under `halyard up`, the same request ids are sent through the gateway
and, separately, straight to productpage's sidecar (its outbound listener, calling reviews): the
ids with a root span at the gateway are exactly those with a root span at the sidecar, and both
are the ids Envoy's rule picks (the id's last eight hex digits modulo 10,000, under 5,000).
With `useRequestIdForTraceSampling: false` the gateway draws at random instead: its sampled ids
are not the rule's, and the decision still travels with the request."""
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
RANDOM_MESH = zipkin_tracing(50, "    useRequestIdForTraceSampling: false\n") + PRODUCTPAGE_MESH


def start(tmp_path_factory, mesh_yaml):
    zipkin = Collector()
    try:
        with running_mesh(tmp_path_factory.mktemp("tracing_request_id"), mesh_yaml.format(
                zipkin=zipkin.port, productpage=free_port(), reviews=free_port(), echo=ECHO,
                host=HOST), HOST) as m:
            yield m, zipkin
    finally:
        zipkin.stop()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    yield from start(tmp_path_factory, MESH)


@pytest.fixture
def random_mesh(tmp_path_factory):
    yield from start(tmp_path_factory, RANDOM_MESH)


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


def test_without_the_request_id_the_gateway_draws_at_random(random_mesh):
    m, zipkin = random_mesh
    ids = [str(uuid.uuid4()) for _ in range(REQUESTS)]
    for request_id in ids:
        send(m.port, HOST, request_id)  # gateway -> productpage -> reviews
    wanted = set(ids)
    deadline = time.time() + 15
    at_gateway = set()
    while time.time() < deadline:
        at_gateway = root_spans(zipkin, GATEWAY, "CLIENT", wanted)
        if len(at_gateway) >= 10:
            break
        time.sleep(0.2)
    time.sleep(1.5)  # the rest of the sampled requests' spans
    at_gateway = root_spans(zipkin, GATEWAY, "CLIENT", wanted)
    # 80 draws at 50%: fewer than 10 or more than 70 sampled is under a 1 in 10^10 event, and a
    # sampled set equal to the request-id rule's a 1 in 2^80 one.
    assert 10 <= len(at_gateway) <= 70, len(at_gateway)
    assert at_gateway != {i for i in ids if envoy_sampled(i, 50)}
    with zipkin.lock:
        reviews = {s["tags"].get("guid:x-request-id") for s in zipkin.spans
                   if s["service"] == "reviews.default" and s["kind"] == "SERVER"} & wanted
    assert reviews == at_gateway
