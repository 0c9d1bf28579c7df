"""Purpose-built upstreams for the halyard-proxy end-to-end tests, each on 127.0.0.1 with a port
chosen by the kernel, running in threads of the test process so a test can look at what they
received.

- EchoBackend: an HTTP/1.1 server (http.server) answering with a JSON description of the request.
  Request headers steer it: x-test-status (answer with that status), x-test-delay-ms (wait first),
  x-test-chunked (answer chunked), x-test-body-size (stream that many bytes instead of JSON),
  x-test-close (close after the response). `fail_next` is a list of statuses (or "close") used for
  the next requests, for retry tests. Chunked request bodies are decoded here, so a test can see
  the proxy forwarded them as chunked.
- ClosingBackend: accepts and closes without a response ("reset" sends a TCP RST instead).
- UpgradeBackend: answers an Upgrade request with 101 and then echoes bytes, like a WebSocket
  server that speaks no frames.
"""
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class EchoBackend:
    def __init__(self, name):
        self.name = name
        self.requests = []
        self.fail_next = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    total = 0
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return total, True
                        left = size
                        while left:
                            got = self.rfile.read(min(left, 1 << 16))
                            if not got:
                                raise ConnectionError("body cut short")
                            left -= len(got)
                        total += size
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                left = length
                while left:
                    got = self.rfile.read(min(left, 1 << 16))
                    if not got:
                        raise ConnectionError("body cut short")
                    left -= len(got)
                return length, False

            def _answer(self):
                body_bytes, chunked = self._read_body()
                record = {
                    "service": backend.name,
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "header_list": [[k.lower(), v] for k, v in self.headers.items()],
                    "body_bytes": body_bytes,
                    "chunked": chunked,
                }
                with backend.lock:
                    backend.requests.append(record)
                    forced = backend.fail_next.pop(0) if backend.fail_next else None
                if forced == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                delay = int(self.headers.get("x-test-delay-ms") or 0)
                if delay:
                    time.sleep(delay / 1000.0)
                status = int(forced or self.headers.get("x-test-status") or 200)
                size = self.headers.get("x-test-body-size")
                use_chunked = bool(self.headers.get("x-test-chunked"))
                self.send_response(status)
                self.send_header("X-Served-By", backend.name)
                for k, v in self.headers.items():
                    if k.lower().startswith("x-echo-"):
                        self.send_header(k[len("x-echo-"):], v)
                if self.headers.get("x-test-close"):
                    self.send_header("Connection", "close")
                    self.close_connection = True
                if size is not None:
                    self._stream(int(size), use_chunked)
                    return
                data = (json.dumps(record) + "\n").encode()
                self.send_header("Content-Type", "application/json")
                if status in (204, 304) or self.command == "HEAD":
                    self.send_header("Content-Length", str(len(data)) if status != 204 else "0")
                    self.end_headers()
                    return
                if use_chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = len(data) // 2
                    for part in (data[:half], data[half:]):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def _stream(self, size, use_chunked):
                block = b"x" * (1 << 16)
                if use_chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(size))
                self.end_headers()
                left = size
                while left:
                    piece = block[: min(left, len(block))]
                    if use_chunked:
                        self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    else:
                        self.wfile.write(piece)
                    left -= len(piece)
                if use_chunked:
                    self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

        return Handler


class ClosingBackend:
    """Accepts connections, reads a little, and closes them without answering."""

    def __init__(self, reset=False):
        self.reset = reset
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                conn.settimeout(2)
                conn.recv(65536)
                if self.reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            conn.close()

    def stop(self):
        self.running = False
        self.sock.close()


class UpgradeBackend:
    """Answers an Upgrade request with 101 Switching Protocols, then echoes every byte."""

    def __init__(self):
        self.heads = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(4096)
            if not got:
                conn.close()
                return
            data += got
        head, rest = data.split(b"\r\n\r\n", 1)
        self.heads.append(head.decode())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZQ==\r\n\r\n")
        if rest:
            conn.sendall(rest)
        while True:
            try:
                got = conn.recv(65536)
            except OSError:
                break
            if not got:
                break
            conn.sendall(got)
        conn.close()

    def stop(self):
        self.sock.close()
