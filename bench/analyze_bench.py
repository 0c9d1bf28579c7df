#!/usr/bin/python3
"""Loads and analyzes a generated config of N VirtualServices and N DestinationRules.

Prints wall time and peak memory of `halyard analyze` over it (median of --rounds runs).
Targets (issue 2): under 2 s and under 300 MB for N = 10,000.

    bench/analyze_bench.py [--count 10000] [--rounds 3] [--halyard build/bin/halyard]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time


def generate(directory, count):
    """One file per 1,000 objects: Services, a shared Gateway, VirtualServices, DestinationRules."""
    per_file = 1000
    with open(os.path.join(directory, "gateway.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shared, namespace: bench}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.bench.example.com"]
""")
    for start in range(0, count, per_file):
        with open(os.path.join(directory, "objects-%05d.yaml" % start), "w") as f:
            for i in range(start, min(start + per_file, count)):
                f.write("""---
apiVersion: v1
kind: Service
metadata: {name: svc-%(i)d, namespace: bench}
spec:
  selector: {app: svc-%(i)d}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-%(i)d, namespace: bench}
spec:
  hosts: ["app-%(i)d.bench.example.com"]
  gateways: [shared]
  http:
  - name: canary
    match:
    - headers: {x-canary: {exact: "true"}}
      uri: {prefix: /api/v2}
    route:
    - destination: {host: svc-%(i)d, subset: v2}
  - match:
    - uri: {regex: "/api/v1/items/[0-9]+"}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    timeout: 10s
    route:
    - destination: {host: svc-%(i)d, subset: v1}
      weight: 90
    - destination: {host: svc-%(i)d, subset: v2}
      weight: 10
  - route:
    - destination: {host: svc-%(i)d, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-%(i)d, namespace: bench}
spec:
  host: svc-%(i)d
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
""" % {"i": i})


def run(halyard, directory):
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", halyard, "analyze", directory],
                          capture_output=True, text=True)
    elapsed = time.monotonic() - start
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return elapsed, peak_kb / 1024, proc.returncode, proc.stdout.count("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--halyard", default="build/bin/halyard")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="halyard-analyze-bench-") as d:
        generate(d, args.count)
        runs = [run(args.halyard, d) for _ in range(args.rounds)]
    secs = statistics.median(r[0] for r in runs)
    mb = statistics.median(r[1] for r in runs)
    print("| objects | wall time (median) | peak RSS (median) | exit code | message lines |")
    print("|---|---:|---:|---:|---:|")
    print("| %d VirtualServices + %d DestinationRules + %d Services | %.2f s | %.0f MB | %d | %d |" % (
        args.count, args.count, args.count, secs, mb, runs[0][2], runs[0][3]))
    print("targets: under 2 s (%s), under 300 MB (%s)" % (
        "met" if secs < 2 else "NOT met", "met" if mb < 300 else "NOT met"))


if __name__ == "__main__":
    main()
