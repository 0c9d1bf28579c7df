"""AuthorizationPolicy enforced under `halyard up samples/pirata`, with the identities mutual TLS
proves: sidecars and the gateway answer 403 `RBAC: access denied` where Istio's would, name the
deciding policy in x-halyard-reason and the access log's details, and let through what the
policies allow. Dry-run policies decide nothing. JWT attributes (RequestAuthentication) are not
enforced yet and are not tested here."""
import time
import urllib.error
import urllib.request

import pytest

from up_harness import Mesh, copy_samples, get

API_HOST = "pirata.20.88.189.150.nip.io"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("authz")
    m = Mesh(tmp, copy_samples(tmp))
    m.config_dir = tmp / "samples" / "pirata"
    try:
        m.wait_running()
        deadline = time.time() + 20
        while time.time() < deadline:
            if all(get(m.port, p, API_HOST)[0] == 200 for p in ("/api", "/predict")):
                break
            time.sleep(0.2)
        yield m
    finally:
        m.stop()


def request(port, path, host=API_HOST):
    """(status, x-halyard-reason, body) of one request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("x-halyard-reason", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-halyard-reason", ""), e.read().decode()


def apply(mesh, name, yaml, until, timeout=15):
    """Writes the YAML into the mesh's directory and waits until `until()` says the proxies
    serve it; returns the file to remove afterwards."""
    path = mesh.config_dir / (name + ".yaml")
    path.write_text(yaml)
    deadline = time.time() + timeout
    while not until() and time.time() < deadline:
        time.sleep(0.2)
    assert until(), "the policy never took effect"
    return path


def remove(mesh, path):
    path.unlink()
    deadline = time.time() + 15
    while time.time() < deadline:
        if all(request(mesh.port, p)[0] == 200 for p in ("/api", "/predict", "/upload")):
            return
        time.sleep(0.2)
    raise AssertionError("the mesh did not recover after removing " + path.name)


AI_ONLY_FROM_ITEMS = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ai-from-items, namespace: default}
spec:
  selector: {matchLabels: {app: ai-api}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/items-api]}}]
    to: [{operation: {methods: [GET], paths: ["/predict*"]}}]
"""


def test_allow_lets_only_the_named_identity_in(mesh):
    path = apply(mesh, "ai-from-items", AI_ONLY_FROM_ITEMS,
                 lambda: request(mesh.port, "/predict")[0] == 403)
    try:
        # The gateway's identity is not items-api's: denied by ai-api's sidecar.
        status, reason, body = request(mesh.port, "/predict")
        assert status == 403 and body == "RBAC: access denied", (status, body)
        assert reason == "denied: no ALLOW AuthorizationPolicy matched", reason
        # items-api calls ai-api with its own certificate: allowed.
        status, body = get(mesh.port, "/api", API_HOST)
        assert status == 200 and body["calls"][0]["status"] == 200, body
        # A plaintext caller has no identity at all.
        inbound = mesh.workload("ai-api")["inbound_port"]
        status, _, body = request(inbound, "/predict", host="ai-api-svc")
        assert status == 403 and body == "RBAC: access denied"
    finally:
        remove(mesh, path)


def test_deny_wins_and_names_its_policy_at_a_sidecar_and_at_the_gateway(mesh):
    yaml = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: default}
spec:
  selector: {matchLabels: {app: items-api}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/api/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-uploads-at-the-edge, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/upload"], methods: [GET]}}]
"""
    path = apply(mesh, "denies", yaml, lambda: request(mesh.port, "/upload")[0] == 403)
    try:
        status, reason, body = request(mesh.port, "/upload")
        assert (status, body) == (403, "RBAC: access denied")
        assert reason == "denied by AuthorizationPolicy istio-system/no-uploads-at-the-edge"
        deadline = time.time() + 10
        while request(mesh.port, "/api/admin/users")[0] != 403 and time.time() < deadline:
            time.sleep(0.2)
        status, reason, _ = request(mesh.port, "/api/admin/users")
        assert status == 403 and reason == "denied by AuthorizationPolicy default/no-admin"
        assert request(mesh.port, "/api/items")[0] == 200
        # Paths are normalized before routing and authorization (Istio's BASE): no way around.
        for sneaky in ("/api/items/../admin/users", "/api/%2E/admin", "/api\\admin",
                       "/public/%2e%2e/api/admin"):
            status, reason, _ = request(mesh.port, sneaky)
            assert status == 403 and reason == "denied by AuthorizationPolicy default/no-admin", (
                sneaky, status, reason)
        # ... and the app gets the normalized path.
        status, body = get(mesh.port, "/x/../api/items/./42", API_HOST)
        assert status == 200 and body["path"] == "/api/items/42", body
    finally:
        remove(mesh, path)


def test_a_dry_run_policy_decides_nothing(mesh):
    yaml = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: shadow-deny-all
  namespace: default
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules: [{}]
"""
    path = mesh.config_dir / "shadow.yaml"
    path.write_text(yaml)
    try:
        time.sleep(2)  # a push would have landed by now
        for p in ("/api", "/predict", "/upload"):
            assert request(mesh.port, p)[0] == 200, p
    finally:
        remove(mesh, path)


def test_an_empty_policy_denies_everything_in_its_namespace(mesh):
    yaml = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: default}
spec: {}
"""
    path = apply(mesh, "deny-all", yaml, lambda: request(mesh.port, "/api")[0] == 403)
    try:
        for p in ("/api", "/predict", "/upload"):
            assert request(mesh.port, p)[:1] == (403,), p
    finally:
        remove(mesh, path)
