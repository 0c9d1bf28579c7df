"""Distributed tracing under `halyard up`, configured the Istio way: MeshConfig
extensionProviders (zipkin, opentelemetry) in the ConfigMap istio-system/istio and a mesh-wide
Telemetry naming them at 100% sampling. One request through the gateway to productpage, which
calls reviews, is one trace across the gateway and both sidecars at collectors written for the
test (trace_collector.py), with W3C and B3 propagation."""
import secrets
import time

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH, running_mesh
from proxy_harness import free_port
from trace_collector import Collector

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
HOST = "shop.example.com"

MESH = """apiVersion: v1
kind: ConfigMap
metadata: {{name: istio, namespace: istio-system}}
data:
  mesh: |
    extensionProviders:
    - name: test-zipkin
      zipkin: {{service: 127.0.0.1, port: {zipkin}}}
    - name: test-otel
      opentelemetry:
        service: istio-system/127.0.0.1
        port: {otel}
        http: {{path: /v1/traces}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {{name: mesh-default, namespace: istio-system}}
spec:
  tracing:
  - providers: [{{name: test-zipkin}}, {{name: test-otel}}]
    randomSamplingPercentage: 100
    customTags:
      team: {{literal: {{value: storefront}}}}
      tenant: {{header: {{name: x-tenant, defaultValue: none}}}}
---
""" + PRODUCTPAGE_MESH

GATEWAY = "istio-ingressgateway.istio-system"
PRODUCTPAGE = "productpage.default"
REVIEWS = "reviews.default"


@pytest.fixture(scope="module")
def collectors():
    zipkin, otel = Collector(), Collector()
    yield zipkin, otel
    zipkin.stop()
    otel.stop()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, collectors):
    zipkin, otel = collectors
    with running_mesh(tmp_path_factory.mktemp("tracing"), MESH.format(
            zipkin=zipkin.port, otel=otel.port, productpage=free_port(), reviews=free_port(),
            echo=ECHO, host=HOST), HOST) as m:
        yield m


def request(mesh, headers=None):
    """One request through the gateway; the answer's chain proves it reached reviews."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", mesh.port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": HOST, **(headers or {})})
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 200, body
        return body
    finally:
        conn.close()


def by_service_and_kind(spans):
    return {(s["service"], s["kind"]): s for s in spans}


def check_one_trace(spans, root_parent=None):
    """gateway (CLIENT) -> productpage (SERVER) -> productpage (CLIENT) -> reviews (SERVER)."""
    hop = by_service_and_kind(spans)
    assert set(hop) == {(GATEWAY, "CLIENT"), (PRODUCTPAGE, "SERVER"), (PRODUCTPAGE, "CLIENT"),
                        (REVIEWS, "SERVER")}, [(s["service"], s["kind"]) for s in spans]
    gateway = hop[(GATEWAY, "CLIENT")]
    assert gateway["parentId"] == root_parent
    assert hop[(PRODUCTPAGE, "SERVER")]["parentId"] == gateway["id"]
    assert hop[(PRODUCTPAGE, "CLIENT")]["parentId"] == hop[(PRODUCTPAGE, "SERVER")]["id"]
    assert hop[(REVIEWS, "SERVER")]["parentId"] == hop[(PRODUCTPAGE, "CLIENT")]["id"]
    assert len({s["id"] for s in spans}) == 4
    return hop


def test_one_request_is_one_trace_across_gateway_and_two_sidecars(mesh, collectors):
    zipkin, _ = collectors
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    request(mesh, {"traceparent": "00-%s-%s-01" % (trace_id, parent), "x-tenant": "acme"})
    spans = zipkin.wait_trace(trace_id, 4)
    hop = check_one_trace(spans, root_parent=parent)
    gateway = hop[(GATEWAY, "CLIENT")]
    # Istio's span name and tags.
    assert gateway["name"] == "productpage.default.svc.cluster.local:9080/*"
    tags = gateway["tags"]
    assert tags["http.method"] == "GET"
    assert tags["http.status_code"] == "200"
    assert tags["http.url"] == "http://%s/" % HOST
    assert tags["upstream_cluster"] == "outbound|9080||productpage.default.svc.cluster.local"
    assert tags["istio.canonical_service"] == "istio-ingressgateway"
    assert tags["istio.namespace"] == "istio-system"
    assert tags["component"] == "proxy"
    assert tags["guid:x-request-id"]
    # Telemetry customTags: a literal and a request header, on every hop the header reached.
    assert tags["team"] == "storefront"
    assert tags["tenant"] == "acme"
    assert hop[(PRODUCTPAGE, "CLIENT")]["name"] == "reviews.default.svc.cluster.local:9080/*"
    assert hop[(REVIEWS, "SERVER")]["tags"]["istio.canonical_service"] == "reviews"


def test_a_request_without_a_trace_starts_one(mesh, collectors):
    zipkin, _ = collectors
    before = {s["traceId"] for s in zipkin.spans}
    request(mesh)
    deadline = time.time() + 15
    while time.time() < deadline:
        new = {s["traceId"] for s in zipkin.spans
               if s["service"] == GATEWAY and s["parentId"] is None} - before
        if new:
            break
        time.sleep(0.2)
    assert new, "the gateway started no trace"
    spans = zipkin.wait_trace(new.pop(), 4)
    hop = check_one_trace(spans)
    assert hop[(GATEWAY, "CLIENT")]["tags"]["tenant"] == "none"  # the header's default


def test_b3_headers_continue_the_trace(mesh, collectors):
    zipkin, _ = collectors
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    request(mesh, {"x-b3-traceid": trace_id, "x-b3-spanid": parent, "x-b3-sampled": "1"})
    check_one_trace(zipkin.wait_trace(trace_id, 4), root_parent=parent)


def test_a_trace_the_caller_did_not_sample_is_not_reported(mesh, collectors):
    zipkin, _ = collectors
    trace_id = secrets.token_hex(16)
    request(mesh, {"traceparent": "00-%s-%s-00" % (trace_id, secrets.token_hex(8))})
    time.sleep(2.5)  # more than two export periods
    assert zipkin.trace(trace_id) == []


def test_the_same_spans_go_to_the_opentelemetry_collector(mesh, collectors):
    _, otel = collectors
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    request(mesh, {"traceparent": "00-%s-%s-01" % (trace_id, parent)})
    spans = otel.wait_trace(trace_id, 4)
    check_one_trace(spans, root_parent=parent)
    assert all(s["format"] == "otlp" for s in spans)
    assert ("/v1/traces", "application/json") in otel.posts
