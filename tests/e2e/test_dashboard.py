"""The dashboard the control plane serves at its admin address (`halyard dashboard`), fed by the
control plane's own scrapes of the proxies (no Prometheus): under `halyard up`, traffic through
the gateway to productpage and on to reviews shows as edges with request rates and mTLS; a
denial shows in the security view. The page is rendered in headless Chromium when it is
installed (DOM assertions on the graph and the numbers)."""
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, run_halyard
from obs_mesh import PRODUCTPAGE_MESH, running_mesh
from proxy_harness import free_port
from up_harness import get

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
HOST = "shop.example.com"

MESH = PRODUCTPAGE_MESH + """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: reviews-deny-delete, namespace: default}}
spec:
  selector:
    matchLabels: {{app: reviews}}
  action: DENY
  rules:
  - to:
    - operation: {{methods: [DELETE]}}
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with running_mesh(tmp_path_factory.mktemp("dashboard"), MESH.format(
            productpage=free_port(), reviews=free_port(), echo=ECHO, host=HOST), HOST) as m:
        yield m


def dashboard(mesh):
    admin = mesh.state()["control"]["admin"]
    with urllib.request.urlopen("http://%s/api/dashboard" % admin, timeout=10) as r:
        return json.loads(r.read())


def traffic(mesh, n=10):
    for _ in range(n):
        assert get(mesh.port, "/", HOST)[0] == 200


def deny_once(mesh):
    """productpage's sidecar sends a DELETE to reviews, which its policy denies (403)."""
    outbound = next(w for w in mesh.state()["workloads"] if w["name"] == "productpage")
    proxy = urllib.request.ProxyHandler({"http": "http://127.0.0.1:%d" % w_port(outbound)})
    opener = urllib.request.build_opener(proxy)
    req = urllib.request.Request("http://reviews:9080/", method="DELETE")
    try:
        opener.open(req, timeout=5)
    except urllib.error.HTTPError as e:
        assert e.code == 403
    else:
        raise AssertionError("the DELETE was not denied")


def w_port(workload):
    return workload["outbound_port"]


def test_the_dashboard_api_shows_edges_rates_and_mtls(mesh):
    dashboard(mesh)  # the first scrape: counts, no rates yet
    traffic(mesh)
    time.sleep(1)
    d = dashboard(mesh)
    edges = {(e["source"], e["destination"]): e for e in d["edges"]}
    gateway = edges[("istio-ingressgateway", "productpage")]
    inner = edges[("productpage", "reviews-v1")]
    assert gateway["requests"] >= 10 and inner["requests"] >= 10
    assert inner["mtls"] is True
    assert inner["rps"] is not None and inner["rps"] > 0
    assert inner["error_percent"] == 0
    proxies = {p["id"]: p for p in d["proxies"]}
    assert set(proxies) == {"istio-ingressgateway.istio-system", "productpage.default",
                            "reviews-v1.default"}
    assert all(p["scraped"] and p["last_response"] == "ACK" for p in proxies.values())
    services = {s["service"]: s for s in d["services"]}
    assert services["productpage.default.svc.cluster.local"]["requests"] >= 10


def test_a_denial_shows_in_the_security_view(mesh):
    deny_once(mesh)
    d = dashboard(mesh)
    denials = [x for x in d["denials"] if x["destination"] == "reviews-v1"]
    assert denials and denials[0]["source"] == "productpage" and denials[0]["code"] == "403"
    assert denials[0]["principal"] == "spiffe://cluster.local/ns/default/sa/productpage"


def test_halyard_dashboard_prints_the_url(mesh):
    r = run_halyard("dashboard", "--log-dir", mesh.log_dir, "--no-open")
    assert r.returncode == 0, r.stderr
    assert "Dashboard: http://%s/" % mesh.state()["control"]["admin"] in r.stdout
    page = urllib.request.urlopen("http://%s/" % mesh.state()["control"]["admin"]).read()
    assert b"Service graph" in page


def test_halyard_dashboard_without_a_control_plane_fails(tmp_path):
    r = run_halyard("dashboard", "--admin", "127.0.0.1:%d" % free_port(), "--no-open")
    assert r.returncode == 1
    assert "no control plane answers" in r.stderr


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (scripts/setup.sh)")
def test_the_page_renders_the_graph_in_chromium(mesh, tmp_path):
    traffic(mesh)
    dashboard(mesh)
    traffic(mesh)
    url = "http://%s/" % mesh.state()["control"]["admin"]
    # --dump-dom prints the DOM once the page's scripts have run for the virtual time budget.
    r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=%s" % (tmp_path / "profile"),
                        "--virtual-time-budget=5000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=60)
    dom = r.stdout
    assert 'data-loaded="true"' in dom, r.stderr[-2000:]
    assert 'class="node" data-name="productpage"' in dom
    assert 'class="node" data-name="reviews-v1"' in dom
    assert 'class="node" data-name="istio-ingressgateway"' in dom
    assert 'data-source="productpage" data-destination="reviews-v1"' in dom
    assert "mTLS" in dom
    assert "reviews-v1.default" in dom  # the proxy table
