"""AuthorizationPolicy at sidecars under `halyard up` (ports chosen by the test): a TCP app's
inbound listener evaluates policies at connection start (a plaintext caller has no principal,
so an ALLOW on principals closes its connection; removing the policy lets it through),
remote.ip at an inbound listener is the last X-Forwarded-For entry, what its caller appended,
and a CUSTOM policy at a sidecar asks an envoyExtAuthzHttp provider that is itself a mesh
workload (reached through its sidecar, with mutual TLS)."""
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from proxy_harness import free_port
from up_harness import Mesh

TCP_ECHO = ("import os,socket,threading\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(16)\n"
            "def h(c):\n"
            "    d=c.recv(4096); c.sendall(b'db:'+d); c.close()\n"
            "while True:\n"
            "    c,_=s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()\n")


def workloads(web_port, db_port, authz_port):
    return """apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  service: web
  port: %d
  command: [/usr/bin/python3, %s, --name, web]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: %d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  service: db
  port: %d
  command: [/usr/bin/python3, -c, %s]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  ports: [{name: tcp-db, port: 5432, targetPort: %d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: authz, namespace: security, labels: {app: authz}}
spec:
  service: ext-authz
  port: %d
  command: [/usr/bin/python3, %s]
---
apiVersion: v1
kind: Service
metadata: {name: ext-authz, namespace: security}
spec:
  selector: {app: authz}
  ports: [{name: http, port: 8000, targetPort: %d}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: mesh-authz
      envoyExtAuthzHttp:
        service: ext-authz.security.svc.cluster.local
        port: 8000
        timeout: 2s
        includeRequestHeadersInCheck: [x-ext-authz]
        headersToUpstreamOnAllow: [x-authz-user]
""" % (web_port, ROOT / "samples" / "apps" / "echo_app.py", web_port, db_port,
       '"' + TCP_ECHO.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"',
       db_port, authz_port, ROOT / "tests" / "e2e" / "fixtures" / "ext_authz_server.py",
       authz_port)


POLICIES = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-from-partner, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sidecar_authz")
    config = tmp / "mesh"
    config.mkdir()
    (config / "workloads.yaml").write_text(workloads(free_port(), free_port(), free_port()))
    m = Mesh(tmp, config)
    m.config_dir = config
    try:
        m.wait_running()
        yield m
    finally:
        m.stop()


def tcp(port, payload=b"hi"):
    """The answer, or None when the connection was closed without one."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(payload)
            data = s.recv(4096)
            return data or None
    except (ConnectionResetError, BrokenPipeError):
        return None


def http(port, headers=None, path="/", body=False):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers=dict({"Host": "web.shop"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return (r.status, r.read().decode()) if body else r.status
    except urllib.error.HTTPError as e:
        return (e.code, e.read().decode()) if body else e.code


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_inbound_tcp_and_remote_ip(mesh):
    db = mesh.workload("db")["inbound_port"]
    web = mesh.workload("web")["inbound_port"]
    # No policy yet: a plaintext caller (PERMISSIVE) reaches both apps.
    assert wait_for(lambda: tcp(db) == b"db:hi")
    assert wait_for(lambda: http(web) == 200)
    (mesh.config_dir / "policies.yaml").write_text(POLICIES)
    # A plaintext connection has no principal: closed at connection start, the app never sees it.
    assert wait_for(lambda: tcp(db) is None), mesh.logs()
    # remote.ip at an inbound listener: the last X-Forwarded-For entry.
    assert wait_for(lambda: http(web) == 403)
    assert http(web, {"X-Forwarded-For": "203.0.113.7"}) == 200
    assert http(web, {"X-Forwarded-For": "203.0.113.7, 198.51.100.2"}) == 403
    (mesh.config_dir / "policies.yaml").unlink()
    assert wait_for(lambda: tcp(db) == b"db:hi")


CUSTOM = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-ext, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: CUSTOM
  provider: {name: mesh-authz}
  rules:
  - to: [{operation: {paths: ["/guarded*"]}}]
"""


def test_custom_policy_at_a_sidecar_asks_a_mesh_authorizer(mesh):
    web = mesh.workload("web")["inbound_port"]
    (mesh.config_dir / "custom.yaml").write_text(CUSTOM)
    try:
        assert wait_for(lambda: http(web, path="/guarded") == 403), mesh.logs()
        status, body = http(web, {"x-ext-authz": "deny"}, "/guarded", body=True)
        assert (status, body) == (403, "denied by ext authz")
        status, body = http(web, {"x-ext-authz": "allow"}, "/guarded", body=True)
        assert status == 200, body
        assert json.loads(body)["headers"]["x-authz-user"] == "alice"
        assert http(web, path="/open") == 200  # not matched: never checked
    finally:
        (mesh.config_dir / "custom.yaml").unlink()
