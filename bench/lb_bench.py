#!/usr/bin/python3
"""Load balancer benchmark for halyard-proxy (issue 13).

Part 1, cost per request: one halyard-proxy worker in front of four fast nginx backends, one
route per policy (ROUND_ROBIN, LEAST_REQUEST, RANDOM, consistent hash on a header with a ring,
the same with Maglev, and the cookie key). wrk (keep-alive, a Lua script that gives each request
one of 1,000 x-user values and a matching cookie) drives each route in turn, alternating the
order every round; the proxy's CPU microseconds per request (utime+stime from /proc) are the
median over the rounds. Target: every policy within 5% of ROUND_ROBIN.

Part 2, tail latency with a slow endpoint: 200 concurrent wrk connections against four
asyncio backends that each serve 10 requests at once (the rest queue), one of them 10x slower
(100 ms per request against 10 ms: a tenth of the capacity). ROUND_ROBIN keeps sending it a
quarter of the requests, so its queue holds most of the clients; LEAST_REQUEST (power of two
choices on requests in flight) sends it about its share of the capacity. Target:
LEAST_REQUEST's p99 below ROUND_ROBIN's.

    bench/lb_bench.py [--duration 5] [--rounds 3] [--proxy build/bin/halyard-proxy]

Not part of the test command. Needs wrk, nginx and taskset (scripts/setup.sh installs them).
Everything listens on 127.0.0.1 on free ports in a temp dir and is stopped on exit.
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
CONCURRENCY = 10  # requests each part-2 backend serves at once
HOST = "lb.example.com"

POLICIES = [
    ("ROUND_ROBIN", "/rr", "loadBalancer: {simple: ROUND_ROBIN}"),
    ("LEAST_REQUEST", "/lr", "loadBalancer: {simple: LEAST_REQUEST}"),
    ("RANDOM", "/random", "loadBalancer: {simple: RANDOM}"),
    ("HASH header ring", "/ring",
     "loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 1024}}}"),
    ("HASH header maglev", "/maglev",
     "loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}}"),
    ("HASH cookie ring", "/cookie",
     "loadBalancer: {consistentHash: {httpCookie: {name: u, ttl: 0s}}}"),
]

LUA = """
local n = 0
request = function()
  n = (n + 1) %% 1000
  wrk.headers["x-user"] = "user-" .. n
  wrk.headers["Cookie"] = "u=user-" .. n
  return wrk.format(nil, "%s")
end
"""

SLOW_BACKEND = r"""
import asyncio, sys
delay = float(sys.argv[2]) / 1000.0
body = b"ok\n"
busy = None
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            async with busy:  # a fixed number of requests served at once: capacity, not just delay
                await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + body)
            await writer.drain()
    except Exception:
        writer.close()
async def main():
    global busy
    busy = asyncio.Semaphore(int(sys.argv[3]))
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Fleet:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="lb-bench-")
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdout=kw.pop("stdout", subprocess.DEVNULL),
                             stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_ready(url, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("not ready: " + url)


def nginx_backends(fleet, count):
    ports = [free_port() for _ in range(count)]
    servers = "".join("  server { listen 127.0.0.1:%d backlog=4096; location / { return 200 \"ok\\n\"; } }\n"
                      % p for p in ports)
    conf = os.path.join(fleet.tmp, "backends.conf")
    with open(conf, "w") as f:
        f.write("daemon off; worker_processes 1; pid %s/b.pid; error_log stderr error;\n"
                "events { worker_connections 4096; }\nhttp { access_log off; "
                "keepalive_requests 1000000; keepalive_timeout 300s;\n%s}\n" % (fleet.tmp, servers))
    fleet.start(["taskset", "-c", "1", "nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])
    return ports


def slow_backends(fleet, delays):
    script = os.path.join(fleet.tmp, "slow.py")
    with open(script, "w") as f:
        f.write(SLOW_BACKEND)
    ports = []
    for d in delays:
        port = free_port()
        p = fleet.start([sys.executable, script, str(port), str(d), str(CONCURRENCY)],
                        stdout=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"ready"
        ports.append(port)
    return ports


def config(backend_ports, policies):
    endpoints = "".join("  - {address: 127.0.0.1, ports: {http: %d}}\n" % p for p in backend_ports)
    routes = "".join("  - match: [{uri: {prefix: %s}}]\n    route: [{destination: {host: %s.internal}}]\n"
                     % (path, path[1:]) for _, path, _ in policies)
    docs = ["""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: lb, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["%s"]
""" % HOST, """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: lb, namespace: default}
spec:
  hosts: ["%s"]
  gateways: [lb]
  http:
%s""" % (HOST, routes)]
    for _, path, policy in policies:
        name = path[1:]
        docs.append("""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
%s---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s, namespace: default}
spec:
  host: %s.internal
  trafficPolicy:
    %s
""" % (name, name, endpoints, name, name, policy))
    return "---\n".join(docs)


def start_proxy(fleet, binary, cfg_text, workers):
    cfg = os.path.join(fleet.tmp, "cfg-%d" % len(fleet.procs))
    os.makedirs(cfg)
    with open(os.path.join(cfg, "lb.yaml"), "w") as f:
        f.write(cfg_text)
    port, admin = free_port(), free_port()
    p = fleet.start(["taskset", "-c", "1", binary, "--config", cfg, "--port-map", "80=%d" % port,
                     "--workers", str(workers), "--admin", "127.0.0.1:%d" % admin])
    wait_ready("http://127.0.0.1:%d/ready" % admin)
    return p, port


def wrk(port, path, duration, connections, threads=1, script=None):
    cmd = ["taskset", "-c", "0", "wrk", "-t%d" % threads, "-c%d" % connections,
           "-d%ds" % duration, "--latency", "--timeout", "30s", "-H", "Host: " + HOST]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True,
                         text=True, check=True, timeout=duration + 60).stdout

    def latency(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": latency("50"), "p99": latency("99"),
            "errors": int(non2xx.group(1)) if non2xx else 0}


def part1(fleet, args):
    backends = nginx_backends(fleet, 4)
    proxy, port = start_proxy(fleet, args.proxy, config(backends, POLICIES), 1)
    results = {name: [] for name, _, _ in POLICIES}
    for rnd in range(args.rounds):
        order = POLICIES[rnd % len(POLICIES):] + POLICIES[:rnd % len(POLICIES)]
        for name, path, _ in order:
            script = os.path.join(fleet.tmp, "users%s.lua" % path.replace("/", "_"))
            with open(script, "w") as f:
                f.write(LUA % path)
            wrk(port, path, 1, 32, script=script)  # warm-up: pools filled
            cpu0 = cpu_seconds(proxy.pid)
            r = wrk(port, path, args.duration, 32, script=script)
            r["cpu_us"] = (cpu_seconds(proxy.pid) - cpu0) * 1e6 / max(r["requests"], 1)
            results[name].append(r)
    base = statistics.median(r["cpu_us"] for r in results["ROUND_ROBIN"])
    print("\n### CPU per request, 1 worker, 4 endpoints, 32 keep-alive connections "
          "(median of %d rounds of %d s)\n" % (args.rounds, args.duration))
    print("| policy | requests/s | proxy CPU µs/request | vs ROUND_ROBIN | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    worst = 0.0
    for name, _, _ in POLICIES:
        rs = results[name]
        cpu = statistics.median(r["cpu_us"] for r in rs)
        ratio = cpu / base
        worst = max(worst, ratio)
        print("| %s | %.0f | %.1f | %+.1f%% | %.2f | %d |" % (
            name, statistics.median(r["rps"] for r in rs), cpu, (ratio - 1) * 100,
            statistics.median(r["p99"] for r in rs), sum(r["errors"] for r in rs)))
    return worst


def part2(fleet, args):
    delays = [10, 10, 10, 100]
    backends = slow_backends(fleet, delays)
    policies = [p for p in POLICIES if p[0] in ("ROUND_ROBIN", "LEAST_REQUEST")]
    proxy, port = start_proxy(fleet, args.proxy, config(backends, policies), 1)
    results = {name: [] for name, _, _ in policies}
    for rnd in range(args.rounds):
        order = policies if rnd % 2 == 0 else list(reversed(policies))
        for name, path, _ in order:
            # The backends finish what clients of the previous run left queued (requests whose
            # clients are gone still take their turn) before this run starts.
            time.sleep(3)
            wrk(port, path, 1, 200, threads=2)
            results[name].append(wrk(port, path, args.duration, 200, threads=2))
    print("\n### 200 concurrent connections, 4 endpoints serving 10 requests at once, one 10x "
          "slower (100 ms vs 10 ms per request) "
          "(median of %d rounds of %d s)\n" % (args.rounds, args.duration))
    print("| policy | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|")
    p99 = {}
    for name, _, _ in policies:
        rs = results[name]
        p99[name] = statistics.median(r["p99"] for r in rs)
        print("| %s | %.0f | %.1f | %.1f | %d |" % (
            name, statistics.median(r["rps"] for r in rs), statistics.median(r["p50"] for r in rs),
            p99[name], sum(r["errors"] for r in rs)))
    return p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proxy", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                        "bin", "halyard-proxy"))
    args = parser.parse_args()
    fleet = Fleet()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        worst = part1(fleet, args)
        fleet.stop()
        fleet = Fleet()
        p99 = part2(fleet, args)
    finally:
        fleet.stop()
    print("\nworst policy vs ROUND_ROBIN CPU: %+.1f%% (target within 5%%); LEAST_REQUEST p99 %.1f ms "
          "vs ROUND_ROBIN p99 %.1f ms (target: lower)" % ((worst - 1) * 100, p99["LEAST_REQUEST"],
                                                         p99["ROUND_ROBIN"]))


if __name__ == "__main__":
    main()
