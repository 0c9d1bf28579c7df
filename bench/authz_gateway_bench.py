#!/usr/bin/python3
"""What AuthorizationPolicy costs halyard-proxy per request: one gateway worker, keep-alive,
a small backend (a Python http.server would be the bottleneck, so nginx `return 200`), wrk
pinned apart; the same route with no policy, then with 20 AuthorizationPolicies that every
request is evaluated against (DENY policies that do not match on paths, methods, headers,
ipBlocks and remoteIpBlocks, then ALLOW policies of which the last matches). Rounds alternate
the two configs; the medians of the proxy's CPU microseconds per request (utime+stime of its
process over the run) and requests/s are printed as a Markdown table with the ratio.

    bench/authz_gateway_bench.py [--duration 5] [--rounds 3] [--connections 16]
                         [--proxy build/bin/halyard-proxy]

Not part of the test command. Needs wrk, nginx and taskset (scripts/setup.sh installs them).
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "bench.example.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def routes(backend_port):
    return """apiVersion: v1
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
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [%s]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - route: [{destination: {host: backend.default.svc.cluster.local, port: {number: 80}}}]
""" % (backend_port, backend_port, HOST, HOST)


def policies(count=20):
    """`count` policies: DENY ones that miss, ALLOW ones of which only the last matches."""
    denies = [
        '  - to: [{operation: {paths: ["/admin*", "*/debug", "/internal/{*}/x"]}}]',
        '  - to: [{operation: {methods: [DELETE, PATCH], notPaths: ["/public*"]}}]',
        '  - when: [{key: "request.headers[x-evil]", values: ["*"]}]',
        '  - from: [{source: {ipBlocks: [10.0.0.0/8, 192.168.0.0/16, "2001:db8::/32"]}}]',
        '  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]',
    ]
    out = []
    for i in range(count):
        if i < count // 2:
            action, rule = "DENY", denies[i % len(denies)]
        elif i < count - 1:
            action = "ALLOW"
            rule = ('  - to: [{operation: {hosts: ["other-%d.example.com"], paths: ["/v%d/*"]}}]'
                    % (i, i))
        else:
            action = "ALLOW"
            rule = ('  - to: [{operation: {hosts: ["%s"], methods: [GET], paths: ["/*"]}}]\n'
                    '    when: [{key: "request.headers[user-agent]", values: ["*"]}]' % HOST)
        out.append("""apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p%02d, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: %s
  rules:
%s
""" % (i, action, rule))
    return "---\n" + "---\n".join(out)


def wait_ok(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request("http://127.0.0.1:%d/x" % port, headers={"Host": HOST})
            with urllib.request.urlopen(req, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the proxy on %d does not answer 200" % port)


def wrk(port, duration, connections):
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", "-c%d" % connections, "-d%ds" % duration,
         "-H", "Host: " + HOST, "-H", "User-Agent: wrk", "http://127.0.0.1:%d/x" % port],
        capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError("some answers were not 200 (a policy denied?):\n" + out)
    return int(re.search(r"(\d+) requests in", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--proxy", default=os.path.join(REPO, "build/bin/halyard-proxy"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="authz-bench-")
    procs = []
    try:
        backend_port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("daemon off; worker_processes 1; pid %s/nginx.pid; error_log stderr;\n"
                    "events {} http { access_log off; server { listen 127.0.0.1:%d; "
                    "location / { return 200 'hello\\n'; } } }\n" % (tmp, backend_port))
        procs.append(subprocess.Popen(["taskset", "-c", "1", "nginx", "-c", conf, "-p", tmp],
                                      stderr=subprocess.DEVNULL))
        proxies = {}
        for name, extra in (("no policy", ""), ("20 policies", policies())):
            d = os.path.join(tmp, name.replace(" ", "-"))
            os.mkdir(d)
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write(routes(backend_port) + extra)
            port = free_port()
            p = subprocess.Popen(["taskset", "-c", "1", args.proxy, "--config", d, "--workers",
                                  "1", "--port-map", "80=%d" % port],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            proxies[name] = (port, p)
        for port, _ in proxies.values():
            wait_ok(port)
        results = {name: {"us": [], "rps": []} for name in proxies}
        for r in range(args.rounds):
            order = list(proxies) if r % 2 == 0 else list(reversed(list(proxies)))
            for name in order:
                port, p = proxies[name]
                before = cpu_seconds(p.pid)
                n = wrk(port, args.duration, args.connections)
                used = cpu_seconds(p.pid) - before
                results[name]["us"].append(used * 1e6 / max(n, 1))
                results[name]["rps"].append(n / args.duration)
        base = statistics.median(results["no policy"]["us"])
        print("| config | proxy CPU us/request (median) | requests/s (median) | CPU vs none |")
        print("|---|---|---|---|")
        for name in proxies:
            us = statistics.median(results[name]["us"])
            rps = statistics.median(results[name]["rps"])
            print("| %s | %.1f | %.0f | %.2fx |" % (name, us, rps, us / base))
        print("\n%d rounds of %ds, %d connections; load average before: %s" % (
            args.rounds, args.duration, args.connections, os.getloadavg()[0]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
