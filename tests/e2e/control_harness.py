"""Running the real `halyard control` for end-to-end tests, and a small proxy written against the
protocol in Python (grpcio + protobuf from Debian; the message classes are generated from
api/halyard/v1/discovery.proto with protoc into a temporary directory), so the tests check the
wire protocol from an implementation that shares no code with the control plane.

The control plane serves TLS only, with a certificate from its own CA (a directory beside the
config directory unless the test gives one, so a restart keeps its root); the Python proxy
verifies it against root-cert.pem under the name istiod.istio-system.svc, proves its identity with
a credential from `halyard token create`, and sends a CSR for a key it made
(python3-cryptography)."""
import importlib
import pathlib
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BIN, ROOT

CONTROL_SERVER_NAME = "istiod.istio-system.svc"

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


def make_csr(uris=(), dns=(), common_name=None, key=None):
    """(key PEM, CSR PEM) for a new ECDSA P-256 key (or `key`), asking for whatever names are
    given: the control plane must ignore them all."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []))
    names = [x509.UniformResourceIdentifier(u) for u in uris] + [x509.DNSName(d) for d in dns]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem.decode(), csr.public_bytes(serialization.Encoding.PEM).decode()


def create_token(ca_dir, namespace, service_account, ttl=None):
    """`halyard token create` for the CA directory: the credential (one line)."""
    args = [str(BIN / "halyard"), "token", "create", "--namespace", namespace,
            "--service-account", service_account, "--ca-dir", str(ca_dir)]
    if ttl is not None:
        args += ["--ttl", ttl]
    res = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError("halyard token create failed: " + res.stderr)
    return res.stdout.strip()


class ControlPlane:
    """`halyard control --config DIR --listen 127.0.0.1:PORT --ca-dir CA` (port 0: a free one; a
    fixed port lets a test restart it where its proxies expect it); its log lines are collected.
    The CA directory defaults to <config dir>.ca, beside the config directory, so a restart on
    the same config reuses the same root."""

    def __init__(self, config_dir, debounce_ms=100, extra=(), port=0, ca_dir=None,
                 workload_cert_ttl=None):
        self.ca_dir = pathlib.Path(ca_dir or str(config_dir).rstrip("/") + ".ca")
        self.root_cert = self.ca_dir / "root-cert.pem"
        args = [str(BIN / "halyard"), "control", "--config", str(config_dir),
                "--listen", "127.0.0.1:%d" % port, "--debounce-ms", str(debounce_ms),
                "--ca-dir", str(self.ca_dir)]
        if workload_cert_ttl:
            args += ["--workload-cert-ttl", workload_cert_ttl]
        self.proc = subprocess.Popen([*args, *extra], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._port = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.port = self._port.get(timeout=10)
        except queue.Empty:
            self.stop()
            raise RuntimeError("halyard control did not start:\n" + self.log())
        self.address = "127.0.0.1:%d" % self.port
        self._tokens = {}

    def token(self, namespace, service_account):
        """A credential for namespace/service_account (made once per control plane)."""
        key = (namespace, service_account)
        if key not in self._tokens:
            self._tokens[key] = create_token(self.ca_dir, namespace, service_account)
        return self._tokens[key]

    def token_file(self, namespace, service_account):
        """A file holding a credential for namespace/service_account (for halyard-proxy
        --token-file); its path."""
        directory = pathlib.Path(str(self.ca_dir) + ".tokens")
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / ("%s.%s.token" % (namespace, service_account))
        path.write_text(self.token(namespace, service_account) + "\n")
        path.chmod(0o600)
        return path

    def channel_credentials(self):
        return grpc.ssl_channel_credentials(root_certificates=self.root_cert.read_bytes())

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
    """A proxy's stream over TLS: says hello (with a credential for its namespace and service
    account unless `credential` says otherwise, and a CSR for a fresh key unless `csr` is given),
    records every message in order, and ACKs each push unless told to NACK it (`nack_with`).
    `status` is the stream's gRPC status once it ended ((code, details))."""

    def __init__(self, control, name="gw-1", namespace="istio-system", role="gateway",
                 labels=None, credential=None, csr=None, **hello):
        m = pb()
        self.pushes = []
        self.errors = []
        self.certificates = []  # CertificateIssued, in order
        self.certificate_errors = []
        self.kinds = []  # every message's kind, in order
        self.status = None
        self.nack_with = None
        self._out = queue.Queue()
        self._cond = threading.Condition()
        labels = {"istio": "ingressgateway"} if labels is None else labels
        if credential is None:
            credential = control.token(namespace or "default",
                                       hello.get("service_account") or "default")
        if csr is None:
            self.key_pem, csr = make_csr()
        self._out.put(m.ProxyMessage(hello=m.ProxyHello(
            name=name, namespace=namespace, role=role, labels=labels, build_version="e2e",
            credential=credential, csr=csr, **hello)))
        self.channel = grpc.secure_channel(
            control.address, control.channel_credentials(),
            options=[("grpc.max_receive_message_length", -1),
                     ("grpc.ssl_target_name_override", CONTROL_SERVER_NAME)])
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
                    self.kinds.append(kind)
                    if kind == "push":
                        self.pushes.append((time.monotonic(), msg.push))
                    elif kind == "error":
                        self.errors.append(msg.error)
                    elif kind == "certificate":
                        self.certificates.append(msg.certificate)
                    elif kind == "certificate_error":
                        self.certificate_errors.append(msg.certificate_error.error)
                    self._cond.notify_all()
                if kind != "push":
                    continue
                if self.nack_with:
                    self._out.put(m.ProxyMessage(nack=m.Nack(version=msg.push.version,
                                                             error=self.nack_with)))
                else:
                    self._out.put(m.ProxyMessage(ack=m.Ack(version=msg.push.version)))
        except grpc.RpcError as e:
            with self._cond:
                self.status = (e.code(), e.details())
                self._cond.notify_all()
            return
        with self._cond:
            self.status = (grpc.StatusCode.OK, "")
            self._cond.notify_all()

    def request_certificate(self, csr=None):
        """Sends a certificate_request for a new key (or `csr`)."""
        m = pb()
        if csr is None:
            self.key_pem, csr = make_csr()
        self._out.put(m.ProxyMessage(certificate_request=m.CertificateRequest(csr=csr)))

    def wait_status(self, timeout=5):
        """The stream's final (code, details); fails when it is still open."""
        if not self.wait(lambda p: p.status, timeout):
            raise AssertionError("the stream is still open after %ss" % timeout)
        return self.status

    def wait_certificate(self, count=1, timeout=5):
        if not self.wait(lambda p: len(p.certificates) >= count, timeout):
            raise AssertionError("no certificate #%d within %ss (got %d; status %s)" % (
                count, timeout, len(self.certificates), self.status))
        return self.certificates[count - 1]

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
