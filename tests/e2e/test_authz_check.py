"""`halyard authz check WORKLOAD` (like `istioctl x authz check`): the policies that apply to a
workload, with action, name.namespace and rule count in a table, then what each rule allows or
denies; from a config directory (--dir) and from a running mesh (`halyard up`, the proxy's
pushed config through the control plane)."""
import json
import time

import pytest

from conftest import ROOT, run_halyard
from proxy_harness import free_port
from up_harness import Mesh

POLICIES = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-readers, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/gw], namespaces: [shop]}}]
    to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
  - to: [{operation: {paths: [/healthz]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to: [{operation: {notPaths: ["/api/*"]}}]
    when: [{key: "request.headers[x-admin]", values: ["yes"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-audit, namespace: istio-system}
spec:
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-app, namespace: shop}
spec:
  selector: {matchLabels: {app: other}}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: CUSTOM
  provider: {name: not-defined}
  rules:
  - to: [{operation: {paths: ["/ext*"]}}]
"""


def workload_yaml(port):
    return """apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  serviceAccount: web
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
""" % (port, ROOT / "samples" / "apps" / "echo_app.py", port)


@pytest.fixture
def config_dir(tmp_path):
    d = tmp_path / "mesh"
    d.mkdir()
    (d / "workloads.yaml").write_text(workload_yaml(free_port()))
    (d / "policies.yaml").write_text(POLICIES)
    return d


def check_table(out):
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("ACTION"))
    rows = []
    for line in lines[header + 1:]:
        if not line.strip():
            break
        rows.append(line.split())
    return lines[header].split(), rows


def test_check_from_a_directory(config_dir):
    res = run_halyard("authz", "check", "web", "--dir", config_dir)
    assert res.returncode == 0, res.stderr
    header, rows = check_table(res.stdout)
    assert header == ["ACTION", "AuthorizationPolicy", "RULES"]
    # Istio's evaluation order: CUSTOM, DENY, ALLOW, then AUDIT; other-app does not apply.
    assert rows == [["CUSTOM", "ext.shop", "1"], ["DENY", "no-admin.shop", "1"],
                    ["ALLOW", "web-readers.shop", "2"], ["AUDIT", "mesh-audit.istio-system", "1"]]
    out = res.stdout
    assert "Checked web.shop (sidecar, namespace shop, labels app=web)" in out
    assert "ALLOW web-readers.shop (" in out and "policies.yaml:1)" in out
    assert "principals: cluster.local/ns/shop/sa/gw; namespaces: shop" in out
    assert "methods: GET; paths: /api/*" in out
    assert "notPaths: /api/*" in out
    assert "when: request.headers[x-admin]: yes" in out
    assert 'denies (its provider "not-defined" is not defined)' in out
    # The compiler's warning names the file and line.
    assert "policies.yaml:" in out and 'CUSTOM provider "not-defined"' in out

    res = run_halyard("authz", "check", "web.shop", "--dir", config_dir, "-o", "json")
    assert res.returncode == 0, res.stderr
    j = json.loads(res.stdout)
    assert j["workload"] == "web.shop"
    assert [(p["action"], p["name"], p["rules"]) for p in j["policies"]][:3] == [
        ("CUSTOM", "ext", 1), ("DENY", "no-admin", 1), ("ALLOW", "web-readers", 2)]


def test_check_takes_istioctl_forms(config_dir):
    # The directory as a second argument or -f, and istioctl's kind prefixes.
    for args in (["web.shop", config_dir], ["pod/web", "-f", config_dir],
                 ["deployment/web.shop", "--dir", config_dir]):
        res = run_halyard("authz", "check", *args)
        assert res.returncode == 0, (args, res.stderr)
        assert check_table(res.stdout)[1][2] == ["ALLOW", "web-readers.shop", "2"]


def test_check_names_what_it_cannot_find(config_dir):
    res = run_halyard("authz", "check", "nobody", "--dir", config_dir)
    assert res.returncode == 1
    assert "declares no Workload nobody" in res.stderr and "web.shop" in res.stderr


def test_check_a_gateway_from_a_directory(config_dir):
    (config_dir / "gateway.yaml").write_text("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
""")
    res = run_halyard("authz", "check", "istio-ingressgateway", "--dir", config_dir)
    assert res.returncode == 0, res.stderr
    _, rows = check_table(res.stdout)
    assert rows == [["AUDIT", "mesh-audit.istio-system", "1"]]


def test_check_against_a_running_mesh(tmp_path, config_dir):
    mesh = Mesh(tmp_path, config_dir)
    try:
        mesh.wait_running()
        control = mesh.state()["control"]
        args = ["--control", control["listen"], "--ca-cert", control["root_cert"]]
        deadline = time.time() + 20
        res = None
        while time.time() < deadline:
            res = run_halyard("authz", "check", "web.shop", *args)
            if res.returncode == 0 and "web-readers.shop" in res.stdout:
                break
            time.sleep(0.3)
        assert res.returncode == 0, res.stderr
        _, rows = check_table(res.stdout)
        assert rows == [["CUSTOM", "ext.shop", "1"], ["DENY", "no-admin.shop", "1"],
                        ["ALLOW", "web-readers.shop", "2"],
                        ["AUDIT", "mesh-audit.istio-system", "1"]]
        assert "methods: GET; paths: /api/*" in res.stdout
    finally:
        mesh.stop()
