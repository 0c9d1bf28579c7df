"""Mirrors to an HTTP/2 cluster go out as HTTP/2: the copy is a stream on the proxy's shared
HTTP/2 connection to the mirror host, as the original request to such a cluster would be. The
mirror backend only speaks HTTP/2 (prior knowledge), so an HTTP/1.1 copy would never reach it."""
import shutil
import time

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, gateway, service
from test_proxy_http2 import H2Backend, curl_h2, h2_service

if not shutil.which("curl"):
    pytest.skip("curl is not installed", allow_module_level=True)

HOST = "mirrored.example.com"


def config(echo_port, h2_port):
    return "---\n".join([gateway("gw", [HOST]), """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mirrored, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - route: [{destination: {host: echo}}]
    mirror: {host: h2b}
    mirrorPercentage: {value: 100}
""" % HOST, service("echo", echo_port), h2_service("h2b", h2_port)])


def wait_for_path(backend, path, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for head in list(backend.requests):
            if head.get(":path") == path:
                return head
        time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    class E:
        pass

    e = E()
    e.echo = EchoBackend("echo")
    e.h2 = H2Backend()
    e.proxy = Proxy(tmp_path_factory.mktemp("h2mirror"), config(e.echo.port, e.h2.port))
    yield e
    e.proxy.stop()
    e.echo.stop()
    e.h2.stop()


def test_mirror_to_an_http2_cluster_from_an_http11_client(env):
    r = curl(env.proxy.port, "/from-h1?x=1", HOST, "--data-binary", "hello")
    assert r.status == 200, r
    head = wait_for_path(env.h2, "/from-h1?x=1")
    assert head is not None, "the HTTP/2 mirror backend never got the copy: %r" % env.h2.requests
    assert head[":method"] == "POST"
    assert head[":authority"].startswith(HOST), head
    # The copy goes as HTTP/2 fields: no Host, no hop-by-hop fields, the body's length kept.
    assert "host" not in head and "connection" not in head, head
    assert head.get("content-length") == "5", head


def test_mirror_to_an_http2_cluster_from_an_http2_client(env):
    _, status, _, _ = curl_h2(env.proxy.port, "/from-h2", host=HOST)
    assert status == 200
    assert wait_for_path(env.h2, "/from-h2") is not None, env.h2.requests
    # The primary answered as usual: the echo backend, not the mirror.
    r = curl(env.proxy.port, "/primary", HOST)
    assert r.status == 200 and "h2-backend" not in r.headers.get("server", ""), r
