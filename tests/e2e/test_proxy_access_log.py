"""The access log format switches at runtime from the admin listener (/logging?format=...)."""
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import BIN, ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_ready(admin):
    for _ in range(100):
        try:
            if get("http://%s/ready" % admin)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("halyard-proxy did not become ready")


def test_access_log_format_switches_at_runtime(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "samples" / "pirata", config)
    app_port, port, admin = free_port(), free_port(), "127.0.0.1:%d" % free_port()
    services = (ROOT / "tests/e2e/fixtures/pirata-standalone/services.yaml").read_text().replace(
        "9081", str(app_port))
    (config / "services.yaml").write_text(services)
    log = tmp_path / "access.log"
    app = subprocess.Popen(["/usr/bin/python3", str(ROOT / "samples/apps/echo_app.py"),
                            "--name", "items-api", "--port", str(app_port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([str(BIN / "halyard-proxy"), "--config", str(config),
                              "--port-map", "80=%d" % port, "--admin", admin, "--workers", "1",
                              "--access-log", str(log)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(admin)
        host = "pirata.20.88.189.150.nip.io"
        url = "http://127.0.0.1:%d/api/" % port
        for _ in range(50):  # the echo app may still be starting
            if get(url + "text", host)[0] == 200:
                break
            time.sleep(0.1)
        # The line is written by the worker after the response went out, and flushed on a
        # timer: wait for it before switching, or the switch may overtake it.
        deadline = time.time() + 5
        while "/api/text" not in log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert get("http://%s/logging?format=json" % admin) == (200, "access log format: json\n")
        assert get(url + "json", host)[0] == 200
        # The same for the JSON line: a switch to off before the worker wrote it would drop it.
        deadline = time.time() + 5
        while "/api/json" not in log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert get("http://%s/logging?format=off" % admin)[0] == 200
        assert get(url + "silent", host)[0] == 200
        assert get("http://%s/logging?format=xml" % admin)[0] == 400
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        app.terminate()
        app.wait(timeout=10)
    lines = log.read_text().splitlines()
    text_lines = [l for l in lines if l.startswith("[") and "/api/text" in l]
    json_lines = [json.loads(l) for l in lines if l.startswith("{")]
    assert text_lines, lines
    assert any(j["path"] == "/api/json" and j["response_code"] == 200 for j in json_lines), lines
    assert not any("/api/silent" in l for l in lines)
