#!/usr/bin/python3
"""Side-by-side HTTP/1.1 proxy benchmark: backend direct, halyard-proxy, nginx, HAProxy.

Each proxy gets one worker, keep-alive on both sides, and the same route (one Host match, same
request headers added) to the same fast backend (an nginx answering a small body with
`return 200`). wrk runs pinned to core 0; proxies and the backend are pinned to core 1.
Peers alternate inside each round (the order rotates each round); medians over the rounds are
printed as a Markdown table: requests/s, p50/p99 latency, CPU microseconds per request of the
proxy's processes (utime+stime from /proc/<pid>/stat), peak RSS (VmHWM), idle RSS (VmRSS
before load), upstream connections opened, and the ratios of halyard-proxy to nginx and HAProxy.

    bench/proxy_bench.py [--duration 10] [--connections 32] [--rounds 3]
                         [--proxy build/bin/halyard-proxy] [--tls]

--tls measures TLS termination at the gateway instead (the backend stays plaintext): the same
ECDSA P-256 certificate (made with openssl in the temp dir) on all three proxies, TLS 1.2 and
1.3, session caches and tickets off, so every new connection is a full handshake (checked
before each run: a second connection offering the first one's session must not resume it).
Two loads per proxy: `keep-alive` (wrk over https, connections kept open: the cost of TLS
records) and `handshake` (wrk with `Connection: close`: every request opens a new TLS
connection). halyard-proxy serves it from a Gateway server on port 443 (HTTPS, SIMPLE,
credentialName bench-cert, a kubernetes.io/tls Secret); until it does, its rows say why it
failed and the script exits 1 after printing the other two.

Not part of the test command. Needs: wrk, nginx, haproxy, taskset, and openssl for --tls
(scripts/setup.sh installs them). Every process listens on 127.0.0.1 on a free port, lives in a temp dir and is stopped on
exit (also on Ctrl-C or SIGTERM).
"""
import argparse
import base64
import datetime
import fcntl
import http.client
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "bench.example.com"
BODY = b"hello from the backend\n"
CLIENT_CORE, SERVER_CORE = "0", "1"
NICE = ["nice", "-n", "0"]  # --nice: the same priority for every process this run starts
LOCK = "/tmp/halyard-proxy-bench.lock"
HELD_LOCKS = []
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids):
    """utime+stime of the processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass
    return total / CLK_TCK


def machine_busy_seconds():
    """User and system time of the whole machine, to tell how much other processes took.
    Interrupt and softirq time is left out: on loopback it is mostly our own traffic, and no
    process is charged for it."""
    with open("/proc/stat") as f:
        user, nice, system = (int(x) for x in f.readline().split()[1:4])
    return (user + nice + system) / CLK_TCK


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def process_tree(pid):
    """The process and its descendants (nginx forks a worker under its master)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    pids = [pid]
    for p in out.stdout.split():
        pids.extend(process_tree(int(p)))
    return pids


class Fleet:
    """The processes this run started; each in its own session, logs in the temp dir."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, cmd):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        proc = subprocess.Popen(NICE + ["taskset", "-c", SERVER_CORE] + cmd,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        proc.name = name
        self.procs.append(proc)
        return proc

    def log_tail(self, proc):
        with open(os.path.join(self.tmp, proc.name + ".log"), errors="replace") as f:
            return "".join(f.readlines()[-20:])

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session: master and workers
                proc.wait()
        self.procs.remove(proc)

    def stop_all(self):
        for proc in list(self.procs):
            self.stop(proc)

    def leftovers(self):
        """Processes still running whose command line names the temp dir (should be none)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        if self.tmp.encode() in f.read():
                            found.append(int(entry))
                except OSError:
                    pass
        return found


def exclusive_machine():
    """Two benchmark runs at once would share core 1 and skew each other: take turns."""
    lock = open(LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("bench: another benchmark holds %s, waiting for it" % LOCK, file=sys.stderr)
        fcntl.flock(lock, fcntl.LOCK_EX)
    HELD_LOCKS.append(lock)  # kept open, so held, until this process exits


def wait_until(check, what, proc, fleet, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d:\n%s" % (proc.name, proc.returncode,
                                                           fleet.log_tail(proc)))
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s: %s not ready after %.0fs:\n%s" % (proc.name, what, timeout,
                                                            fleet.log_tail(proc)))


def listening(port):
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True


def get(port, host, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def nginx_backend(fleet, port):
    conf = os.path.join(fleet.tmp, "backend.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/backend.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:%d backlog=4096;
    location = /_status { stub_status; }
    location / { return 200 "%s"; } } }
""" % (fleet.tmp, port, BODY.decode().replace("\n", "\\n")))
    return fleet.start("backend", ["nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])


def backend_accepts(port):
    """Connections the backend accepted so far (stub_status), not counting this query."""
    status, body = get(port, "status", "/_status")
    return int(body.split(b"\n")[2].split()[0]) - 1


def nginx_proxy(fleet, port, backend):
    conf = os.path.join(fleet.tmp, "nginx-proxy.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/nginx-proxy.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  upstream be { server 127.0.0.1:%d; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:%d default_server backlog=4096; return 404; }
  server { listen 127.0.0.1:%d; server_name %s;
    location / {
      proxy_pass http://be; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Request-Id $request_id; } } }
""" % (fleet.tmp, backend, port, port, HOST))
    return fleet.start("nginx", ["nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])


def haproxy(fleet, port, backend, cert=None):
    """HAProxy, one thread; with `cert`, terminating TLS (no session cache, no tickets)."""
    tls_global = ("  tune.ssl.cachesize 0\n"
                  "  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n") if cert else ""
    bind = "127.0.0.1:%d" % port + (" ssl crt %s" % cert["combined"] if cert else "")
    conf = os.path.join(fleet.tmp, "haproxy-tls.cfg" if cert else "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""global
  nbthread 1
  maxconn 4096
%sdefaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 300s
frontend fe
  bind %s
  acl bench hdr(host) -i %s
  http-request return status 404 content-type text/plain string "no route" unless bench
  option forwardfor
  http-request set-header X-Forwarded-Proto %s
  http-request set-header X-Request-Id %%[uuid]
  default_backend be
backend be
  server s1 127.0.0.1:%d
""" % (tls_global, bind, HOST, "https" if cert else "http", backend))
    return fleet.start("haproxy", ["haproxy", "-db", "-f", conf])


def routes_yaml(gateway, backend):
    """The bench VirtualService bound to `gateway`, and the backend's Service+Endpoints (a
    document separator first, to follow the Gateway)."""
    return """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: default}
spec:
  hosts: ["%s"]
  gateways: [%s]
  http:
  - route:
    - destination: {host: backend, port: {number: 80}}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: backend, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: %d}]
""" % (HOST, gateway, backend, backend)


def start_halyard(fleet, binary, cfg, port_map, name="halyard-proxy"):
    """halyard-proxy on `cfg`, one worker, ready; `name` names its log in the fleet's dir."""
    admin = free_port()
    proc = fleet.start(name, [binary, "--config", cfg, "--port-map", port_map,
                              "--workers", "1", "--admin", "127.0.0.1:%d" % admin])
    wait_until(lambda: urllib.request.urlopen("http://127.0.0.1:%d/ready" % admin,
                                              timeout=0.5).status == 200,
               "/ready", proc, fleet)
    return proc


def halyard(fleet, port, backend, binary):
    """One Gateway server bound to 127.0.0.1, one VirtualService route, a Service+Endpoints."""
    cfg = os.path.join(fleet.tmp, "halyard")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "bench.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["%s"]
""" % HOST + routes_yaml("bench", backend))
    return start_halyard(fleet, binary, cfg, "80=%d" % port)


def wrk(port, duration, connections, scheme="http", close=False):
    """close: every request on a new connection (`Connection: close`, which wrk obeys by
    reconnecting after each response)."""
    cpu0 = children_cpu_seconds()
    out = subprocess.run(
        NICE + ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", "-c%d" % connections,
                "-d%ds" % duration, "--latency", "-H", "Host: " + HOST] +
        (["-H", "Connection: close"] if close else []) +
        ["%s://127.0.0.1:%d/" % (scheme, port)],
        capture_output=True, text=True, check=True, timeout=duration + 60).stdout

    def latency(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": (int(non2xx.group(1)) if non2xx else 0) +
                      (sum(int(x) for x in sock.groups()) if sock else 0),
            "wrk_cpu": children_cpu_seconds() - cpu0}


def check_route(name, port, proxied):
    status, body = get(port, HOST)
    if status != 200 or body != BODY:
        raise RuntimeError("%s: GET / with Host %s answered %d %r" % (name, HOST, status, body))
    if proxied:
        status, _ = get(port, "other.example.com")
        if status != 404:
            raise RuntimeError("%s: an unknown Host answered %d, not 404" % (name, status))


def measure(port, pids, backend_port, backend_pids, args, idle_kb, scheme="http", close=False):
    """One measured wrk run against port, after a 1 s warm-up that fills connection pools.
    upstream: connections the backend accepted over warm-up and run (the proxy's pool size
    when it reuses them; about the request count when it does not)."""
    accepts0 = backend_accepts(backend_port)
    wrk(port, 1, args.connections, scheme, close)
    cpu0, bcpu0, busy0 = cpu_seconds(pids), cpu_seconds(backend_pids), machine_busy_seconds()
    load = os.getloadavg()[0]
    r = wrk(port, args.duration, args.connections, scheme, close)
    cpu, bcpu = cpu_seconds(pids) - cpu0, cpu_seconds(backend_pids) - bcpu0
    busy = machine_busy_seconds() - busy0
    ours = bcpu + r["wrk_cpu"] + (cpu if pids != backend_pids else 0)
    r.update(cpu_us=cpu * 1e6 / max(r["requests"], 1),
             backend_us=bcpu * 1e6 / max(r["requests"], 1),
             rss_mb=sum(status_kb(p, "VmHWM") for p in pids) / 1024,
             hwm_each=[status_kb(p, "VmHWM") / 1024 for p in pids],
             idle_mb=idle_kb / 1024,
             upstream=backend_accepts(backend_port) - accepts0 - 1,
             foreign=max(0.0, busy - ours) * 100 / (os.cpu_count() * args.duration),
             load=load)
    return r


def version(cmd, pattern):
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "?"


def describe_machine(args):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def git(*a):
        return subprocess.run(["git", "-C", REPO] + list(a), capture_output=True,
                              text=True).stdout.strip()

    # The binary may predate HEAD: say when it was built and what the tree holds now.
    built = datetime.datetime.fromtimestamp(os.path.getmtime(args.proxy)).strftime("%H:%M")
    rev = "%s built %s, tree now at %s%s" % (
        args.proxy, built, git("rev-parse", "--short", "HEAD") or "?",
        " with local changes in src/ or cmd/" if git("status", "--porcelain", "--", "src", "cmd")
        else "")
    return ("%s, %d cores, Linux %s; nginx %s, HAProxy %s, wrk %s; %s" % (
        cpu, os.cpu_count(), platform.release(),
        version(["nginx", "-v"], r"nginx/(\S+)"),
        version(["haproxy", "-v"], r"version (\S+)"),
        version(["wrk", "-v"], r"wrk (\S+)"), rev))


def spread(values, fmt):
    return fmt % statistics.median(values) + (" (%s-%s)" % (fmt % min(values), fmt % max(values))
                                              if len(values) > 1 else "")


def report(results, args, load_before, machine):
    print("%s\n" % machine)
    print("%d rounds x %d s, %d connections, 1 worker each, nice %d, medians (min-max); load "
          "average %.2f before, %.2f after; other processes took a median %.0f%% of the machine" % (
              args.rounds, args.duration, args.connections, args.nice, load_before,
              os.getloadavg()[0],
              statistics.median(r["foreign"] for runs in results.values() for r in runs)))
    print()
    print("| peer | req/s | p50 us | p99 us | CPU us/req | peak RSS MB | idle RSS MB "
          "| upstream conns | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    med = {}
    for name, runs in results.items():
        med[name] = {k: statistics.median(r[k] for r in runs)
                     for k in ("rps", "p50", "p99", "cpu_us", "rss_mb", "idle_mb", "upstream")}
        cpu = [r["cpu_us"] for r in runs]
        direct = name == "backend (direct)"
        print("| %s | %s | %.0f | %.0f | %s | %.1f | %s | %.0f | %d |" % (
            "backend (direct; its own CPU, RSS)" if direct else name,
            spread([r["rps"] for r in runs], "%.0f"), med[name]["p50"], med[name]["p99"],
            spread(cpu, "%.2f"), med[name]["rss_mb"],
            "-" if direct else "%.1f" % med[name]["idle_mb"],
            med[name]["upstream"], sum(r["errors"] for r in runs)))
    h = med["halyard-proxy"]
    print()
    print("| halyard-proxy vs | req/s | CPU us/req | peak RSS | idle RSS |")
    print("|---|---:|---:|---:|---:|")
    for peer in ("nginx", "haproxy"):
        p = med[peer]
        print("| %s | %.2fx | %.2fx | %.2fx | %.2fx |" % (
            peer, h["rps"] / p["rps"], h["cpu_us"] / p["cpu_us"], h["rss_mb"] / p["rss_mb"],
            h["idle_mb"] / p["idle_mb"]))
    print()

    def verdict(ok):
        return "met" if ok else "NOT met"

    print("Targets: CPU/request below nginx %s, below HAProxy %s; idle RSS under 10 MB %s "
          "(%.1f MB)." % (verdict(h["cpu_us"] < med["nginx"]["cpu_us"]),
                          verdict(h["cpu_us"] < med["haproxy"]["cpu_us"]),
                          verdict(h["idle_mb"] < 10), h["idle_mb"]))


# --- TLS termination (--tls) ---------------------------------------------------------------

TLS_LOADS = ("keep-alive", "handshake")


class TlsNotServed(RuntimeError):
    """The proxy runs but does not complete a TLS handshake on its HTTPS port."""


def make_certificate(tmp):
    """One self-signed ECDSA P-256 certificate for HOST, used by all three proxies: the cert and
    key files (nginx, halyard's Secret) and the two concatenated (HAProxy's `crt`)."""
    cert, key, both = (os.path.join(tmp, n) for n in ("cert.pem", "key.pem", "combined.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + HOST,
                    "-addext", "subjectAltName=DNS:%s" % HOST],
                   check=True, capture_output=True)
    with open(both, "w") as out:
        for path in (cert, key):
            with open(path) as f:
                out.write(f.read())
    return {"cert": cert, "key": key, "combined": both}


def tls_request(port, ctx, host, session=None, timeout=3.0):
    """GET / over a new TLS connection (SNI HOST, Host: host); returns (status, body, the TLS
    socket's facts). Raises TlsNotServed when the handshake does not complete. A session to
    resume must come from the same context."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock = ctx.wrap_socket(raw, server_hostname=HOST, session=session)
        except (ssl.SSLError, OSError) as e:
            raise TlsNotServed("TLS handshake with 127.0.0.1:%d failed: %s" % (port, e)) from e
        with sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                         host.encode())
            data = b""
            while True:
                got = sock.recv(65536)
                if not got:
                    break
                data += got
            facts = {"version": sock.version(), "cipher": sock.cipher()[0],
                     "reused": sock.session_reused, "session": sock.session}
    finally:
        raw.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise TlsNotServed("no HTTP response over TLS from 127.0.0.1:%d" % port)
    return int(head.split()[1]), body, facts


def server_key_exchange(port):
    """The group the server picked for the handshake, as openssl s_client reports it."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                          "-servername", HOST], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=10)
    m = re.search(r"^(?:Server|Peer) Temp Key: ([^,\n]+)", out.stdout, re.M)
    return m.group(1) if m else "?"


def check_tls_route(name, port, cert):
    """The TLS route answers like the plaintext one, an unknown Host gets 404, and a second
    connection offering the first one's session is not resumed: every connection of the
    handshake load is then a full handshake. Returns what was negotiated."""
    ctx = ssl.create_default_context(cafile=cert)  # verifies the chain and the name HOST
    status, body, facts = tls_request(port, ctx, HOST)
    if status != 200 or body != BODY:
        raise RuntimeError("%s: GET / over TLS with Host %s answered %d %r" % (
            name, HOST, status, body))
    status, _, _ = tls_request(port, ctx, "other.example.com")
    if status != 404:
        raise RuntimeError("%s: an unknown Host over TLS answered %d, not 404" % (name, status))
    _, _, again = tls_request(port, ctx, HOST, session=facts["session"])
    return {"tls": "%s %s %s" % (facts["version"], facts["cipher"], server_key_exchange(port)),
            "resumed": again["reused"]}


def nginx_tls_proxy(fleet, port, backend, cert):
    conf = os.path.join(fleet.tmp, "nginx-tls-proxy.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/nginx-tls-proxy.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off; ssl_session_tickets off;
  upstream be { server 127.0.0.1:%d; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:%d ssl default_server backlog=4096; return 404; }
  server { listen 127.0.0.1:%d ssl; server_name %s;
    location / {
      proxy_pass http://be; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Request-Id $request_id; } } }
""" % (fleet.tmp, cert["cert"], cert["key"], backend, port, port, HOST))
    return fleet.start("nginx", ["nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])


def halyard_tls(fleet, port, backend, binary, cert):
    """A Gateway in istio-system with one HTTPS server on port 443 (SIMPLE, credentialName
    bench-cert, hosts *), the kubernetes.io/tls Secret bench-cert next to it, a VirtualService
    bound to it, and the backend's Service+Endpoints."""
    cfg = os.path.join(fleet.tmp, "halyard-tls")
    os.makedirs(cfg, exist_ok=True)

    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()

    with open(os.path.join(cfg, "bench.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cert}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
""" % (b64(cert["cert"]), b64(cert["key"])) + routes_yaml("istio-system/bench", backend))
    proc = start_halyard(fleet, binary, cfg, "443=%d" % port)
    # Ready means its listeners are bound: a missing one will not come later.
    deadline = time.time() + 2
    while time.time() < deadline:
        try:
            if listening(port):
                return proc
        except OSError:
            time.sleep(0.05)
    warnings = [line for line in fleet.log_tail(proc).splitlines() if "443" in line]
    raise TlsNotServed("halyard-proxy is ready but nothing listens on its HTTPS port (443 -> %d)%s"
                       % (port, ": " + warnings[0].split("] ", 2)[-1] if warnings else ""))


def clean_up(fleet, tmp, args):
    """Stops every process of the run, says if one survived, removes (or keeps) the temp dir,
    and prints the line that starts the report."""
    fleet.stop_all()
    left = fleet.leftovers()
    if left:
        print("bench: processes left running: %s" % left, file=sys.stderr)
    if args.keep:
        print("bench: configs and logs kept in %s" % tmp, file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s, %s" % (datetime.date.today().isoformat(), "bench/proxy_bench.py " +
                      " ".join(sys.argv[1:])))


def report_tls(results, failed, facts, args, load_before, machine):
    print("%s\n" % machine)
    print("TLS termination: %d rounds x %d s, %d connections, 1 worker each, nice %d, medians "
          "(min-max); one ECDSA P-256 certificate, TLS 1.2+1.3, session cache and tickets off; "
          "load average %.2f before, %.2f after" % (
              args.rounds, args.duration, args.connections, args.nice, load_before,
              os.getloadavg()[0]))
    print()
    print("| peer | load | req/s | p50 us | p99 us | CPU us/req | peak RSS MB | upstream conns "
          "| errors | negotiated | resumed |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    med = {}
    for name in results:
        if name in failed:
            print("| %s | - | - | - | - | - | - | - | - | FAILED: %s | - |" % (
                name, failed[name].splitlines()[0]))
            continue
        for load in TLS_LOADS:
            runs = results[name][load]
            if not runs:
                continue
            m = {k: statistics.median(r[k] for r in runs)
                 for k in ("rps", "p50", "p99", "cpu_us", "rss_mb", "upstream")}
            med[(name, load)] = m
            print("| %s | %s | %s | %.0f | %.0f | %s | %.1f | %.0f | %d | %s | %s |" % (
                name, load, spread([r["rps"] for r in runs], "%.0f"), m["p50"], m["p99"],
                spread([r["cpu_us"] for r in runs], "%.2f"), m["rss_mb"], m["upstream"],
                sum(r["errors"] for r in runs), facts[name]["tls"],
                "yes" if facts[name]["resumed"] else "no"))
    print()
    if ("halyard-proxy", TLS_LOADS[0]) in med:
        print("| halyard-proxy vs | load | req/s | CPU us/req |")
        print("|---|---|---:|---:|")
        for peer in ("nginx", "haproxy"):
            for load in TLS_LOADS:
                h, p = med.get(("halyard-proxy", load)), med.get((peer, load))
                if h and p:
                    print("| %s | %s | %.2fx | %.2fx |" % (peer, load, h["rps"] / p["rps"],
                                                          h["cpu_us"] / p["cpu_us"]))
        print()
    print("handshake: every request on a new connection (Connection: close), so CPU us/req is "
          "one full TLS handshake plus one proxied request. 'resumed: yes' would mean the peer "
          "resumed a session offered to it, so its handshake numbers would not all be full "
          "handshakes.")


def main_tls(args):
    """--tls: nginx, HAProxy and halyard-proxy terminating TLS in front of the same backend."""
    exclusive_machine()
    load_before = os.getloadavg()[0]
    machine = describe_machine(args)
    tmp = tempfile.mkdtemp(prefix="halyard-bench-tls-")
    fleet = Fleet(tmp)
    cert = make_certificate(tmp)
    launchers = {
        "halyard-proxy": lambda p: halyard_tls(fleet, p, backend_port, args.proxy, cert),
        "nginx": lambda p: nginx_tls_proxy(fleet, p, backend_port, cert),
        "haproxy": lambda p: haproxy(fleet, p, backend_port, cert),
    }
    names = list(launchers)
    results = {name: {load: [] for load in TLS_LOADS} for name in names}
    failed, facts = {}, {}
    try:
        backend_port = free_port()
        backend = nginx_backend(fleet, backend_port)
        wait_until(lambda: listening(backend_port), "port", backend, fleet)
        backend_pids = process_tree(backend.pid)
        for rnd in range(args.rounds):
            for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                if name in failed:
                    continue
                for load in TLS_LOADS:
                    port = free_port()
                    proc = None
                    try:
                        proc = launchers[name](port)
                        wait_until(lambda: listening(port), "port", proc, fleet)
                        time.sleep(0.5)
                        pids = process_tree(proc.pid)
                        idle_kb = sum(status_kb(p, "VmRSS") for p in pids)
                        facts[name] = check_tls_route(name, port, cert["cert"])
                    except (TlsNotServed, RuntimeError) as e:
                        # Only halyard-proxy may fail here (its TLS runtime may not be there
                        # yet); nginx or HAProxy failing means the benchmark itself is broken.
                        if name != "halyard-proxy":
                            raise
                        failed[name] = str(e)
                        print("round %d %-16s FAILED: %s" % (rnd + 1, name, e), file=sys.stderr,
                              flush=True)
                        if proc is not None:
                            fleet.stop(proc)
                        break
                    r = measure(port, pids, backend_port, backend_pids, args, idle_kb,
                                scheme="https", close=(load == "handshake"))
                    fleet.stop(proc)
                    results[name][load].append(r)
                    print("round %d %-16s %-10s %7.0f req/s p50 %5.0f us p99 %6.0f us  %6.2f "
                          "cpu-us/req  backend %4.2f cpu-us/req  RSS %s MB  upstream conns %d  "
                          "errors %d  load %.2f  others %.0f%%" % (
                              rnd + 1, name, load, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                              r["backend_us"], "+".join("%.1f" % m for m in r["hwm_each"]),
                              r["upstream"], r["errors"], r["load"], r["foreign"]),
                          file=sys.stderr, flush=True)
    finally:
        clean_up(fleet, tmp, args)
    report_tls(results, failed, facts, args, load_before, machine)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proxy", default=os.path.join(REPO, "build/bin/halyard-proxy"))
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of every process started (e.g. -10 as root to keep "
                             "other work on the machine from skewing the numbers)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    parser.add_argument("--tls", action="store_true",
                        help="measure TLS termination (keep-alive and full handshakes) instead "
                             "of plaintext HTTP/1.1")
    args = parser.parse_args()
    args.proxy = os.path.abspath(args.proxy)
    NICE[2] = str(args.nice)
    for tool in ("wrk", "nginx", "haproxy", "taskset") + (("openssl",) if args.tls else ()):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed (run scripts/setup.sh)" % tool)
    if not os.access(args.proxy, os.X_OK):
        sys.exit("bench: %s is not executable (build target halyard-proxy)" % args.proxy)
    if os.cpu_count() < 2:
        sys.exit("bench: needs 2 cores (client on core 0, servers on core 1)")
    # SIGTERM unwinds like Ctrl-C so the finally below stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.tls:
        sys.exit(main_tls(args))

    exclusive_machine()
    load_before = os.getloadavg()[0]
    machine = describe_machine(args)
    tmp = tempfile.mkdtemp(prefix="halyard-bench-")
    fleet = Fleet(tmp)
    launchers = {
        "backend (direct)": None,
        "halyard-proxy": lambda p: halyard(fleet, p, backend_port, args.proxy),
        "nginx": lambda p: nginx_proxy(fleet, p, backend_port),
        "haproxy": lambda p: haproxy(fleet, p, backend_port),
    }
    names = list(launchers)
    results = {name: [] for name in names}
    try:
        backend_port = free_port()
        backend = nginx_backend(fleet, backend_port)
        wait_until(lambda: listening(backend_port), "port", backend, fleet)
        backend_pids = process_tree(backend.pid)
        for rnd in range(args.rounds):
            for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                if launchers[name] is None:
                    check_route(name, backend_port, proxied=False)
                    r = measure(backend_port, backend_pids, backend_port, backend_pids, args, 0)
                else:
                    port = free_port()
                    proc = launchers[name](port)
                    wait_until(lambda: listening(port), "port", proc, fleet)
                    time.sleep(0.5)
                    pids = process_tree(proc.pid)
                    idle_kb = sum(status_kb(p, "VmRSS") for p in pids)
                    check_route(name, port, proxied=True)
                    r = measure(port, pids, backend_port, backend_pids, args, idle_kb)
                    fleet.stop(proc)
                results[name].append(r)
                print("round %d %-16s %7.0f req/s p50 %5.0f us p99 %6.0f us  %5.2f cpu-us/req"
                      "  backend %4.2f cpu-us/req  RSS %s MB  upstream conns %d  errors %d"
                      "  load %.2f  others %.0f%%" % (
                          rnd + 1, name, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                          r["backend_us"], "+".join("%.1f" % m for m in r["hwm_each"]),
                          r["upstream"], r["errors"], r["load"], r["foreign"]),
                      file=sys.stderr, flush=True)
    finally:
        clean_up(fleet, tmp, args)
    report(results, args, load_before, machine)


if __name__ == "__main__":
    main()
