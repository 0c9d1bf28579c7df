"""Malformed and ambiguous requests (the request-smuggling family) through the real proxy: each
is answered with 400 (501 for a transfer coding the proxy does not implement) and the
connection closes, nothing ambiguous reaches the upstream, and other clients keep being served.
Slow clients (slow loris) are cut off by the request-header timeout without starving others,
and idle keep-alive connections by the idle timeout."""
import http.client
import socket
import threading
import time

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, gateway, raw_exchange, service

HOST = "smuggle.example.com"


def config(echo):
    vs = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: smuggle, namespace: default}
spec:
  hosts: [smuggle.example.com]
  gateways: [smuggle-gw]
  http:
  - route: [{destination: {host: echo}}]
"""
    return "---\n".join([gateway("smuggle-gw", [HOST]), vs, service("echo", echo.port)])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    echo = EchoBackend("echo")
    proxy = Proxy(tmp_path_factory.mktemp("smuggle"), config(echo),
                  extra_args=["--request-headers-timeout-ms", "1000", "--idle-timeout-ms", "1500"])
    yield proxy, echo
    proxy.stop()
    echo.stop()


H = "Host: " + HOST + "\r\n"
CASES = {
    "cl_and_te": "POST / HTTP/1.1\r\n" + H + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_twice": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_not_final": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "te_unknown": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "te_in_http10": "POST / HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl_conflict": "POST / HTTP/1.1\r\n" + H + "Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
    "cl_sign": "POST / HTTP/1.1\r\n" + H + "Content-Length: +3\r\n\r\nabc",
    "cl_not_number": "POST / HTTP/1.1\r\n" + H + "Content-Length: 3x\r\n\r\nabc",
    "space_before_colon": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "obs_fold": "GET / HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n",
    "bare_lf": "GET / HTTP/1.1\n" + H + "\n",
    "lf_in_headers": "GET / HTTP/1.1\r\n" + H + "X-A: a\nX-B: b\r\n\r\n",
    "missing_host": "GET / HTTP/1.1\r\n\r\n",
    "two_hosts": "GET / HTTP/1.1\r\n" + H + "Host: other.example.com\r\n\r\n",
    "nul_in_value": "GET / HTTP/1.1\r\n" + H + "X-A: a\x00b\r\n\r\n",
    "bad_chunk_size": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "chunk_size_overflow": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n"
                           "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "chunk_missing_crlf": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    "bad_method": "G(T / HTTP/1.1\r\n" + H + "\r\n",
    "bad_version": "GET / HTTP/1.x\r\n" + H + "\r\n",
    "space_in_target": "GET /a b HTTP/1.1\r\n" + H + "\r\n",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ambiguous_request_is_rejected_and_closed(env, case):
    proxy, echo = env
    before = [r["path"] for r in echo.requests]
    raw, closed = raw_exchange(proxy.port, CASES[case].encode("latin-1"))
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0
    expected = 501 if case == "te_unknown" else 400
    assert status == expected, raw
    assert closed, "the proxy kept the connection open after " + case
    assert b"x-halyard-reason: " in raw
    # Nothing ambiguous reached the upstream; a chunked body that turns out malformed may have
    # had its head forwarded, but never a completed request.
    assert all(r["body_bytes"] == 0 for r in echo.requests[len(before):])
    # Other clients are still served.
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    conn.request("GET", "/still-alive", headers={"Host": HOST})
    assert conn.getresponse().status == 200
    conn.close()


def test_bytes_after_a_complete_request_are_a_new_request(env):
    proxy, echo = env
    data = ("POST /first HTTP/1.1\r\n" + H + "Content-Length: 0\r\n\r\n"
            "GARBAGE /x HTTP/1.1\r\n\r\n").encode()
    raw, closed = raw_exchange(proxy.port, data)
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 400 " in raw and closed
    assert echo.requests[-1]["path"] == "/first"


def test_slow_loris_clients_time_out_while_others_are_served(env):
    proxy, _ = env
    slow = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.sendall(b"GET / HTTP/1.1\r\n")
        slow.append(s)
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            for s in slow:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(0.2)

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        for _ in range(10):
            conn.request("GET", "/fast", headers={"Host": HOST})
            assert conn.getresponse().read()
        conn.close()
        assert time.monotonic() - start < 1.0
        answered = 0
        for s in slow:
            s.settimeout(5)
            data = b""
            try:
                while True:
                    got = s.recv(65536)
                    if not got:
                        break
                    data += got
            except OSError:
                pass
            answered += data.startswith(b"HTTP/1.1 408 ")
        assert answered == len(slow)
        assert time.monotonic() - start < 4.0
    finally:
        stop.set()
        dripper.join()
        for s in slow:
            s.close()


def test_idle_keep_alive_connection_is_closed(env):
    proxy, _ = env
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(("GET / HTTP/1.1\r\n" + H + "\r\n").encode())
        s.settimeout(5)
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        while s.recv(65536):
            pass
        assert 1.0 <= time.monotonic() - start < 4.0


@pytest.mark.parametrize("body", [b"zz\r\nabc\r\n", b"3\r\nabc\r\nzz\r\n", b"3\r\nabcX"])
def test_malformed_chunked_body_is_answered_at_once_while_the_client_waits(env, body):
    # The client keeps its side open (as curl does): the 400 must not wait for a timeout, whether
    # the bad chunk came with the head or after a good one.
    proxy, _ = env
    s = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        s.sendall(b"POST /chunks HTTP/1.1\r\n" + H.encode() + b"Transfer-Encoding: chunked\r\n\r\n"
                  + body)
        s.settimeout(3)
        start = time.monotonic()
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 400 "), data
        assert b"malformed request body" in data
        assert time.monotonic() - start < 2.0
    finally:
        s.close()
