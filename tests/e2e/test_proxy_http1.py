"""HTTP/1.1 connection management through the real proxy: keep-alive, pipelining, HTTP/1.0
clients, HEAD/204/304, Expect: 100-continue, chunked bodies both ways, bodies of hundreds of MB
in bounded proxy memory, and WebSocket upgrades."""
import http.client
import json
import socket
import subprocess
import time

import pytest

from conftest import BIN
from proxy_backends import EchoBackend, UpgradeBackend
from proxy_harness import (Proxy, free_port, gateway, parse_head, raw_exchange, service,
                           split_responses)

HOST = "h1.example.com"
BIG = 200 * 1024 * 1024


def config(echo, ws):
    vs = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: h1, namespace: default}
spec:
  hosts: [h1.example.com]
  gateways: [h1-gw]
  http:
  - match: [{uri: {prefix: /ws}}]
    route: [{destination: {host: ws}}]
  - route: [{destination: {host: echo}}]
"""
    return "---\n".join([gateway("h1-gw", [HOST]), vs, service("echo", echo.port),
                         service("ws", ws.port)])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    echo, ws = EchoBackend("echo"), UpgradeBackend()
    proxy = Proxy(tmp_path_factory.mktemp("h1"), config(echo, ws))
    yield proxy, echo, ws
    proxy.stop()
    echo.stop()
    ws.stop()


def connect(proxy):
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)


def test_keep_alive_serves_many_requests_on_one_connection(env):
    proxy, _, _ = env
    conn = connect(proxy)
    for i in range(20):
        conn.request("GET", "/k/%d" % i, headers={"Host": HOST})
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["path"] == "/k/%d" % i
    conn.close()


def test_pipelined_requests_are_answered_in_order(env):
    proxy, _, _ = env
    req = ("GET /p/%d HTTP/1.1\r\nHost: " + HOST + "\r\n%s\r\n")
    data = (req % (1, "x-test-delay-ms: 300\r\n") + req % (2, "") +
            req % (3, "Connection: close\r\n")).encode()
    raw, closed = raw_exchange(proxy.port, data, timeout=10)
    assert closed
    responses = split_responses(raw)
    assert [json.loads(r.body)["path"] for r in responses] == ["/p/1", "/p/2", "/p/3"]
    assert responses[-1].headers["connection"] == "close"


def test_http10_client_gets_close_delimited_body_for_chunked_upstream(env):
    proxy, _, _ = env
    raw, closed = raw_exchange(proxy.port, ("GET /old HTTP/1.0\r\nHost: " + HOST +
                                            "\r\nx-test-chunked: 1\r\n\r\n").encode())
    assert closed
    head, _, body = raw.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    assert status == 200
    assert "transfer-encoding" not in headers
    assert json.loads(body)["path"] == "/old"


def test_http10_keep_alive(env):
    proxy, _, _ = env
    req = ("GET /ka HTTP/1.0\r\nHost: " + HOST + "\r\nConnection: keep-alive\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.settimeout(5)
        for _ in range(2):
            s.sendall(req)
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            status, headers = parse_head(head)
            assert status == 200 and headers["connection"] == "keep-alive"
            length = int(headers["content-length"])
            while len(body) < length:
                body += s.recv(65536)


def test_head_204_304_have_no_body_and_keep_the_connection(env):
    proxy, _, _ = env
    conn = connect(proxy)
    conn.request("HEAD", "/head", headers={"Host": HOST})
    r = conn.getresponse()
    assert r.status == 200 and int(r.getheader("content-length")) > 0
    assert r.read() == b""
    for status in (204, 304):
        conn.request("GET", "/s", headers={"Host": HOST, "x-test-status": str(status)})
        r = conn.getresponse()
        assert r.status == status and r.read() == b""
    conn.request("GET", "/after", headers={"Host": HOST})
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/after"
    conn.close()


@pytest.mark.parametrize("length", [10, 100_000])  # buffered for replay, and streamed
def test_expect_100_continue(env, length):
    proxy, echo, _ = env
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.settimeout(5)
        s.sendall(("POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                   "Expect: 100-continue\r\n\r\n" % (HOST, length)).encode())
        interim = s.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        s.sendall(b"b" * length)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        while len(body) < int(headers["content-length"]):
            body += s.recv(65536)
    assert status == 200
    seen = json.loads(body)
    assert seen["body_bytes"] == length
    assert "expect" not in seen["headers"]


def test_chunked_both_ways(env):
    proxy, _, _ = env
    conn = connect(proxy)
    parts = [b"a" * 1000, b"b" * 70000, b"c"]
    conn.request("POST", "/chunked", body=iter(parts), encode_chunked=True,
                 headers={"Host": HOST, "x-test-chunked": "1", "Transfer-Encoding": "chunked"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("transfer-encoding") == "chunked"
    seen = json.loads(r.read())
    assert seen["chunked"] is True
    assert seen["body_bytes"] == sum(map(len, parts))
    conn.close()


def stream(total, block=1 << 16):
    chunk = b"z" * block
    left = total
    while left:
        n = min(left, block)
        yield chunk[:n]
        left -= n


@pytest.mark.parametrize("chunked", [False, True])
def test_large_upload_streams_in_bounded_memory(env, chunked):
    proxy, _, _ = env
    conn = connect(proxy)
    headers = {"Host": HOST}
    if not chunked:
        headers["Content-Length"] = str(BIG)
    conn.request("POST", "/big-upload", body=stream(BIG), encode_chunked=chunked, headers=headers)
    r = conn.getresponse()
    seen = json.loads(r.read())
    conn.close()
    assert r.status == 200
    assert seen["body_bytes"] == BIG and seen["chunked"] == chunked
    assert proxy.rss_kb("VmHWM") < 64 * 1024, "proxy peak RSS %d kB" % proxy.rss_kb("VmHWM")


@pytest.mark.parametrize("chunked", [False, True])
def test_large_download_streams_in_bounded_memory(env, chunked):
    proxy, _, _ = env
    conn = connect(proxy)
    headers = {"Host": HOST, "x-test-body-size": str(BIG)}
    if chunked:
        headers["x-test-chunked"] = "1"
    conn.request("GET", "/big-download", headers=headers)
    r = conn.getresponse()
    assert r.status == 200
    total = 0
    while True:
        piece = r.read(1 << 20)
        if not piece:
            break
        total += len(piece)
    conn.close()
    assert total == BIG
    assert proxy.rss_kb("VmHWM") < 64 * 1024, "proxy peak RSS %d kB" % proxy.rss_kb("VmHWM")


def test_websocket_upgrade_splices_bytes_both_ways(env):
    proxy, _, ws = env
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.settimeout(5)
        s.sendall(("GET /ws/chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % HOST).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, rest = data.partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        assert status == 101
        assert headers["upgrade"] == "websocket"
        assert headers["connection"].lower() == "upgrade"
        for message in (b"hello", b"\x81\x05world", b"x" * 100000):
            s.sendall(message)
            got = rest
            rest = b""
            while len(got) < len(message):
                got += s.recv(65536)
            assert got == message
    upstream_head = ws.heads[-1].lower()
    assert "upgrade: websocket" in upstream_head
    assert "sec-websocket-key: dghlihnhbxbszsbub25jzq==" in upstream_head


def test_request_line_and_header_limits(env):
    proxy, _, _ = env
    raw, closed = raw_exchange(proxy.port, ("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: " + HOST +
                                            "\r\n\r\n").encode())
    assert raw.startswith(b"HTTP/1.1 414 ") and closed
    raw, closed = raw_exchange(proxy.port, ("GET / HTTP/1.1\r\nHost: " + HOST + "\r\nx-big: " +
                                            "b" * 70000 + "\r\n\r\n").encode())
    assert raw.startswith(b"HTTP/1.1 431 ") and closed


@pytest.mark.parametrize("body_size", [1000, 300_000])
def test_large_request_head_with_body(env, body_size):
    # A head that fills most of the first buffer makes the proxy grow it (and re-parse the head)
    # before streaming the body.
    proxy, _, _ = env
    conn = connect(proxy)
    conn.request("POST", "/big-head", body=b"q" * body_size,
                 headers={"Host": HOST, "x-filler": "f" * 14000, "x-echo-x-filler-len": "14000"})
    r = conn.getresponse()
    seen = json.loads(r.read())
    conn.close()
    assert r.status == 200
    assert seen["body_bytes"] == body_size
    assert len(seen["headers"]["x-filler"]) == 14000
    assert r.getheader("x-filler-len") == "14000"


def test_admin_port_is_not_shared(env, tmp_path):
    proxy, echo, ws = env
    out = subprocess.run([str(BIN / "halyard-proxy"), "--config", str(proxy.config),
                          "--port-map", "80=%d" % free_port(),
                          "--admin", "127.0.0.1:%d" % proxy.admin_port],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "--admin" in out.stderr


def test_local_reply_detail_status_hides_the_cause_from_clients(tmp_path):
    # An internet-facing gateway: its own answers say only the status; the access log keeps why.
    echo, ws = EchoBackend("echo"), UpgradeBackend()
    log = tmp_path / "access.log"
    proxy = Proxy(tmp_path, config(echo, ws),
                  extra_args=("--local-reply-detail", "status", "--access-log", str(log),
                              "--access-log-format", "json"))
    try:
        c = connect(proxy)
        c.request("GET", "/nothing", headers={"Host": "unknown.example.com"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 404
        assert r.getheader("x-halyard-reason") is None
        assert body == b"Not Found\n"
        c.request("GET", "/ok", headers={"Host": HOST})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        c.close()
        deadline = time.time() + 5
        entries = []
        while time.time() < deadline:
            entries = [json.loads(l) for l in log.read_text().splitlines()
                       if l.startswith("{")] if log.exists() else []
            if any(e.get("path") == "/nothing" for e in entries):
                break
            time.sleep(0.1)
        miss = [e for e in entries if e.get("path") == "/nothing"]
        assert miss and miss[-1]["response_flags"] == "NR"
        assert miss[-1]["response_code_details"] == "route_not_found"
    finally:
        proxy.stop()
        echo.stop()
        ws.stop()
