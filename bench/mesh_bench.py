#!/usr/bin/python3
"""Two sidecars under `halyard up`, requests through both: the cost of mesh mutual TLS.

A `client` workload (an idle app) and a `server` workload (nginx answering a small body) each
get a sidecar. wrk sends keep-alive requests to the client's sidecar (its outbound HTTP proxy,
Host server-svc), which forwards them to the server's sidecar, which hands them to nginx. The
same mesh is measured in two modes, alternating per round:

  mtls       Istio's default: auto mTLS between the sidecars (workload certificates from the
             control plane's CA, SPIFFE IDs verified)
  plaintext  a DestinationRule with trafficPolicy.tls.mode DISABLE for server-svc

Reported per mode (medians over the rounds): requests/s, p50/p99 latency, CPU of the two
sidecars together per request (utime+stime from /proc), the same as vCPU per 1,000 requests/s,
each sidecar's peak RSS (VmHWM), and the connections the client's sidecar opened to the server's
(pooled: a handful, never one per request), plus the mtls/plaintext ratio. wrk runs on core 0,
everything halyard up starts on core 1.

    bench/mesh_bench.py [--duration 10] [--connections 16] [--rounds 3] [--build build]

Not part of the test command. Needs wrk, nginx, taskset (scripts/setup.sh installs them).
Everything listens on 127.0.0.1 and is stopped on exit.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_bench import cpu_seconds, free_port, status_kb  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = "hello from the backend\n"
SERVER_HOST = "server-svc"


def config_dir(tmp, server_port, client_port):
    cfg = os.path.join(tmp, "mesh")
    os.makedirs(cfg)
    conf = os.path.join(tmp, "server-nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/server.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:%d backlog=4096; location / { return 200 "%s"; } } }
""" % (tmp, server_port, BODY.replace("\n", "\\n")))
    with open(os.path.join(cfg, "mesh.yaml"), "w") as f:
        f.write("""apiVersion: v1
kind: Service
metadata: {name: server-svc, namespace: default}
spec:
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: %(server_port)d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: server, namespace: default, labels: {app: server, version: v1}}
spec:
  serviceAccount: server
  service: server-svc
  port: %(server_port)d
  command: [nginx, -e, stderr, -c, %(conf)s, -p, %(tmp)s]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: client, namespace: default, labels: {app: client, version: v1}}
spec:
  serviceAccount: client
  port: %(client_port)d
  command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%(client_port)d"]
""" % {"server_port": server_port, "client_port": client_port, "conf": conf, "tmp": tmp})
    return cfg


DISABLE_DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: server-plaintext, namespace: default}
spec:
  host: server-svc.default.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
"""


def admin_get(address, path):
    return urllib.request.urlopen("http://%s%s" % (address, path), timeout=5).read().decode()


def cluster_dump(address):
    dump = json.loads(admin_get(address, "/config_dump"))
    return next(c for c in dump["clusters"] if "server-svc" in c["name"] and
                c["name"].startswith("outbound"))


def counter(text, name, *labels):
    total = 0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(l in line for l in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wrk(port, duration, connections):
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", "-c%d" % connections, "-d%ds" % duration,
         "--latency", "-H", "Host: " + SERVER_HOST, "http://127.0.0.1:%d/" % port],
        capture_output=True, text=True, check=True, timeout=duration + 60).stdout

    def latency(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(non2xx.group(1)) if non2xx else 0}


class Up:
    def __init__(self, build, cfg, tmp):
        self.log_dir = os.path.join(tmp, "logs")
        self.out = open(os.path.join(tmp, "up.out"), "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(build, "bin", "halyard"), "up", cfg,
             "--base-port", "0", "--port-map", "80=%d" % free_port(), "--log-dir", self.log_dir,
             # No implicit 1% tracing to the control plane: "off" stays off in every bench.
             "--no-trace-collector"],
            stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while "is running" not in open(os.path.join(tmp, "up.out")).read():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("halyard up did not start:\n" +
                                   open(os.path.join(tmp, "up.out")).read())
            time.sleep(0.2)
        self.state = json.load(open(os.path.join(self.log_dir, "state.json")))

    def workload(self, name):
        return next(w for w in self.state["workloads"] if w["name"] == name)

    def pid(self, name):
        return next(p["pid"] for p in self.state["processes"] if p["name"] == name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.out.close()


def h2load_paced(rate):
    """A load at `rate` requests a second in all (h2load --h1 --rps, split over the connections),
    where wrk sends as fast as it can: the same load for every mode measured, so that CPU per
    request compares like for like (as Istio's own benchmarks run fortio at a fixed QPS)."""
    def load(port, duration, connections):
        out = subprocess.run(
            ["taskset", "-c", "0", "h2load", "--h1", "-c%d" % connections, "-D%d" % duration,
             "--rps=%g" % (rate / connections), "-H", ":authority: " + SERVER_HOST,
             "http://127.0.0.1:%d/" % port],
            capture_output=True, text=True, check=True, timeout=duration + 60).stdout
        m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
        ok = int(m.group(1))
        return {"rps": ok / duration,
                # h2load gives no percentiles: its mean stands in both columns (marked so).
                "p50": float(mean.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[mean.group(2)],
                "p99": None, "requests": ok,
                "errors": int(codes.group(3)) + int(codes.group(4))}
    return load


def measure(up, args, load=None, warm_up=True):
    load = load or wrk
    client = up.workload("client")
    pids = [up.pid("client.sidecar"), up.pid("server.sidecar")]
    port = client["outbound_port"]
    if warm_up:
        load(port, 1, args.connections)  # fills the pools
    before = admin_get(client["admin"], "/stats/prometheus")
    cpu0 = cpu_seconds(pids)
    r = load(port, args.duration, args.connections)
    cpu = cpu_seconds(pids) - cpu0
    after = admin_get(client["admin"], "/stats/prometheus")
    opened = (counter(after, "envoy_cluster_upstream_cx_total", "server-svc") -
              counter(before, "envoy_cluster_upstream_cx_total", "server-svc"))
    per_request = cpu * 1e6 / max(r["requests"], 1)
    r.update(cpu_us=per_request, vcpu_per_krps=per_request / 1000.0,
             rss=[status_kb(p, "VmHWM") / 1024 for p in pids], opened=opened)
    return r


def set_mode(up, cfg, mode):
    path = os.path.join(cfg, "server-plaintext.yaml")
    if mode == "plaintext":
        with open(path, "w") as f:
            f.write(DISABLE_DR)
    elif os.path.exists(path):
        os.unlink(path)
    client = up.workload("client")["admin"]
    deadline = time.time() + 15
    while time.time() < deadline:
        disabled = "tls_disabled_by" in cluster_dump(client)
        if disabled == (mode == "plaintext"):
            return
        time.sleep(0.2)
    raise RuntimeError("the client's sidecar never switched to " + mode)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    args = p.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/setup.sh installs it)" % tool)
    tmp = tempfile.mkdtemp(prefix="halyard-mesh-bench-")
    cfg = config_dir(tmp, free_port(), free_port())
    up = Up(args.build, cfg, tmp)
    results = {"mtls": [], "plaintext": []}
    try:
        for rnd in range(args.rounds):
            for mode in (("mtls", "plaintext") if rnd % 2 == 0 else ("plaintext", "mtls")):
                set_mode(up, cfg, mode)
                r = measure(up, args)
                if r["errors"]:
                    raise RuntimeError("%s: %d requests failed" % (mode, r["errors"]))
                results[mode].append(r)
                print("round %d %-9s %8.0f req/s  %6.1f us/req (pair)" %
                      (rnd + 1, mode, r["rps"], r["cpu_us"]), file=sys.stderr)
    finally:
        up.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode, key, index=None):
        values = [r[key] if index is None else r[key][index] for r in results[mode]]
        return statistics.median(values)

    print("CPU: %s, %d cores; %d rounds of %d s, %d connections, keep-alive\n" %
          (cpu_model(), os.cpu_count(), args.rounds, args.duration, args.connections))
    print("| mode | req/s | p50 ms | p99 ms | CPU us/req (both sidecars) | vCPU per 1k req/s | "
          "client sidecar RSS MB | server sidecar RSS MB | connections opened |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in ("mtls", "plaintext"):
        print("| %s | %.0f | %.2f | %.2f | %.1f | %.3f | %.1f | %.1f | %.0f |" % (
            mode, med(mode, "rps"), med(mode, "p50") / 1000, med(mode, "p99") / 1000,
            med(mode, "cpu_us"), med(mode, "vcpu_per_krps"), med(mode, "rss", 0),
            med(mode, "rss", 1), med(mode, "opened")))
    print("\nmTLS / plaintext CPU per request: %.2fx" %
          (med("mtls", "cpu_us") / med("plaintext", "cpu_us")))


if __name__ == "__main__":
    main()
