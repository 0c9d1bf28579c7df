"""source_canonical_service and destination_canonical_service (issue 11), and the
istio.canonical_service span tag, under a control plane with sidecars in front of apps of the
test: a workload's canonical service is its `service.istio.io/canonical-name` label, else
`app.kubernetes.io/name`, else `app`, else its workload name, as Istio derives it. Each workload
here has a canonical name different from its `app` label, which source_app / destination_app
still report:

- the reporting proxy takes its own from its labels (metrics and its spans' tag);
- the source sidecar takes the destination's from the chosen endpoint's labels;
- the destination sidecar takes the caller's from the peer metadata header (HTTP) or from the
  registry's table of peer workloads pushed by the control plane (TCP)."""
import secrets

import pytest

from mesh_harness import App, Control, MeshProxy, http_get, wait_until
from obs_mesh import zipkin_tracing
from test_sidecar_tunnel import tunnel_exchange
from test_tcp_tls_routing import TcpBackend, metric_sum
from trace_collector import Collector

CONFIG = zipkin_tracing(100) + """apiVersion: v1
kind: Service
metadata: {{name: items, namespace: default}}
spec:
  selector: {{app: items}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: default}}
spec:
  selector: {{app: echo}}
  ports: [{{name: tcp-echo, port: 9000}}]
"""

# web: app.kubernetes.io/name wins over app; items: the canonical-name label wins over both;
# echo: the canonical-name label over app.
WEB_LABELS = "app=web,version=v1,app.kubernetes.io/name=storefront"
ITEMS_LABELS = "app=items,version=v2,app.kubernetes.io/name=inventory," \
               "service.istio.io/canonical-name=catalog"
ECHO_LABELS = "app=echo,version=v5,service.istio.io/canonical-name=echo-svc"


@pytest.fixture(scope="module")
def zipkin():
    c = Collector()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, zipkin):
    tmp = tmp_path_factory.mktemp("canonical_service")
    config = tmp / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(CONFIG.format(zipkin=zipkin.port))
    web, items = App("web"), App("items", version="v2")
    echo = TcpBackend("echo", reply_at_once=True)
    procs = []
    m = type("Mesh", (), {})()
    try:
        control = Control(config, tmp)
        procs.append(control)
        m.items = MeshProxy(control, tmp, "items-1", role="sidecar", app=items,
                            labels=ITEMS_LABELS, service_account="items")
        procs.append(m.items)
        m.echo = MeshProxy(control, tmp, "echo-1", role="sidecar", app=echo,
                           labels=ECHO_LABELS, service_account="echo")
        procs.append(m.echo)
        m.web = MeshProxy(control, tmp, "web-1", role="sidecar", app=web, labels=WEB_LABELS,
                          service_account="web")
        procs.append(m.web)
        m.proxy = "http://127.0.0.1:%d" % m.web.outbound_port
        assert wait_until(lambda: http_get("http://items/", proxy=m.proxy)[0] == 200,
                          timeout=20), m.web.output()
        assert wait_until(lambda: tunnel_exchange(m.web.outbound_port, "echo:9000", b"p")[1]
                          == b"echo:p", timeout=20), m.web.output()
        yield m
    finally:
        for p in reversed(procs):
            p.stop()
        for app in (web, items, echo):
            app.stop()


def test_http_request_metrics_carry_both_canonical_services(mesh):
    labels = dict(source_workload="web-1", source_app="web", source_canonical_service="storefront",
                  destination_workload="items-1", destination_app="items",
                  destination_canonical_service="catalog")
    for _ in range(3):
        assert http_get("http://items/r", proxy=mesh.proxy)[0] == 200
    for proxy, reporter in ((mesh.web, "source"), (mesh.items, "destination")):
        assert wait_until(lambda: metric_sum(proxy.metrics(), "istio_requests_total",
                                             reporter=reporter, **labels) >= 3, timeout=5), \
            proxy.metrics()
    # The app label is no canonical service of these workloads: no series says it is.
    for proxy in (mesh.web, mesh.items):
        series = [line for line in proxy.metrics().splitlines()
                  if line.startswith("istio_requests_total{") and 'items-1"' in line]
        assert series and not any('canonical_service="web"' in s or
                                  'canonical_service="items"' in s for s in series), series


def test_tcp_metrics_carry_both_canonical_services(mesh):
    labels = dict(request_protocol="tcp", source_workload="web-1",
                  source_canonical_service="storefront", destination_workload="echo-1",
                  destination_app="echo", destination_canonical_service="echo-svc")

    # The destination learns the caller's from the peer table that the control plane pushes after
    # the caller registered; a connection before that counts the caller unknown.
    def one_more():
        seen = metric_sum(mesh.echo.metrics(), "istio_tcp_connections_closed_total",
                          reporter="destination", **labels)
        tunnel_exchange(mesh.web.outbound_port, "echo:9000", b"y")
        return wait_until(lambda: metric_sum(mesh.echo.metrics(),
                                             "istio_tcp_connections_closed_total",
                                             reporter="destination", **labels) > seen, timeout=1)

    assert wait_until(one_more, timeout=10), mesh.echo.metrics()
    for _ in range(3):
        assert tunnel_exchange(mesh.web.outbound_port, "echo:9000", b"x" * 10)[1] == \
            b"echo:" + b"x" * 10
    for proxy, reporter in ((mesh.web, "source"), (mesh.echo, "destination")):
        def counted():
            text = proxy.metrics()
            return all(metric_sum(text, name, reporter=reporter, **labels) > 0
                       for name in ("istio_tcp_connections_opened_total",
                                    "istio_tcp_connections_closed_total",
                                    "istio_tcp_sent_bytes_total",
                                    "istio_tcp_received_bytes_total"))

        assert wait_until(counted, timeout=5), proxy.metrics()


def test_spans_carry_the_proxys_canonical_service(mesh, zipkin):
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": "00-%s-%s-01" % (trace_id, secrets.token_hex(8))}
    assert wait_until(lambda: http_get("http://items/t", proxy=mesh.proxy,
                                       headers=headers)[0] == 200, timeout=5)
    spans = zipkin.wait_trace(trace_id, 2)
    tags = {s["kind"]: s["tags"].get("istio.canonical_service") for s in spans}
    assert tags == {"CLIENT": "storefront", "SERVER": "catalog"}, spans
