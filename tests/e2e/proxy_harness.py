"""Running the real halyard-proxy for end-to-end tests: config directories written from YAML
text, the process on free loopback ports (started, waited for, stopped), and small clients
(curl for ordinary requests, raw sockets for what curl will not send)."""
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import BIN

GATEWAY_PORT = 80


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=10.0):
    """Waits until something accepts connections on 127.0.0.1:port (an app the test started)."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise AssertionError("nothing listens on 127.0.0.1:%d after %.0f s" % (port, timeout))
            time.sleep(0.05)


def gateway(name, hosts, port=GATEWAY_PORT, extra=""):
    host_lines = "".join("      - %s\n" % h for h in hosts)
    return """apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: %s, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: %d, name: http, protocol: HTTP}
    hosts:
%s%s""" % (name, port, host_lines, extra)


def service(name, backend_port, port=80, namespace="default", endpoints=True, addresses=None,
            port_name="http"):
    """A Kubernetes Service plus Endpoints on 127.0.0.1 (or `addresses`) at backend_port."""
    text = """apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s}
spec:
  ports: [{name: %s, port: %d, targetPort: %d}]
""" % (name, namespace, port_name, port, backend_port)
    if endpoints:
        ips = ", ".join("{ip: %s}" % a for a in (addresses or ["127.0.0.1"]))
        text += """---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: %s}
subsets:
- addresses: [%s]
  ports: [{name: %s, port: %d}]
""" % (name, namespace, ips, port_name, backend_port)
    return text


def tcp_gateway(ports, routes, name="tcp", virtual_service="echo"):
    """A Gateway `name` with a TCP server on each of `ports`, and a VirtualService bound to it
    whose `tcp` list is `routes` (YAML list items, written as at the list's own indentation)."""
    servers = "".join('  - port: {number: %d, name: tcp-%d, protocol: TCP}\n    hosts: ["*"]\n'
                      % (p, p) for p in ports)
    items = "".join("  " + line + "\n" for line in routes.strip("\n").splitlines())
    return """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: %s, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
%s---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: ["*"]
  gateways: [%s]
  tcp:
%s""" % (name, servers, virtual_service, name, items)


def cluster_name(service_name, port=80, namespace="default", subset=""):
    return "outbound|%d|%s|%s.%s.svc.cluster.local" % (port, subset, service_name, namespace)


class Proxy:
    """halyard-proxy serving `config` (a directory, or YAML text written to tmp_dir)."""

    def __init__(self, tmp_dir, config, workers=2, extra_args=()):
        self.dir = pathlib.Path(tmp_dir)
        if isinstance(config, str):
            self.config = self.dir / "config"
            self.config.mkdir(parents=True, exist_ok=True)
            (self.config / "config.yaml").write_text(config)
        else:
            self.config = pathlib.Path(config)
        self.port = free_port()
        self.admin_port = free_port()
        self.log_path = self.dir / ("proxy-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        args = [str(BIN / "halyard-proxy"), "--config", str(self.config),
                "--port-map", "%d=%d" % (GATEWAY_PORT, self.port),
                "--admin", "127.0.0.1:%d" % self.admin_port,
                "--workers", str(workers), *extra_args]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("halyard-proxy exited with %d:\n%s" % (self.proc.returncode,
                                                                          self.output()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.admin_port,
                                            timeout=0.5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("halyard-proxy not ready:\n" + self.output())

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def admin(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                    timeout=5) as r:
            return r.read().decode()

    def rss_kb(self, field="VmRSS"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _flag(args, name, default):
    """The value of `name` in an argument list (the last one), or `default`."""
    args = list(args)
    for i in range(len(args) - 2, -1, -1):
        if args[i] == name:
            return args[i + 1]
    return default


def control_credentials(control, extra_args=(), token_file=None, control_ca=None, namespace=None,
                        service_account=None, default_namespace="istio-system"):
    """(address, [--token-file/--control-ca flags]) for a proxy following `control`: an address
    string, or a control-plane object with `address`, `root_cert` and `token_file(namespace,
    service_account)` (control_harness.ControlPlane). Explicit token_file / control_ca win;
    token_file="" starts the proxy without one. The token is for the identity the proxy says
    (--namespace, --service-account in extra_args; Kubernetes' "default" service account when
    none) unless namespace / service_account name another one."""
    address = control if isinstance(control, str) else control.address
    if token_file is None and not isinstance(control, str) and hasattr(control, "token_file"):
        ns = namespace or _flag(extra_args, "--namespace", default_namespace)
        sa = service_account or _flag(extra_args, "--service-account", "") or "default"
        token_file = control.token_file(ns, sa)
    if control_ca is None and not isinstance(control, str):
        control_ca = getattr(control, "root_cert", None)
    if control_ca is None and isinstance(control, str):
        # What a control plane on this machine writes for its clients (removed when it stops).
        control_ca = "/tmp/halyard-control-%s.root.pem" % address.rsplit(":", 1)[1]
    flags = []
    if token_file:
        flags += ["--token-file", str(token_file)]
    if control_ca:
        flags += ["--control-ca", str(control_ca)]
    return address, flags


class ControlledProxy(Proxy):
    """halyard-proxy following a control plane (`--control ADDR`): it starts with no config, so
    this waits for the admin listener only (/ready answers 503 until the first push and the
    workload certificate). `control` is a control-plane object (its address, root certificate
    and a token for this proxy's identity are used) or an address with explicit `token_file=` /
    `control_ca=` (see control_credentials)."""

    def __init__(self, tmp_dir, control, workers=2, extra_args=(), token_file=None,
                 control_ca=None, namespace=None, service_account=None):
        self.dir = pathlib.Path(tmp_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = None
        self.port = free_port()
        self.admin_port = free_port()
        self.log_path = self.dir / ("proxy-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        address, credentials = control_credentials(
            control, extra_args, token_file=token_file, control_ca=control_ca,
            namespace=namespace, service_account=service_account)
        self.control_address = address
        args = [str(BIN / "halyard-proxy"), "--control", address, *credentials,
                "--port-map", "%d=%d" % (GATEWAY_PORT, self.port),
                "--admin", "127.0.0.1:%d" % self.admin_port,
                "--workers", str(workers), *extra_args]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_admin()

    def _wait_admin(self, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("halyard-proxy exited with %d:\n%s" % (self.proc.returncode,
                                                                          self.output()))
            if self.ready()[0] != 0:
                return
            time.sleep(0.05)
        raise RuntimeError("halyard-proxy admin listener not up:\n" + self.output())

    def ready(self):
        """(status, body) of /ready; (0, "") while nothing listens."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.admin_port,
                                        timeout=0.5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ready()[0] == 200:
                return
            time.sleep(0.02)
        raise RuntimeError("halyard-proxy not ready:\n" + self.output())


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lowercase name -> last value
        self.body = body

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers, self.body[:200])


def parse_head(raw):
    lines = raw.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode().strip()
    return status, headers


def curl(port, path, host, *args, timeout=20):
    """One request with curl; the final response (interim 1xx skipped)."""
    out = subprocess.run(["curl", "-s", "-i", "--max-time", str(timeout), "-H", "Host: " + host,
                          *args, "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, timeout=timeout + 5)
    raw = out.stdout
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        if not head:
            raise AssertionError("no response from curl (exit %d): %r" % (out.returncode, out.stderr))
        status, headers = parse_head(head)
        if 100 <= status < 200 and status != 101:
            raw = rest
            continue
        return Response(status, headers, rest.decode(errors="replace"))


def raw_exchange(port, data, timeout=3.0, until_close=True):
    """Sends bytes and returns everything received until the proxy closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(timeout)
        s.sendall(data)
        out = b""
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    return out, True
                out += got
                if not until_close and b"\r\n\r\n" in out:
                    return out, False
        except socket.timeout:
            return out, False


def split_responses(raw):
    """Splits a byte stream of HTTP/1.1 responses with Content-Length bodies."""
    responses = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        status, headers = parse_head(head)
        length = int(headers.get("content-length", "0"))
        responses.append(Response(status, headers, rest[:length].decode(errors="replace")))
        raw = rest[length:]
    return responses
