"""The seed scenario with a standalone gateway: the seed's two Istio files unchanged
(samples/pirata/deploy-*.yaml) plus static Service + Endpoints (fixtures/pirata-standalone),
served by halyard-proxy --config, with the five sample apps (samples/apps/echo_app.py) as real
processes on ports this test picks. The same mesh under `halyard up` is test_up.py."""
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from proxy_harness import Proxy, curl, free_port, wait_listening

API_HOST = "pirata.20.88.189.150.nip.io"
FRONT_HOST = "piratafront.20.88.189.150.nip.io"
APPS = {"items-api": 9081, "uploader-api": 9082, "ai-api": 9083, "front": 9084, "front-v2": 9085}


@pytest.fixture(scope="module")
def pirata(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pirata")
    config = tmp / "pirata"
    config.mkdir()
    for seed_file in (ROOT / "samples" / "pirata").glob("deploy-*.yaml"):
        shutil.copy(seed_file, config)
    services = (ROOT / "tests" / "e2e" / "fixtures" / "pirata-standalone" /
                "services.yaml").read_text()
    procs = []
    # Distinct ports, substituted in one pass on whole numbers: replacing one port after another
    # could rewrite part of a port chosen earlier (9084 inside 39084).
    ports = {}
    while len(set(ports.values())) < len(APPS):
        ports = {name: free_port() for name in APPS}
    by_seed_port = {str(seed_port): str(ports[name]) for name, seed_port in APPS.items()}
    services = re.sub(r"\b(%s)\b" % "|".join(by_seed_port), lambda m: by_seed_port[m.group(1)],
                      services)
    for name, port in ports.items():
        procs.append(subprocess.Popen(
            ["/usr/bin/python3", str(ROOT / "samples" / "apps" / "echo_app.py"), "--name", name,
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    (config / "services.yaml").write_text(services)
    proxy = Proxy(tmp, config)
    for port in ports.values():  # the apps bind while the proxy starts
        wait_listening(port)
    yield proxy
    proxy.stop()
    for p in procs:
        p.terminate()
        p.wait()


def test_api_items_is_answered_by_items_api(pirata):
    r = curl(pirata.port, "/api/items", API_HOST)
    assert r.status == 200, r
    body = r.json()
    assert body["service"] == "items-api"
    assert body["path"] == "/api/items"
    assert body["host"] == API_HOST
    assert body["headers"]["x-forwarded-proto"] == "http"
    assert body["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert len(body["headers"]["x-request-id"]) == 36
    assert "x-envoy-upstream-service-time" in r.headers


def test_upload_and_predict_routes(pirata):
    r = curl(pirata.port, "/upload", API_HOST, "--data-binary", "photo-bytes")
    assert r.status == 200 and r.json()["service"] == "uploader-api"
    assert r.json()["body_bytes"] == len("photo-bytes")
    r = curl(pirata.port, "/predict", API_HOST)
    assert r.status == 200 and r.json()["service"] == "ai-api"


def test_front_gets_all_traffic_of_a_100_0_split(pirata):
    served = {curl(pirata.port, "/", FRONT_HOST).json()["service"] for _ in range(20)}
    assert served == {"front"}


def test_unrouted_path_is_404_nr_with_reason(pirata):
    r = curl(pirata.port, "/nothing-here", API_HOST)
    assert r.status == 404
    assert r.headers["x-halyard-reason"] == "no route for host %s path /nothing-here" % API_HOST
    assert r.body.strip() == r.headers["x-halyard-reason"]


def test_unknown_host_is_404_nr(pirata):
    r = curl(pirata.port, "/api/items", "shop.example.com")
    assert r.status == 404
    assert r.headers["x-halyard-reason"].startswith("no route for host shop.example.com path /api/items")


def test_admin_endpoints(pirata):
    assert pirata.admin("/ready").strip() == "LIVE"
    curl(pirata.port, "/api/items", API_HOST)
    assert "items-api-svc.default.svc.cluster.local" in pirata.admin("/clusters")
    assert '"virtual_hosts"' in pirata.admin("/config_dump")
    metrics = pirata.admin("/stats/prometheus")
    assert "istio_requests_total" in metrics
