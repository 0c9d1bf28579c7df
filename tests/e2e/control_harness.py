"""Running the real `halyard control` for end-to-end tests, and a small proxy written against the
protocol in Python (grpcio + protobuf from Debian; the message classes are generated from
api/halyard/v1/discovery.proto with protoc into a temporary directory), so the tests check the
wire protocol from an implementation that shares no code with the control plane."""
import importlib
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from conftest import BIN, ROOT

_pb = None


def pb():
    """The generated halyard.v1 message module (generated once per test run)."""
    global _pb
    if _pb is None:
        out = tempfile.mkdtemp(prefix="halyard-pb-")
        subprocess.run(["protoc", "--proto_path=%s" % (ROOT / "api"), "--python_out=%s" % out,
                        str(ROOT / "api" / "halyard" / "v1" / "discovery.proto")], check=True)
        sys.path.insert(0, out)
        _pb = importlib.import_module("halyard.v1.discovery_pb2")
    return _pb


class ControlPlane:
    """`halyard control --config DIR --listen 127.0.0.1:PORT` (0: a free one; a fixed port lets a
    test restart it where its proxies expect it); its log lines are collected."""

    def __init__(self, config_dir, debounce_ms=100, extra=(), port=0):
        self.proc = subprocess.Popen(
            [str(BIN / "halyard"), "control", "--config", str(config_dir),
             "--listen", "127.0.0.1:%d" % port, "--debounce-ms", str(debounce_ms), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._port = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.port = self._port.get(timeout=10)
        except queue.Empty:
            self.stop()
            raise RuntimeError("halyard control did not start:\n" + self.log())
        self.address = "127.0.0.1:%d" % self.port

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"control plane serving .* on port (\d+)", line)
            if m:
                self._port.put(int(m.group(1)))

    def log(self):
        return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, l) for l in self.lines):
                return True
            time.sleep(0.02)
        return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Proxy:
    """A proxy's stream: says hello, records every message, and ACKs each push unless told to
    NACK it (`nack_with`)."""

    def __init__(self, control_address, name="gw-1", namespace="istio-system", role="gateway",
                 labels=None, **hello):
        m = pb()
        self.pushes = []
        self.errors = []
        self.nack_with = None
        self._out = queue.Queue()
        self._cond = threading.Condition()
        labels = {"istio": "ingressgateway"} if labels is None else labels
        self._out.put(m.ProxyMessage(hello=m.ProxyHello(
            name=name, namespace=namespace, role=role, labels=labels, build_version="e2e",
            **hello)))
        self.channel = grpc.insecure_channel(
            control_address, options=[("grpc.max_receive_message_length", -1)])
        stream = self.channel.stream_stream(
            "/halyard.v1.Discovery/Stream",
            request_serializer=m.ProxyMessage.SerializeToString,
            response_deserializer=m.ControlMessage.FromString)
        self._call = stream(self._requests())
        threading.Thread(target=self._read, daemon=True).start()

    def _requests(self):
        while True:
            msg = self._out.get()
            if msg is None:
                return
            yield msg

    def _read(self):
        m = pb()
        try:
            for msg in self._call:
                kind = msg.WhichOneof("message")
                with self._cond:
                    if kind == "push":
                        self.pushes.append((time.monotonic(), msg.push))
                    elif kind == "error":
                        self.errors.append(msg.error)
                    self._cond.notify_all()
                if kind != "push":
                    continue
                if self.nack_with:
                    self._out.put(m.ProxyMessage(nack=m.Nack(version=msg.push.version,
                                                             error=self.nack_with)))
                else:
                    self._out.put(m.ProxyMessage(ack=m.Ack(version=msg.push.version)))
        except grpc.RpcError:
            pass

    def wait(self, predicate, timeout=5):
        """Waits until predicate(self) holds; returns its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value or time.monotonic() >= deadline:
                    return value
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))

    def wait_push(self, count, timeout=5):
        if not self.wait(lambda p: len(p.pushes) >= count, timeout):
            raise AssertionError("no push #%d within %ss (got %d)" % (count, timeout,
                                                                     len(self.pushes)))
        return self.pushes[count - 1][1]

    def close(self):
        self._out.put(None)
        self.channel.close()


def route_prefixes(push):
    """Every uri prefix of every route of a push: what tests look for."""
    return [r.match.uri.value for vh in push.resources.virtual_hosts for r in vh.routes
            if r.match.HasField("uri")]
