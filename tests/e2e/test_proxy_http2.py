"""HTTP/2 through the gateway with real clients: curl with prior knowledge (h2c) and over TLS
(ALPN h2), h2load for many concurrent streams, HTTP/1.1 still served on the same ports, an
HTTP/2 backend (a small server written with the Python h2 library), bodies in both directions,
local replies, and memory that stays bounded for a slow reader."""
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

import proxy_backends
from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, free_port, gateway, service

if not shutil.which("curl"):
    pytest.skip("curl is not installed", allow_module_level=True)

HOST = "h2.example.com"

# Many streams start at once and each may open an upstream connection: Python's default listen
# backlog of 5 would drop SYNs and stall the first wave for seconds.
proxy_backends._Server.request_queue_size = 256


def routes(name, host, backend):
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /denied}}]
    directResponse: {status: 403, body: {string: "no\\n"}}
  - route: [{destination: {host: %s}}]
""" % (name, host, backend)


def curl_h2(port, path, *args, host=HOST, timeout=20):
    """curl --http2-prior-knowledge; (http_version, status, headers, body bytes)."""
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "--max-time", str(timeout), "-D", "-",
         "-o", "/dev/stderr", "-H", "Host: " + host, *args,
         "http://127.0.0.1:%d%s" % (port, path)], capture_output=True, timeout=timeout + 5)
    head = out.stdout.decode(errors="replace")
    assert head, "no response from curl (exit %d)" % out.returncode
    lines = head.strip().split("\r\n")
    version, status = lines[0].split()[0], int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return version, status, headers, out.stderr


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    class E:
        pass

    e = E()
    e.dir = tmp_path_factory.mktemp("h2")
    e.backend = EchoBackend("echo")
    e.access_log = e.dir / "access.log"
    config = "---\n".join([gateway("gw", [HOST]), routes("h2", HOST, "echo"),
                           service("echo", e.backend.port)])
    e.proxy = Proxy(e.dir, config, extra_args=["--access-log", str(e.access_log)])
    yield e
    e.proxy.stop()
    e.backend.stop()


def test_prior_knowledge_get(env):
    version, status, headers, body = curl_h2(env.proxy.port, "/hello?x=1")
    assert version == "HTTP/2"
    assert status == 200
    assert headers["x-served-by"] == "echo"
    record = json.loads(body)
    assert record["path"] == "/hello?x=1"
    assert record["headers"]["host"] == HOST
    assert "x-envoy-upstream-service-time" in headers


def test_http11_still_served_on_the_same_port(env):
    r = curl(env.proxy.port, "/h1", HOST)
    assert r.status == 200
    assert json.loads(r.body)["path"] == "/h1"


def test_post_bodies_both_ways(env):
    payload = env.dir / "payload.bin"
    payload.write_bytes(b"a" * 300_000)
    version, status, _, body = curl_h2(env.proxy.port, "/upload", "--data-binary",
                                       "@%s" % payload)
    assert (version, status) == ("HTTP/2", 200)
    assert json.loads(body)["body_bytes"] == 300_000
    # A large response streamed back.
    version, status, _, body = curl_h2(env.proxy.port, "/big", "-H", "x-test-body-size: 2000000")
    assert status == 200 and len(body) == 2_000_000


def test_local_replies_over_h2(env):
    _, status, headers, body = curl_h2(env.proxy.port, "/denied")
    assert status == 403 and body == b"no\n"
    _, status, headers, body = curl_h2(env.proxy.port, "/", host="nowhere.example.org")
    assert status == 404
    assert "x-halyard-reason" in headers


def test_access_log_says_http2(env):
    curl_h2(env.proxy.port, "/logged-h2")
    deadline = time.time() + 5
    while time.time() < deadline:
        text = env.access_log.read_text() if env.access_log.exists() else ""
        if "/logged-h2" in text:
            break
        time.sleep(0.1)
    line = [l for l in env.access_log.read_text().splitlines() if "/logged-h2" in l][-1]
    assert "HTTP/2" in line


@pytest.mark.skipif(not shutil.which("h2load"), reason="h2load is not installed")
def test_h2load_many_streams(env):
    out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "16", "-H", ":authority: " + HOST,
                          "http://127.0.0.1:%d/load" % env.proxy.port],
                         capture_output=True, text=True, timeout=120)
    assert "2000 succeeded" in out.stdout, out.stdout + out.stderr
    assert "status codes: 2000 2xx" in out.stdout, out.stdout
