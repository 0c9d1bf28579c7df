"""A whole mesh on 127.0.0.1 for end-to-end tests: `halyard control` on a fixed port (so it can be
killed and restarted at the same address), halyard-proxy gateways and sidecars connected to it,
and small apps (in threads of the test process) behind the sidecars. An app can call another
service by name through its sidecar's outbound HTTP proxy, as an app with HTTP_PROXY set does."""
import json
import pathlib
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import BIN
from proxy_harness import control_credentials, free_port


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def http_get(url, proxy=None, headers=None, timeout=5):
    """(status, headers, body) of a GET, through `proxy` (http://127.0.0.1:P) when given."""
    handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class App:
    """An app answering {"service", "version", "path", "peer", "upstream"}; with `calls`, each
    request first GETs http://<calls><path> through `outbound` (its sidecar) and nests the answer."""

    def __init__(self, name, version="v1", calls=None):
        self.name, self.version, self.calls = name, version, calls
        self.outbound = None
        self.count = 0
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                with app.lock:
                    app.count += 1
                reply = {"service": app.name, "version": app.version, "path": self.path,
                         "peer": self.headers.get("x-halyard-peer")}
                status = 200
                if app.calls:
                    code, _, body = http_get("http://%s%s" % (app.calls, self.path),
                                             proxy="http://127.0.0.1:%d" % app.outbound)
                    reply["upstream"] = json.loads(body) if code == 200 else {"status": code}
                    status = code
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class _Process:
    def __init__(self, args, log_path):
        self.args = args
        self.log_path = pathlib.Path(log_path)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def _wait_ready(self, what):
        """Waits for self.ready(); on failure stops the process (never left behind) and raises."""
        try:
            ready = wait_until(self.ready, 15)
        except RuntimeError:
            ready = False
        if not ready:
            output = self.output()
            self.stop()
            raise RuntimeError("%s not ready:\n%s" % (what, output))

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Control(_Process):
    """`halyard control` on 127.0.0.1:<port> (a fixed port: a restart listens on the same one),
    with its CA in `ca_dir` (default <log_dir>/ca, so a restart keeps its root). `root_cert` is
    what proxies verify it with (--control-ca), `token_file(ns, sa)` a credential file for
    --token-file."""

    def __init__(self, config_dir, log_dir, port=None, ca_dir=None, workload_cert_ttl=None):
        self.port = port or free_port()
        self.admin_port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.ca_dir = pathlib.Path(ca_dir or pathlib.Path(log_dir) / "ca")
        self.root_cert = self.ca_dir / "root-cert.pem"
        args = [str(BIN / "halyard"), "control", "--config", str(config_dir),
                "--listen", self.address, "--admin", "127.0.0.1:%d" % self.admin_port,
                "--debounce-ms", "100", "--ca-dir", str(self.ca_dir)]
        if workload_cert_ttl:
            args += ["--workload-cert-ttl", workload_cert_ttl]
        super().__init__(args, pathlib.Path(log_dir) / ("control-%d.log" % self.port))
        self._wait_ready("halyard control")

    def token_file(self, namespace, service_account):
        """A file holding a credential for namespace/service_account (`halyard token create`
        with this CA directory); its path."""
        res = subprocess.run([str(BIN / "halyard"), "token", "create", "--namespace", namespace,
                              "--service-account", service_account, "--ca-dir",
                              str(self.ca_dir)], capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError("halyard token create failed: " + res.stderr)
        directory = pathlib.Path(str(self.ca_dir) + ".tokens")
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / ("%s.%s.token" % (namespace, service_account))
        path.write_text(res.stdout)
        path.chmod(0o600)
        return path

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("halyard control exited:\n" + self.output())
        try:
            return http_get("http://127.0.0.1:%d/ready" % self.admin_port, timeout=1)[0] == 200
        except OSError:
            return False

    def status(self):
        return json.loads(http_get("http://127.0.0.1:%d/status" % self.admin_port)[2])


class MeshProxy(_Process):
    """halyard-proxy --control: a gateway (gateway_port is where Gateway port 80 listens) or a
    sidecar in front of `app` (an App; its outbound proxy is given to the app). Its credentials
    come from `control` (`root_cert`, `token_file(namespace, service_account)`) unless
    `token_file=` / `control_ca=` are given (proxy_harness.control_credentials)."""

    def __init__(self, control, log_dir, name, role="gateway", namespace=None, labels=None,
                 app=None, service_account=None, token_file=None, control_ca=None,
                 wait_ready=True):
        self.name = name
        self.admin_port = free_port()
        if role == "gateway":
            self.gateway_port = free_port()
            identity = ["--name", name, "--namespace", namespace or "istio-system",
                        "--labels", labels or "istio=ingressgateway",
                        "--port-map", "80=%d" % self.gateway_port]
            if service_account:
                identity += ["--service-account", service_account]
        else:
            self.inbound_port, self.outbound_port = free_port(), free_port()
            identity = ["--workload", name, "--namespace", namespace or "default",
                        "--labels", labels or ("app=%s,version=%s" % (app.name, app.version)),
                        "--service-account", service_account or app.name,
                        "--app-port", str(app.port), "--inbound-port", str(self.inbound_port),
                        "--outbound-port", str(self.outbound_port)]
            app.outbound = self.outbound_port
        address, credentials = control_credentials(control, identity, token_file=token_file,
                                                   control_ca=control_ca)
        args = [str(BIN / "halyard-proxy"), "--control", address, *credentials, "--role", role,
                "--admin", "127.0.0.1:%d" % self.admin_port, "--workers", "1", *identity]
        super().__init__(args, pathlib.Path(log_dir) / ("%s-%d.log" % (name, self.admin_port)))
        if wait_ready:
            self._wait_ready(name)

    def ready_body(self):
        """(status, body) of /ready; (0, "") while nothing listens."""
        try:
            code, _, body = http_get("http://127.0.0.1:%d/ready" % self.admin_port, timeout=1)
            return code, body.decode(errors="replace")
        except OSError:
            return 0, ""

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited:\n%s" % (self.name, self.output()))
        try:
            return http_get("http://127.0.0.1:%d/ready" % self.admin_port, timeout=1)[0] == 200
        except OSError:
            return False

    def metrics(self):
        return http_get("http://127.0.0.1:%d/stats/prometheus" % self.admin_port)[2].decode()


def requests_total(metrics_text, **labels):
    """Sum of istio_requests_total over the series whose labels include `labels`."""
    total = 0
    for line in metrics_text.splitlines():
        if not line.startswith("istio_requests_total{"):
            continue
        if all('%s="%s"' % (k, v) in line for k, v in labels.items()):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class Load:
    """Steady GETs from one thread until stopped; records every status (exceptions as 0)."""

    def __init__(self, url, host, interval=0.005):
        self.url, self.host, self.interval = url, host, interval
        self.results = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                code, _, body = http_get(self.url, headers={"Host": self.host}, timeout=5)
                self.results.append((code, body))
            except OSError as e:
                self.results.append((0, str(e).encode()))
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()
        self.thread.join(10)
        return self.results

    def failures(self):
        return [r for r in self.results if r[0] != 200]
