"""Every entry of a Telemetry's accessLogging applies (issue 14), under `halyard up`: a gateway in
front of productpage, which calls reviews. One entry logs the CLIENT side (the gateway and
productpage's outbound call) to one file, another logs the SERVER side (both inbound hops) to
another file, filtered on the request id; a third entry names the client provider again with a
filter of its own, and a request still reaches that provider once per hop (Istio merges the
entries per provider; the later one decides its filter)."""
import secrets
import time

import pytest

from conftest import ROOT
from obs_mesh import PRODUCTPAGE_MESH
from proxy_harness import free_port
from up_harness import Mesh

ECHO = ROOT / "samples" / "apps" / "echo_app.py"
HOST = "shop.example.com"
FORMAT = "%REQ(X-REQUEST-ID)% %UPSTREAM_CLUSTER% %REQ(:PATH)% %RESPONSE_CODE%"

MESH = """apiVersion: v1
kind: ConfigMap
metadata: {{name: istio, namespace: istio-system}}
data:
  mesh: |
    extensionProviders:
    - name: client-file
      envoyFileAccessLog:
        path: {client_log}
        logFormat: {{text: "{format}"}}
    - name: server-file
      envoyFileAccessLog:
        path: {server_log}
        logFormat: {{text: "{format}"}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {{name: mesh-default, namespace: istio-system}}
spec:
  accessLogging:
  - match: {{mode: CLIENT}}
    providers: [{{name: client-file}}]
  - match: {{mode: SERVER}}
    providers: [{{name: server-file}}]
    filter:
      expression: "request.headers['x-request-id'].startsWith('keep-')"
  - match: {{mode: CLIENT}}
    providers: [{{name: client-file}}]
    filter:
      expression: "request.method == 'GET'"
---
""" + PRODUCTPAGE_MESH


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access_log_entries")
    config = tmp / "mesh"
    config.mkdir()
    logs = {"client": tmp / "client.log", "server": tmp / "server.log"}
    (config / "mesh.yaml").write_text(MESH.format(
        client_log=logs["client"], server_log=logs["server"], format=FORMAT,
        productpage=free_port(), reviews=free_port(), echo=ECHO, host=HOST))
    m = Mesh(tmp, config)
    try:
        m.wait_running()
        yield m, logs
    finally:
        m.stop()


def request(mesh, path, request_id):
    """One request through the gateway, retried while the mesh is still starting."""
    import http.client
    deadline = time.time() + 30
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", mesh.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": HOST, "X-Request-Id": request_id})
            r = conn.getresponse()
            body = r.read().decode()
            if r.status == 200 and "reviews" in body:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if time.time() > deadline:
            raise AssertionError("no answer through the mesh:\n" + mesh.logs())
        time.sleep(0.2)


def lines_of(path, request_id, count, timeout=10):
    """The lines of `path` for `request_id` once there are `count` (workers flush every second),
    and a little longer, so that an extra line would show."""
    deadline = time.time() + timeout
    settle = None
    while True:
        text = path.read_text() if path.exists() else ""
        found = [l.split() for l in text.splitlines() if l.startswith(request_id + " ")]
        if len(found) >= count and settle is None:
            settle = time.time() + 1.5
        if (settle and time.time() > settle) or time.time() > deadline:
            return found


def test_each_entry_logs_its_side_to_its_provider_with_its_filter(mesh):
    m, logs = mesh
    # A warm-up request (retried until the mesh answers), then the two that are checked.
    request(m, "/warm", "warm-" + secrets.token_hex(4))
    keep, drop = "keep-" + secrets.token_hex(6), "drop-" + secrets.token_hex(6)
    request(m, "/first", keep)
    request(m, "/second", drop)

    # CLIENT side: the gateway's hop and productpage's call to reviews, each once, whatever the
    # id (the first entry has no filter; the third names the provider again, for GET).
    for request_id, path in ((keep, "/first"), (drop, "/second")):
        client = lines_of(logs["client"], request_id, 2)
        clusters = sorted(line[1] for line in client)
        assert clusters == ["outbound|9080||productpage.default.svc.cluster.local",
                            "outbound|9080||reviews.default.svc.cluster.local"], client
        gateway_hop = next(l for l in client if "productpage" in l[1])
        assert gateway_hop[2:] == [path, "200"], client

    # SERVER side: both inbound hops of the request whose id passes the filter, nothing of the
    # other; and no client-side line went to the server's file.
    server = lines_of(logs["server"], keep, 2)
    assert len(server) == 2, server
    assert all(line[1].startswith("inbound|") for line in server), server
    assert sorted(line[2] for line in server) == ["/", "/first"], server
    assert lines_of(logs["server"], drop, 1, timeout=2) == []
    text = logs["server"].read_text()
    assert "outbound|" not in text, text
    assert "inbound|" not in logs["client"].read_text()
