"""A small mesh for the observability tests, written with ports the test picks (no fixed app
ports, so these tests run beside the others): a gateway in front of `reviews` (two versions) and
a `productpage` client, the apps being samples/apps/echo_app.py."""
from conftest import ROOT
from proxy_harness import free_port

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
