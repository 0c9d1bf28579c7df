"""`halyard up --prometheus`: Debian's Prometheus next to the mesh finds every proxy and the
control plane through the control plane's /sd/prometheus, loads the shipped rules, and an
injected fault (a VirtualService abort) makes the 5xx alert go pending, then firing."""
import json
import shutil
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT
from obs_mesh import HOST, write_mesh
from up_harness import Mesh, admin, alive, get

RULES = ROOT / "deploy" / "prometheus"

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None,
                                reason="prometheus is not installed (scripts/setup.sh)")


def api(url, path, **params):
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    with urllib.request.urlopen(url + path + query, timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def fast_rules(tmp):
    """The shipped rules, with the 5xx alert's `for` cut to 10 s so the test sees it fire."""
    out = tmp / "rules"
    out.mkdir()
    for f in RULES.glob("*.yml"):
        if "test" not in f.name:
            shutil.copy(f, out / f.name)
    alerting = out / "alerting_rules.yml"
    text = alerting.read_text()
    marker = "        for: 2m\n        labels:\n          severity: critical\n"
    assert text.count(marker) == 1, "the 5xx alert is no longer the only critical 2m alert"
    alerting.write_text(text.replace(marker, marker.replace("2m", "10s")))
    return out


def wait_for(what, check, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    config = write_mesh(tmp / "mesh")
    m = Mesh(tmp, config, ["--prometheus", "--prometheus-rules", str(fast_rules(tmp)),
                           "--prometheus-interval", "1s"])
    m.config = config
    try:
        m.wait_running()
        wait_for("the gateway to route", lambda: get(m.port, "/", HOST)[0] == 200, 20)
        # Both versions behind the route answer (the first 200 may come from only one of them).
        wait_for("every version to answer",
                 lambda: all(get(m.port, "/", HOST)[0] == 200 for _ in range(10)), 20)
        yield m
    finally:
        m.stop()


def test_up_prints_the_prometheus_url_and_writes_its_config(mesh):
    url = mesh.state()["prometheus"]["url"]
    assert "Prometheus: " + url in mesh.output()
    config = (mesh.log_dir / "prometheus" / "prometheus.yml").read_text()
    control_admin = mesh.state()["control"]["admin"]
    assert "http://%s/sd/prometheus" % control_admin in config
    assert "alerting_rules.yml" in config and "recording_rules.yml" in config
    assert urllib.request.urlopen(url + "/-/ready", timeout=5).status == 200


def test_the_control_plane_lists_every_proxy_for_prometheus(mesh):
    groups = json.loads(admin(mesh.state()["control"]["admin"], "/sd/prometheus"))
    by_name = {g["labels"]["name"]: g for g in groups}
    assert set(by_name) == {"halyard-control", "istio-ingressgateway", "reviews-v1", "reviews-v2",
                            "productpage"}
    for w in mesh.state()["workloads"]:
        g = by_name[w["name"]]
        assert g["targets"] == [w["admin"]]
        assert g["labels"]["__metrics_path__"] == "/stats/prometheus"
        assert g["labels"]["role"] == "sidecar"
        assert g["labels"]["namespace"] == "default"
    assert by_name["reviews-v2"]["labels"]["app"] == "reviews"
    assert by_name["reviews-v2"]["labels"]["version"] == "v2"
    assert by_name["istio-ingressgateway"]["targets"] == [mesh.state()["gateways"][0]["admin"]]
    assert by_name["halyard-control"]["targets"] == [mesh.state()["control"]["admin"]]
    assert by_name["halyard-control"]["labels"]["__metrics_path__"] == "/metrics"


def test_prometheus_scrapes_every_proxy_and_the_control_plane(mesh):
    url = mesh.state()["prometheus"]["url"]
    expected = {"halyard-control", "istio-ingressgateway", "reviews-v1", "reviews-v2",
                "productpage"}

    def healthy():
        targets = api(url, "/api/v1/targets")["activeTargets"]
        up = {t["labels"]["name"] for t in targets if t["health"] == "up"}
        return up if up == expected else None

    wait_for("every target up", healthy, 30)
    # The control plane's own metrics arrive, labelled as the discovery said.
    result = wait_for("halyard_control_proxies", lambda: api(
        url, "/api/v1/query", query='sum(halyard_control_proxies{role="control"})')["result"], 20)
    assert float(result[0]["value"][1]) == 4
    assert api(url, "/api/v1/query", query="halyard_control_push_latency_seconds_count")["result"]


def test_the_shipped_rules_load(mesh):
    url = mesh.state()["prometheus"]["url"]
    groups = {g["name"]: g for g in api(url, "/api/v1/rules")["groups"]}
    for name in ("halyard.workload.aggregates", "halyard.service.aggregates",
                 "halyard.service.alerts", "halyard.config.alerts", "halyard.control.alerts",
                 "halyard.certificate.alerts", "halyard.threat.alerts"):
        assert name in groups, sorted(groups)
    for g in groups.values():
        for r in g["rules"]:
            assert r["health"] != "err", r


def dashboard(mesh, query=""):
    with urllib.request.urlopen("http://%s/api/dashboard%s" % (
            mesh.state()["control"]["admin"], query), timeout=10) as r:
        return json.loads(r.read())


def test_the_dashboard_reads_from_prometheus(mesh):
    """With --prometheus the dashboard's numbers come from Prometheus's query API over the
    recording rules (edge:istio_requests:rate1m, service:istio_requests:rate1m, ...), not from
    the control plane's own scrape; ?source=scrape still asks the proxies directly."""
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                get(mesh.port, "/", HOST, timeout=2)
            except OSError:
                pass
            time.sleep(0.05)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        def rated():
            d = dashboard(mesh)
            assert d["source"] == "prometheus", d
            edges = [e for e in d["edges"] if e["source"] == "istio-ingressgateway"
                     and e["destination"].startswith("reviews-") and (e["rps"] or 0) > 0]
            services = [s for s in d["services"] if (s["rps"] or 0) > 0]
            # A request that failed while the mesh started (a version not ready yet) stays in
            # the one-minute rates until the window has slid past it: wait for a clean window.
            clean = all(e["error_percent"] == 0 and e["requests"] > 0 for e in edges)
            return (d, edges, services) if edges and services and d["proxies"] and clean else None

        d, edges, services = wait_for("error-free rates from Prometheus in the dashboard", rated,
                                      100)
        assert d["prometheus"] == mesh.state()["prometheus"]["url"]
        assert d["prometheus_errors"] == []
        assert all(e["error_percent"] == 0 and e["requests"] > 0 for e in edges)
        assert all(s["p99_ms"] is not None for s in services)
        assert {p["id"] for p in d["proxies"]} == {
            "istio-ingressgateway.istio-system", "reviews-v1.default", "reviews-v2.default",
            "productpage.default"}
        wait_for("every proxy up in Prometheus",
                 lambda: all(p["scraped"] for p in dashboard(mesh)["proxies"]), 20)
        assert dashboard(mesh, "?source=scrape")["source"] == "scrape"
    finally:
        stop.set()
        sender.join()


def test_an_injected_fault_makes_the_5xx_alert_pending_then_firing(mesh):
    url = mesh.state()["prometheus"]["url"]
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                get(mesh.port, "/", HOST, timeout=2)
            except OSError:
                pass
            time.sleep(0.05)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        # Healthy traffic first: the request rate is recorded and nothing fires.
        wait_for("the request rate", lambda: api(
            url, "/api/v1/query", query="service:istio_requests:rate1m")["result"], 30)
        assert not [a for a in api(url, "/api/v1/alerts")["alerts"]
                    if a["labels"]["alertname"] == "HalyardServiceHigh5xxRate"]
        write_mesh(mesh.config, fault=True)
        wait_for("the abort", lambda: get(mesh.port, "/", HOST)[0] == 503, 15)
        seen = []

        def state():
            alerts = [a for a in api(url, "/api/v1/alerts")["alerts"]
                      if a["labels"]["alertname"] == "HalyardServiceHigh5xxRate"]
            for a in alerts:
                if not seen or seen[-1] != a["state"]:
                    seen.append(a["state"])
            return "firing" in seen

        wait_for("the alert to fire", state, 90)
        assert seen[0] == "pending" and "firing" in seen, seen
        firing = next(a for a in api(url, "/api/v1/alerts")["alerts"]
                      if a["labels"]["alertname"] == "HalyardServiceHigh5xxRate")
        assert firing["labels"]["destination_service"] == HOST
        assert firing["labels"]["severity"] == "critical"
    finally:
        stop.set()
        sender.join()


def test_stopping_the_mesh_stops_prometheus(tmp_path):
    config = write_mesh(tmp_path / "mesh")
    m = Mesh(tmp_path, config, ["--prometheus"])
    try:
        m.wait_running()
        pid = m.process("prometheus")["pid"]
        assert alive(pid)
    finally:
        m.stop()
    assert not alive(pid)


def test_a_rules_directory_without_rules_starts_nothing(tmp_path):
    config = write_mesh(tmp_path / "mesh")
    m = Mesh(tmp_path, config, ["--prometheus", "--prometheus-rules", str(tmp_path / "none")])
    try:
        m.proc.wait(30)
    finally:
        m.stop()
    assert m.proc.returncode == 1
    assert "has no rule files" in m.output()
