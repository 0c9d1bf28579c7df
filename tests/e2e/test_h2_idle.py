"""An idle downstream HTTP/2 connection gives its 16 KiB read buffer back (issue 11, memory per
idle connection): at once when it has not opened a stream yet, after a second without a stream
otherwise; it then reads into a small buffer until bytes come. Checked from outside: requests
after such idle periods, with bodies larger than the small buffer, over h2c and over TLS (ALPN
h2), are served whole, on the same connection."""
import json
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import pytest

from test_proxy_http2 import HOST, start_tls_echo_gateway, stop_tls_echo_gateway


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = start_tls_echo_gateway(tmp_path_factory, "h2_idle")
    yield e
    stop_tls_echo_gateway(e)


class Client:
    """One HTTP/2 connection (h2 library) on `sock`; requests one at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method, path, body=b""):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":authority", HOST),
                   (":path", path)]
        if body:
            headers.append(("content-length", str(len(body))))
        self.conn.send_headers(sid, headers, end_stream=not body)
        for i in range(0, len(body), 16384):  # the default largest frame
            self.conn.send_data(sid, body[i:i + 16384], end_stream=i + 16384 >= len(body))
        self.sock.sendall(self.conn.data_to_send())
        status, data = None, b""
        self.sock.settimeout(10)
        while True:
            chunk = self.sock.recv(65536)
            assert chunk, "the proxy closed the connection"
            for ev in self.conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    self.sock.sendall(self.conn.data_to_send())
                    return status, data
            self.sock.sendall(self.conn.data_to_send())


def exercise(client):
    # Idle before any stream (the buffer goes at once), then a request.
    time.sleep(1.5)
    status, body = client.request("GET", "/first")
    assert status == 200, body
    # Idle after a stream (the buffer goes after a second), then a body larger than the small
    # buffer, and one more request right after.
    time.sleep(1.5)
    status, body = client.request("POST", "/upload", b"x" * 5000)
    assert status == 200 and json.loads(body)["body_bytes"] == 5000, body
    status, body = client.request("POST", "/again", b"y" * 40000)
    assert status == 200 and json.loads(body)["body_bytes"] == 40000, body


def test_h2c_requests_after_idle_periods(env):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        exercise(Client(s))


def test_tls_h2_requests_after_idle_periods(env):
    ctx = ssl.create_default_context(cafile=str(env.pki / "ca.crt"))
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", env.tls_port))
    with ctx.wrap_socket(raw, server_hostname=HOST) as s:
        assert s.selected_alpn_protocol() == "h2"
        exercise(Client(s))
