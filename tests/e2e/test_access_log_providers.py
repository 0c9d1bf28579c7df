"""MeshConfig envoyFileAccessLog providers (issue 14): the Telemetry API's accessLogging sends each
request to every provider it names, each to its own path in its own logFormat (text, or labels as
JSON), with no --access-log at all; SIGUSR1 reopens the files (log rotation) and a new config that
moves a provider's path writes to the new path. The filter reads any request header."""
import http.client
import json
import os
import pathlib
import signal
import time

import pytest

from proxy_harness import Proxy
import control_harness
from test_control_plane import GATEWAY, SERVICES, shop_route, write
from test_telemetry_api import HOST, backend, config  # noqa: F401 (backend is a fixture)


def mesh_and_telemetry(text_path, json_path):
    return """---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: text-file
      envoyFileAccessLog:
        path: %s
        logFormat:
          text: "%%REQ(:METHOD)%% %%REQ(:PATH)%% %%RESPONSE_CODE%% user=%%REQ(X-USER)%%"
    - name: json-file
      envoyFileAccessLog:
        path: %s
        logFormat:
          labels:
            method: "%%REQ(:METHOD)%%"
            code: "%%RESPONSE_CODE%%"
            user: "%%REQ(x-user)%%"
            authority: "%%REQ(:AUTHORITY)%%"
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: text-file}, {name: json-file}]
    filter:
      expression: request.headers['x-user'] != 'skip'
""" % (text_path, json_path)


def send(proxy, path, user):
    for _ in range(50):  # the backend may still be starting
        try:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            conn.request("GET", path, headers={"Host": HOST, "X-User": user})
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status != 503:
                return r.status
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the backend did not answer")


def wait_for(path, needle, timeout=5):
    """The text of `path` once it contains `needle` (workers flush their lines every second)."""
    deadline = time.time() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        if needle in text or time.time() > deadline:
            return text
        time.sleep(0.1)


def test_two_providers_write_to_their_own_files_in_their_own_formats(tmp_path, backend):
    text_log, json_log = tmp_path / "text.log", tmp_path / "json.log"
    proxy = Proxy(tmp_path, config(backend, mesh_and_telemetry(text_log, json_log)))
    try:
        assert send(proxy, "/first", "alice") == 200
        assert send(proxy, "/skipped", "skip") == 200  # the filter reads X-User
        assert send(proxy, "/last", "bob") == 200
        text = wait_for(text_log, "/last")
        lines = [l for l in text.splitlines() if l.strip()]
        assert "GET /first 200 user=alice" in lines, text
        assert "GET /last 200 user=bob" in lines, text
        assert "/skipped" not in text, text
        records = [json.loads(l) for l in wait_for(json_log, '"bob"').splitlines() if l.strip()]
        assert {"method": "GET", "code": 200, "user": "alice", "authority": HOST} in records, records
        assert {"method": "GET", "code": 200, "user": "bob", "authority": HOST} in records, records
        assert all(r["user"] != "skip" for r in records), records
        # Nothing went to the proxy's stdout: the lines have their own paths.
        assert "/first" not in proxy.output()
    finally:
        proxy.stop()


def open_files(proxy):
    """The paths the proxy holds open."""
    fds = pathlib.Path("/proc/%d/fd" % proxy.proc.pid)
    out = set()
    for fd in fds.iterdir():
        try:
            out.add(os.readlink(fd))
        except OSError:
            pass
    return out


def wait_closed(proxy, path, timeout=5):
    """True once the proxy no longer holds `path` open (its workers let go within a second)."""
    deadline = time.time() + timeout
    while str(path) in open_files(proxy):
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_sigusr1_reopens_and_a_new_path_is_followed(tmp_path, backend):
    text_log, json_log = tmp_path / "text.log", tmp_path / "json.log"
    proxy = Proxy(tmp_path, config(backend, mesh_and_telemetry(text_log, json_log)))
    try:
        assert send(proxy, "/before", "alice") == 200
        assert "/before" in wait_for(text_log, "/before")
        # logrotate: move the file away, then signal; the next lines start a new file.
        rotated = tmp_path / "text.log.1"
        text_log.rename(rotated)
        proxy.proc.send_signal(signal.SIGUSR1)
        # Its main thread reopens the files and says so; a loaded machine can take a while.
        deadline = time.time() + 10
        while "access log files reopened" not in proxy.output() and time.time() < deadline:
            time.sleep(0.05)
        assert send(proxy, "/after", "alice") == 200
        assert "/after" in wait_for(text_log, "/after"), proxy.output()
        assert "/after" not in rotated.read_text()
        assert "/before" not in text_log.read_text()
        assert wait_closed(proxy, rotated), open_files(proxy)  # the rotated file is let go

        # A config whose provider writes elsewhere: the next lines go to the new path.
        moved = tmp_path / "moved.log"
        (proxy.config / "config.yaml").write_text(config(backend, mesh_and_telemetry(moved,
                                                                                     json_log)))
        deadline = time.time() + 10
        while "reloaded" not in proxy.output() and time.time() < deadline:
            time.sleep(0.1)
        assert send(proxy, "/moved", "alice") == 200
        assert "/moved" in wait_for(moved, "/moved"), proxy.output()
        assert "/moved" not in text_log.read_text()
        assert wait_closed(proxy, text_log), open_files(proxy)  # no provider writes there now
    finally:
        proxy.stop()


@pytest.fixture
def pushed(tmp_path):
    """halyard control on a gateway config, and a protocol-level proxy of it."""
    control_config = tmp_path / "control"
    control_config.mkdir()
    write(control_config / "gateway.yaml", GATEWAY)
    write(control_config / "services.yaml", SERVICES)
    write(control_config / "shop.yaml", shop_route("/v1"))
    plane = control_harness.ControlPlane(control_config)
    proxy = control_harness.Proxy(plane)
    yield control_config, proxy
    proxy.close()
    assert plane.stop() == 0, plane.log()


def test_the_control_plane_pushes_the_providers_and_a_changed_path(pushed):
    """The wire field: a proxy of `halyard control` learns each provider's path and format from
    the push, and a MeshConfig edit that moves a path arrives with the next push."""
    control_config, proxy = pushed
    def providers(push):
        return [[(p.name, p.path, p.text) for p in l.telemetry.access_log_providers]
                for l in push.resources.listeners]

    first = proxy.wait_push(1)
    assert providers(first) == [[]]  # no Telemetry yet: the proxy's own --access-log
    write(control_config / "telemetry.yaml",
          mesh_and_telemetry("/var/log/a.log", "/var/log/b.json"))
    second = proxy.wait_push(2)
    text_format = ("%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% user=%REQ(X-USER)%")
    assert providers(second) == [[("text-file", "/var/log/a.log", text_format),
                                  ("json-file", "/var/log/b.json", "")]]
    labels = second.resources.listeners[0].telemetry.access_log_providers[1].labels
    assert [(l.key, l.value) for l in labels][:2] == [("method", "%REQ(:METHOD)%"),
                                                      ("code", "%RESPONSE_CODE%")]
    write(control_config / "telemetry.yaml",
          mesh_and_telemetry("/var/log/moved.log", "/var/log/b.json"))
    third = proxy.wait_push(3)
    assert providers(third)[0][0] == ("text-file", "/var/log/moved.log", text_format)
