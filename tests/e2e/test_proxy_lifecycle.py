"""The halyard-proxy process: startup errors (a bad config names file:line, a port in use) end it
with exit code 1; SIGHUP, or a change of the files, reloads the config directory (requests in
flight keep the snapshot they started with, a broken config is rejected and the old one keeps
serving); SIGTERM drains (requests in flight finish, then the process exits 0)."""
import http.client
import json
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN
from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, free_port, gateway, service

HOST = "life.example.com"


def config(target, v1, v2):
    vs = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: life, namespace: default}
spec:
  hosts: [life.example.com]
  gateways: [life-gw]
  http:
  - route: [{destination: {host: %s}}]
""" % target
    return "---\n".join([gateway("life-gw", [HOST]), vs, service("v1", v1.port),
                         service("v2", v2.port)])


@pytest.fixture
def backends():
    v1, v2 = EchoBackend("v1"), EchoBackend("v2")
    yield v1, v2
    v1.stop()
    v2.stop()


def test_config_error_names_file_and_line_and_exits_1(tmp_path):
    (tmp_path / "vs.yaml").write_text("""apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: bad, namespace: default}
spec:
  hosts: [a.example.com]
  http:
  - route:
    - destination: {host: x}
      weight: lots
""")
    out = subprocess.run([str(BIN / "halyard-proxy"), "--config", str(tmp_path),
                          "--port-map", "80=%d" % free_port()], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert "vs.yaml:9:" in out.stderr
    assert "weight" in out.stderr


def test_port_in_use_exits_1(tmp_path, backends):
    v1, v2 = backends
    (tmp_path / "c.yaml").write_text(config("v1", v1, v2))
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out = subprocess.run([str(BIN / "halyard-proxy"), "--config", str(tmp_path),
                              "--port-map", "80=%d" % port], capture_output=True, text=True,
                             timeout=30)
    assert out.returncode == 1
    assert "cannot bind" in out.stderr


def test_sighup_reloads_and_keeps_requests_in_flight(tmp_path, backends):
    v1, v2 = backends
    proxy = Proxy(tmp_path, config("v1", v1, v2))
    try:
        assert curl(proxy.port, "/", HOST).json()["service"] == "v1"
        slow = {}

        def in_flight():
            slow["r"] = curl(proxy.port, "/slow", HOST, "-H", "x-test-delay-ms: 800")

        t = threading.Thread(target=in_flight)
        t.start()
        time.sleep(0.2)
        (proxy.config / "config.yaml").write_text(config("v2", v1, v2))
        proxy.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while curl(proxy.port, "/", HOST).json()["service"] != "v2":
            assert time.time() < deadline, "reload did not take effect"
            time.sleep(0.05)
        t.join()
        assert slow["r"].json()["service"] == "v1"

        # A broken config is rejected whole; v2 keeps serving.
        (proxy.config / "config.yaml").write_text("kind: VirtualService\nspec: [\n")
        proxy.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert curl(proxy.port, "/", HOST).json()["service"] == "v2"
        assert "rejected" in proxy.output()
    finally:
        proxy.stop()


def test_changed_files_are_reloaded_without_a_signal(tmp_path, backends):
    v1, v2 = backends
    proxy = Proxy(tmp_path, config("v1", v1, v2), extra_args=["--watch-interval-ms", "100"])
    try:
        assert curl(proxy.port, "/", HOST).json()["service"] == "v1"
        (proxy.config / "config.yaml").write_text(config("v2", v1, v2))
        deadline = time.time() + 5
        while curl(proxy.port, "/", HOST).json()["service"] != "v2":
            assert time.time() < deadline, "the change was not picked up"
            time.sleep(0.05)
        assert "serving config version 2" in proxy.output()
    finally:
        proxy.stop()


def test_sigterm_drains_requests_in_flight(tmp_path, backends):
    v1, v2 = backends
    proxy = Proxy(tmp_path, config("v1", v1, v2))
    idle = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    idle.request("GET", "/warm", headers={"Host": HOST})
    assert idle.getresponse().read()
    result = {}

    def in_flight():
        result["r"] = curl(proxy.port, "/slow", HOST, "-H", "x-test-delay-ms: 700")

    t = threading.Thread(target=in_flight)
    t.start()
    time.sleep(0.2)
    proxy.proc.send_signal(signal.SIGTERM)
    t.join()
    assert result["r"].status == 200
    assert result["r"].headers.get("connection") == "close"
    assert proxy.proc.wait(timeout=10) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    idle.close()
    proxy.stop()
