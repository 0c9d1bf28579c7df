"""Malformed and abusive HTTP/2 at the gateway, in raw frames: each is answered as RFC 9113 says
(a stream error with RST_STREAM and the code, a connection error with GOAWAY and the code, then
the connection closed), and the proxy keeps serving: after each, a second, well-behaved
connection gets its answer."""
import socket
import ssl
import struct
import time

import hpack
import pytest

from test_h2_idle import Client
from test_proxy_http2 import HOST, start_tls_echo_gateway, stop_tls_echo_gateway

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
PROTOCOL_ERROR, FLOW_CONTROL_ERROR, REFUSED_STREAM = 0x1, 0x3, 0x7


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = start_tls_echo_gateway(tmp_path_factory, "h2_abuse")
    yield e
    stop_tls_echo_gateway(e)


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


class Raw:
    """A connection that speaks raw frames: the preface and an empty SETTINGS, then whatever
    the test sends; frames() reads what the proxy answers."""

    def __init__(self, sock, preface=PREFACE):
        self.sock = sock
        self.enc = hpack.Encoder()
        self.buf = b""
        self.closed = False
        sock.sendall(preface + frame(SETTINGS, 0, 0))

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def head(self, stream, fields, flags=END_HEADERS | END_STREAM):
        return frame(HEADERS, flags, stream, self.enc.encode(fields))

    def frames(self, until, timeout=10):
        """Frames read until `until(frame list)` holds, the connection closes or time is up:
        [(type, flags, stream, payload)]."""
        got = []
        deadline = time.time() + timeout
        self.sock.settimeout(0.5)
        while time.time() < deadline and not until(got):
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
            while len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + length:
                    break
                kind, flags = self.buf[3], self.buf[4]
                stream = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
                got.append((kind, flags, stream, self.buf[9:9 + length]))
                self.buf = self.buf[9 + length:]
        return got


def goaway_code(frames):
    for kind, _, _, payload in frames:
        if kind == GOAWAY:
            return struct.unpack(">II", payload[:8])[1]
    return None


def rst_code(frames, stream):
    for kind, _, sid, payload in frames:
        if kind == RST_STREAM and sid == stream:
            return struct.unpack(">I", payload)[0]
    return None


def request(stream_host=HOST, path="/ok", method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", stream_host),
            (":path", path), *extra]


def still_serving(env):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        status, body = Client(s).request("GET", "/after")
        assert status == 200, body


def connection_error(env, code, *frames):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        raw.send(*frames)
        got = raw.frames(lambda f: goaway_code(f) is not None)
        assert goaway_code(got) == code, got
        raw.frames(lambda f: False, timeout=5)
        assert raw.closed, "the connection stays open after GOAWAY for an error"
    still_serving(env)


def stream_error(env, code, build, stream=1):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        raw.send(*build(raw))
        got = raw.frames(lambda f: rst_code(f, stream) is not None)
        assert rst_code(got, stream) == code, got
        assert goaway_code(got) is None, got
        # The connection goes on: a good request on it is answered.
        raw.send(raw.head(stream + 2, request()))
        got = raw.frames(lambda f: any(k == HEADERS and sid == stream + 2 for k, _, sid, _ in f))
        assert any(k == HEADERS and sid == stream + 2 for k, _, sid, _ in got), got
    still_serving(env)


def test_bad_preface_over_tls(env):
    ctx = ssl.create_default_context(cafile=str(env.pki / "ca.crt"))
    ctx.set_alpn_protocols(["h2"])
    raw_sock = socket.create_connection(("127.0.0.1", env.tls_port))
    with ctx.wrap_socket(raw_sock, server_hostname=HOST) as s:
        assert s.selected_alpn_protocol() == "h2"
        raw = Raw(s, preface=b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
        got = raw.frames(lambda f: goaway_code(f) is not None)
        assert goaway_code(got) == PROTOCOL_ERROR, got
        raw.frames(lambda f: False, timeout=5)
        assert raw.closed
    still_serving(env)


def test_frames_on_stream_zero_that_must_not_be(env):
    connection_error(env, PROTOCOL_ERROR, frame(DATA, 0, 0, b"x"))
    connection_error(env, PROTOCOL_ERROR, frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)) +
                     frame(RST_STREAM, 0, 0, struct.pack(">I", 0)))
    connection_error(env, PROTOCOL_ERROR, frame(SETTINGS, 0, 1))


def test_continuation_interrupted_by_another_frame(env):
    enc = hpack.Encoder()
    block = enc.encode(request())
    connection_error(env, PROTOCOL_ERROR, frame(HEADERS, END_STREAM, 1, block[:3]),
                     frame(PING, 0, 0, b"12345678"), frame(CONTINUATION, END_HEADERS, 1, block[3:]))


def test_continuation_joined(env):
    def build(raw):
        block = raw.enc.encode(request(path="/joined"))
        return [frame(HEADERS, END_STREAM, 1, block[:2]), frame(CONTINUATION, 0, 1, block[2:5]),
                frame(CONTINUATION, END_HEADERS, 1, block[5:])]

    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        raw.send(*build(raw))
        got = raw.frames(lambda f: any(k == DATA and fl & END_STREAM for k, fl, _, _ in f))
        assert any(k == HEADERS and sid == 1 for k, _, sid, _ in got), got


def test_window_update_overflowing(env):
    connection_error(env, FLOW_CONTROL_ERROR,
                     frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)))
    # On a stream: that stream only.
    stream_error(env, FLOW_CONTROL_ERROR, lambda raw: [
        raw.head(1, request(method="POST", path="/slow"), flags=END_HEADERS),
        frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff))])


def test_more_streams_than_allowed(env):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        # 256 streams open (requests whose bodies never come), then one more.
        heads = [raw.head(1 + 2 * i, request(method="POST", path="/open/%d" % i),
                          flags=END_HEADERS) for i in range(257)]
        raw.send(*heads)
        got = raw.frames(lambda f: rst_code(f, 513) is not None)
        assert rst_code(got, 513) == REFUSED_STREAM, got[-5:]
        assert all(rst_code(got, 1 + 2 * i) is None for i in range(256))
        assert goaway_code(got) is None
    still_serving(env)


def test_uppercase_header_name(env):
    stream_error(env, PROTOCOL_ERROR, lambda raw: [raw.head(1, request(extra=[("X-Upper", "1")]))])


def test_connection_specific_headers(env):
    stream_error(env, PROTOCOL_ERROR,
                 lambda raw: [raw.head(1, request(extra=[("connection", "keep-alive")]))])
    stream_error(env, PROTOCOL_ERROR,
                 lambda raw: [raw.head(1, request(extra=[("te", "gzip")]))])
    stream_error(env, PROTOCOL_ERROR,
                 lambda raw: [raw.head(1, request(extra=[("transfer-encoding", "chunked")]))])


def test_missing_and_misplaced_pseudo_headers(env):
    stream_error(env, PROTOCOL_ERROR, lambda raw: [raw.head(1, [
        (":method", "GET"), (":authority", HOST), (":path", "/")])])  # no :scheme
    stream_error(env, PROTOCOL_ERROR, lambda raw: [raw.head(1, [
        (":method", "GET"), ("x-a", "1"), (":scheme", "http"), (":authority", HOST),
        (":path", "/")])])
    stream_error(env, PROTOCOL_ERROR, lambda raw: [raw.head(1, request(extra=[(":status", "200")]))])


def test_missing_authority_answered_400_and_the_connection_goes_on(env):
    """A request with neither :authority nor host has nothing to route by: 400, as HTTP/1.1
    answers a request without Host (a stream that takes the connection's run(), not serve()),
    and the stream ends while the connection goes on."""
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        decoder = hpack.Decoder()
        raw.send(raw.head(1, [(":method", "GET"), (":scheme", "http"), (":path", "/ok")]))
        got = raw.frames(lambda f: any(sid == 1 and flags & END_STREAM and k in (HEADERS, DATA)
                                       for k, flags, sid, _ in f))
        heads = [dict(decoder.decode(p)) for k, _, sid, p in got if k == HEADERS and sid == 1]
        assert heads and heads[0][":status"] == "400", got
        assert any(sid == 1 and flags & END_STREAM for k, flags, sid, _ in got), got
        raw.send(raw.head(3, request()))
        got = raw.frames(lambda f: any(k == HEADERS and sid == 3 for k, _, sid, _ in f))
        assert any(k == HEADERS and sid == 3 for k, _, sid, _ in got), got
    still_serving(env)


def test_data_beyond_content_length(env):
    stream_error(env, PROTOCOL_ERROR, lambda raw: [
        raw.head(1, request(method="POST", extra=[("content-length", "5")]), flags=END_HEADERS),
        frame(DATA, END_STREAM, 1, b"0123456789")])


def test_ping_answered(env):
    with socket.create_connection(("127.0.0.1", env.proxy.port)) as s:
        raw = Raw(s)
        raw.send(frame(PING, 0, 0, b"abcdefgh"))
        got = raw.frames(lambda f: any(k == PING for k, _, _, _ in f))
        assert (PING, ACK, 0, b"abcdefgh") in got, got
