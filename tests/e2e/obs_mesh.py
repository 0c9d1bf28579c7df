"""A small mesh for the observability tests, written with ports the test picks (no fixed app
ports, so these tests run beside the others): a gateway in front of `reviews` (two versions) and
a `productpage` client, the apps being samples/apps/echo_app.py."""
import contextlib
import time

from conftest import ROOT
from proxy_harness import free_port
from up_harness import Mesh, get

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
HOST = "reviews.example.com"

WORKLOAD = """---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: {name}
  labels: {{app: {app}, version: {version}}}
spec:
  {service}port: {port}
  command: [/usr/bin/python3, {echo}, --name, {name}]
"""

MESH = """apiVersion: v1
kind: Service
metadata: {{name: reviews, namespace: default}}
spec:
  selector: {{app: reviews}}
  ports: [{{name: http, port: 9080, targetPort: 9080}}]
{workloads}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: reviews-gateway}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [{host}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews, {host}]
  gateways: [mesh, reviews-gateway]
  http:
  - {fault}route:
    - destination: {{host: reviews, port: {{number: 9080}}}}
"""

FAULT = """fault:
      abort:
        percentage: {value: 100}
        httpStatus: 503
    """


def write_mesh(directory, fault=False):
    """Writes mesh.yaml into directory (created); the same ports on every call for a directory."""
    directory.mkdir(exist_ok=True)
    ports_file = directory.parent / (directory.name + ".ports")
    if ports_file.exists():
        ports = [int(p) for p in ports_file.read_text().split()]
    else:
        ports = [free_port() for _ in range(3)]
        ports_file.write_text(" ".join(map(str, ports)))
    workloads = "".join([
        WORKLOAD.format(name="reviews-v1", app="reviews", version="v1", service="service: reviews\n  ",
                        port=ports[0], echo=ECHO),
        WORKLOAD.format(name="reviews-v2", app="reviews", version="v2", service="service: reviews\n  ",
                        port=ports[1], echo=ECHO),
        WORKLOAD.format(name="productpage", app="productpage", version="v1", service="",
                        port=ports[2], echo=ECHO),
    ])
    text = MESH.format(workloads=workloads, host=HOST, fault=FAULT if fault else "")
    tmp = directory / "mesh.yaml.tmp"
    tmp.write_text(text)
    tmp.rename(directory / "mesh.yaml")
    return directory


# A gateway in front of `productpage`, which calls `reviews` (one version), as a format template
# (productpage and reviews ports, echo, host); the dashboard and tracing tests add their own parts.
PRODUCTPAGE_MESH = """apiVersion: v1
kind: Service
metadata: {{name: productpage, namespace: default}}
spec:
  selector: {{app: productpage}}
  ports: [{{name: http, port: 9080, targetPort: 9080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: reviews, namespace: default}}
spec:
  selector: {{app: reviews}}
  ports: [{{name: http, port: 9080, targetPort: 9080}}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: productpage
  labels: {{app: productpage, version: v1}}
spec:
  service: productpage
  port: {productpage}
  command: [/usr/bin/python3, {echo}, --name, productpage, --call, "http://reviews:9080/"]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: reviews-v1
  labels: {{app: reviews, version: v1}}
spec:
  service: reviews
  port: {reviews}
  command: [/usr/bin/python3, {echo}, --name, reviews-v1]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: shop-gateway}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [{host}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop}}
spec:
  hosts: [{host}]
  gateways: [shop-gateway]
  http:
  - route:
    - destination: {{host: productpage, port: {{number: 9080}}}}
"""


# MeshConfig naming one Zipkin provider, `test-zipkin`, at {zipkin}, and a mesh-wide Telemetry
# tracing to it at the given percentage: the head of a tracing test's mesh.yaml (a .format
# template like the rest: braces doubled).
ZIPKIN_TRACING = """apiVersion: v1
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
    randomSamplingPercentage: %d
"""


def zipkin_tracing(percentage, more_entries=""):
    """ZIPKIN_TRACING at `percentage`, with further tracing entries, ending the document."""
    return ZIPKIN_TRACING % percentage + more_entries + "---\n"


@contextlib.contextmanager
def running_mesh(tmp, mesh_yaml, host):
    """`halyard up` on `mesh_yaml` (the text of one file) in `tmp`, once its gateway answers `host`
    with a 200; stopped on exit."""
    config = tmp / "mesh"
    config.mkdir()
    (config / "mesh.yaml").write_text(mesh_yaml)
    m = Mesh(tmp, config)
    try:
        m.wait_running()
        deadline = time.time() + 20
        while time.time() < deadline and get(m.port, "/", host)[0] != 200:
            time.sleep(0.2)
        yield m
    finally:
        m.stop()
