"""The classic canary under `halyard up`: one Service over two Workloads told apart by their
`version` label, a DestinationRule with the versions as subsets and a VirtualService splitting
between them (fixtures/canary). The Workloads are the directory's pods, so the subsets select
them: `halyard analyze` finds nothing (no IST0173) and `halyard up` runs it."""
import time

import pytest

from conftest import ROOT, run_halyard
from up_harness import Mesh, get

CANARY = ROOT / "tests" / "e2e" / "fixtures" / "canary"
HOST = "reviews.example.com"


def canary_copy(tmp):
    """The fixture in tmp with the app's path made absolute (the copy is elsewhere)."""
    out = tmp / "canary"
    out.mkdir()
    text = (CANARY / "mesh.yaml").read_text().replace(
        "../../../../samples/apps/echo_app.py", str(ROOT / "samples" / "apps" / "echo_app.py"))
    (out / "mesh.yaml").write_text(text)
    return out


def test_analyze_finds_the_canary_clean():
    r = run_halyard("analyze", CANARY)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IST0173" not in r.stdout + r.stderr
    assert "no validation issues found" in r.stdout + r.stderr


def test_a_subset_selecting_no_workload_is_still_ist0173(tmp_path):
    d = canary_copy(tmp_path)
    (d / "mesh.yaml").write_text((d / "mesh.yaml").read_text().replace(
        "labels: {version: v2}", "labels: {version: v3}"))
    r = run_halyard("analyze", d)
    assert r.returncode != 0
    assert "IST0173" in r.stdout and "Subset v2" in r.stdout, r.stdout


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canary")
    m = Mesh(tmp, canary_copy(tmp))
    try:
        m.wait_running()
        deadline = time.time() + 15
        while time.time() < deadline and get(m.port, "/", HOST)[0] != 200:
            time.sleep(0.2)
        yield m
    finally:
        m.stop()


def test_halyard_up_runs_the_canary_and_splits_traffic_by_subset(mesh):
    assert "IST0173" not in mesh.output()
    chains = []
    for _ in range(60):
        status, body = get(mesh.port, "/", HOST)
        assert status == 200, body
        chains.append(body["chain"][-1])
    # 80/20 between v1 and v2: both answer, v1 most.
    assert set(chains) == {"reviews-v1", "reviews-v2"}, chains
    assert chains.count("reviews-v1") > chains.count("reviews-v2")


def test_the_header_match_picks_the_v2_subset(mesh):
    import http.client
    for _ in range(10):
        conn = http.client.HTTPConnection("127.0.0.1", mesh.port, timeout=5)
        conn.request("GET", "/", headers={"Host": HOST, "x-canary": "yes"})
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        assert r.status == 200 and '"reviews-v2"' in body, body
