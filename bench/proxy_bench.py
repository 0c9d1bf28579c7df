#!/usr/bin/python3
"""Side-by-side HTTP/1.1 proxy benchmark: backend direct, halyard-proxy, nginx, HAProxy.

Each proxy gets one worker, keep-alive on both sides, and the same route to the same fast
backend (an nginx answering a small static body). wrk runs pinned to core 0; proxies and the
backend are pinned to core 1. Peers alternate inside each round; three rounds; medians are
printed with CPU microseconds per request of each proxy process (utime+stime from /proc),
peak RSS, idle RSS and the ratios to nginx and HAProxy.

    bench/proxy_bench.py [--duration 10] [--connections 32] [--rounds 3] [--proxy build/bin/halyard-proxy]

Not part of the test command. Needs: wrk, nginx, haproxy, taskset (scripts/setup.sh installs them).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "bench.example.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on port %d" % port)


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            pass
    return total / CLK_TCK


def rss_kb(pids, field):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def children(pid):
    """The process and its descendants (nginx and HAProxy fork workers)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    pids = [pid]
    for p in out.stdout.split():
        pids.extend(children(int(p)))
    return pids


def start(cmd, **kw):
    return subprocess.Popen(["taskset", "-c", "1"] + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kw)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def nginx_backend(tmp, port):
    conf = os.path.join(tmp, "backend.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/backend.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:%d; location / { return 200 "hello from the backend\\n"; } } }
""" % (tmp, port))
    return start(["nginx", "-c", conf, "-p", tmp])


def nginx_proxy(tmp, port, backend):
    conf = os.path.join(tmp, "nginx-proxy.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/proxy.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream be { server 127.0.0.1:%d; keepalive 128; }
  server { listen 127.0.0.1:%d;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
""" % (tmp, backend, port))
    return start(["nginx", "-c", conf, "-p", tmp])


def haproxy(tmp, port, backend):
    conf = os.path.join(tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  server s1 127.0.0.1:%d
""" % (port, backend))
    return start(["haproxy", "-f", conf])


def halyard(tmp, port, backend, binary):
    cfg = os.path.join(tmp, "halyard")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "bench.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["%s"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: default}
spec:
  hosts: ["%s"]
  gateways: [bench]
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
""" % (HOST, HOST, backend, backend))
    admin = free_port()
    proc = start([binary, "--config", cfg, "--port-map", "80=%d" % port, "--workers", "1",
                  "--admin", "127.0.0.1:%d" % admin])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/ready" % admin, timeout=0.5)
            break
        except OSError:
            time.sleep(0.05)
    return proc


def wrk(port, duration, connections):
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", "-c%d" % connections, "-d%ds" % duration,
         "--latency", "-H", "Host: " + HOST, "http://127.0.0.1:%d/" % port],
        capture_output=True, text=True, check=True).stdout

    def latency(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 1, "ms": 1000, "s": 1e6}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "requests": requests,
            "errors": int(errors.group(1)) if errors else 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proxy", default="build/bin/halyard-proxy")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "haproxy", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed (run scripts/setup.sh)" % tool)

    tmp = tempfile.mkdtemp(prefix="halyard-bench-")
    backend_port = free_port()
    backend = nginx_backend(tmp, backend_port)
    wait_port(backend_port)
    peers = {
        "backend (direct)": None,
        "halyard-proxy": lambda p: halyard(tmp, p, backend_port, args.proxy),
        "nginx": lambda p: nginx_proxy(tmp, p, backend_port),
        "haproxy": lambda p: haproxy(tmp, p, backend_port),
    }
    results = {name: [] for name in peers}
    try:
        for rnd in range(args.rounds):
            for name, launch in peers.items():
                if launch is None:
                    r = wrk(backend_port, args.duration, args.connections)
                    r.update(cpu_us=0.0, rss_mb=0.0, idle_mb=0.0)
                else:
                    port = free_port()
                    proc = launch(port)
                    wait_port(port)
                    time.sleep(0.3)
                    pids = children(proc.pid)
                    idle = rss_kb(pids, "VmRSS") / 1024
                    wrk(port, 1, args.connections)  # warm up pools
                    cpu0 = cpu_seconds(pids)
                    r = wrk(port, args.duration, args.connections)
                    cpu = cpu_seconds(pids) - cpu0
                    r.update(cpu_us=cpu * 1e6 / max(r["requests"], 1),
                             rss_mb=rss_kb(pids, "VmHWM") / 1024, idle_mb=idle)
                    stop(proc)
                results[name].append(r)
                print("round %d %-17s %9.0f req/s  p50 %7.0f us  p99 %7.0f us  %5.1f cpu-us/req"
                      " errors %d" % (rnd + 1, name, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                                      r["errors"]), file=sys.stderr)
    finally:
        stop(backend)

    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for name, runs in results.items()}
    print("\n%d rounds x %ds, %d connections, 1 worker each, medians" %
          (args.rounds, args.duration, args.connections))
    print("| peer | req/s | p50 us | p99 us | CPU us/req | peak RSS MB | idle RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        print("| %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.1f |" % (
            name, m["rps"], m["p50"], m["p99"], m["cpu_us"], m["rss_mb"], m["idle_mb"]))
    h = med["halyard-proxy"]
    print()
    for peer in ("nginx", "haproxy"):
        p = med[peer]
        print("halyard-proxy / %s: throughput %.2fx, CPU per request %.2fx, peak RSS %.2fx" % (
            peer, h["rps"] / p["rps"], h["cpu_us"] / p["cpu_us"], h["rss_mb"] / p["rss_mb"]))


if __name__ == "__main__":
    main()
