#!/usr/bin/python3
"""The cost of tracing at 100% sampling: bench/mesh_bench.py's two sidecars (client -> server,
mutual TLS), measured with tracing off and with a mesh-wide Telemetry sending every request's
spans (two per request: the client's outbound span and the server's inbound span) to a Zipkin
collector in this process, alternating per round.

Reported per mode (medians): requests/s, p50/p99, CPU of the two sidecars per request, and the
spans the collector received, plus the tracing/off CPU ratio (the issue's bound: at most 1.10).

    bench/tracing_bench.py [--duration 10] [--connections 16] [--rounds 3] [--build build]
                           [--side-by-side] [--rate N] [--slice 2]

Two such meshes run, one traced and one not (the traced one swapped every round). By default they
run alone in turn, in slices of --slice seconds (A B B A A B ...) adding up to --duration each per
round: each mode has the machine to itself, and a shared VM host, which can change speed by a
third from one minute to the next, changes it for both alike. (Measured one mode after the other,
10 s each, tracing off alone varied from 31.7 to 42.2 us per request within two minutes.)
With --side-by-side they run at the same time instead, sharing the cores.

With --rate N, both modes get the same load, N requests a second in all (h2load --h1 --rps), instead
of wrk's as-fast-as-it-can: run alone, the two modes otherwise serve different loads (tracing
serves fewer requests a second), and a sidecar's CPU per request depends on its load (fewer
requests per wake-up cost more each). Istio's own benchmarks measure at a fixed QPS likewise.
Pick N below what the traced mesh serves flat out (the plain run prints it); h2load reports no
percentiles, so its mean latency stands in the p50 column.

Not part of the test command; needs wrk, h2load, nginx and taskset like mesh_bench.py.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_bench import REPO, Up, config_dir, cpu_model, h2load_paced, measure  # noqa: E402
from proxy_bench import free_port  # noqa: E402

TRACING = """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: bench-zipkin
      zipkin: {service: 127.0.0.1, port: %d}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: bench-zipkin}]
    randomSamplingPercentage: 100
"""


class Collector:
    """Counts the spans POSTed to it (Zipkin v2 JSON). It counts "traceId" keys instead of parsing
    the batches: parsing 20,000 spans a second in Python took a good part of a core, and on this
    2-core machine that CPU came out of the sidecars' share."""

    def __init__(self):
        self.spans = 0
        me = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections, as real collectors do

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                me.spans += body.count(b'"traceId"')
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def set_mode(cfg, mode, collector, settle=True):
    path = os.path.join(cfg, "tracing.yaml")
    if mode == "tracing":
        with open(path, "w") as f:
            f.write(TRACING % collector.port)
    elif os.path.exists(path):
        os.unlink(path)
    if settle:
        time.sleep(3)  # the push reaches both sidecars well within this


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--side-by-side", action="store_true",
                   help="run two meshes at once, one traced and one not (swapped every round), "
                        "so that a change in the machine's speed hits both modes alike")
    p.add_argument("--slice", type=float, default=2,
                   help="seconds each mesh runs alone before the other one's turn")
    p.add_argument("--rate", type=float, default=0,
                   help="requests a second in all, the same in both modes (h2load); "
                        "0: as many as wrk gets through")
    args = p.parse_args()
    args.load = h2load_paced(args.rate) if args.rate > 0 else None
    # This process (the collector) stays on wrk's core, off the sidecars' one (mesh_bench.Up).
    os.sched_setaffinity(0, {0})
    for tool in ("wrk", "nginx", "taskset") + (("h2load",) if args.rate > 0 else ()):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/setup.sh installs it)" % tool)
    collector = Collector()
    meshes = []
    try:
        for name in ("a", "b"):
            tmp = tempfile.mkdtemp(prefix="halyard-tracing-bench-%s-" % name)
            cfg = config_dir(tmp, free_port(), free_port())
            meshes.append((tmp, cfg, Up(args.build, cfg, tmp)))
        if args.side_by_side:
            print("Side by side: two meshes at once, the traced one swapped every round.")
            results = side_by_side(args, collector, meshes)
        else:
            print("In turn: two meshes, each alone in %g s slices, the traced one swapped every "
                  "round." % args.slice)
            results = in_turn(args, collector, meshes)
    finally:
        for tmp, _, up in meshes:
            up.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        collector.server.shutdown()
    report(args, results)


def set_modes(meshes, modes, collector):
    for (_, cfg, _), mode in zip(meshes, modes):
        set_mode(cfg, mode, collector, settle=False)
    time.sleep(3)  # the push reaches every sidecar well within this


def in_turn(args, collector, meshes):
    """Each mesh alone, in turn, slice by slice: each mode gets the whole machine, and the slices
    interleave so closely that a drift of the machine's speed hits both."""
    results = {"off": [], "tracing": []}
    sliced = argparse.Namespace(**vars(args))
    sliced.duration = args.slice
    slices = max(1, round(args.duration / args.slice))
    for rnd in range(args.rounds):
        modes = ("tracing", "off") if rnd % 2 == 0 else ("off", "tracing")
        set_modes(meshes, modes, collector)
        for _, _, up in meshes:  # warm-up: fills the pools
            measure(up, sliced, args.load)
        spans0 = collector.spans
        parts = {"off": [], "tracing": []}
        for k in range(slices):
            for i in ((0, 1) if k % 2 == 0 else (1, 0)):
                parts[modes[i]].append(measure(meshes[i][2], sliced, args.load, warm_up=False))
        time.sleep(2)  # the last batch
        for mode in modes:
            done = sum(r["requests"] for r in parts[mode])
            r = {"requests": done, "rps": done / (slices * args.slice),
                 "cpu_us": sum(r["cpu_us"] * r["requests"] for r in parts[mode]) / max(done, 1),
                 "p50": statistics.median(r["p50"] for r in parts[mode]),
                 "p99": None if args.load else statistics.median(r["p99"] for r in parts[mode]),
                 "errors": sum(r["errors"] for r in parts[mode]),
                 "spans": collector.spans - spans0 if mode == "tracing" else 0}
            if r["errors"]:
                raise RuntimeError("%s: %d requests failed" % (mode, r["errors"]))
            results[mode].append(r)
            print("round %d %-8s %8.0f req/s  %6.1f us/req (pair)  %d spans" %
                  (rnd + 1, mode, r["rps"], r["cpu_us"], r["spans"]), file=sys.stderr)
    return results


def side_by_side(args, collector, meshes):
    """Both modes at the same time on the same cores: mesh A traced and mesh B not, then the
    other way round, every round. Each mesh's wrk and sidecars are measured over the same
    seconds, so the machine's speed (other tenants of a shared host) is the same for both."""
    results = {"off": [], "tracing": []}
    for rnd in range(args.rounds):
        modes = ("tracing", "off") if rnd % 2 == 0 else ("off", "tracing")
        set_modes(meshes, modes, collector)
        spans0 = collector.spans
        measured = [None, None]

        def run(i):
            measured[i] = measure(meshes[i][2], args, args.load)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(2)  # the last batch
        for r, mode in zip(measured, modes):
            if r is None or r["errors"]:
                raise RuntimeError("%s: requests failed" % mode)
            r["spans"] = collector.spans - spans0 if mode == "tracing" else 0
            results[mode].append(r)
            print("round %d %-8s %8.0f req/s  %6.1f us/req (pair)  %d spans" %
                  (rnd + 1, mode, r["rps"], r["cpu_us"], r["spans"]), file=sys.stderr)
    return results


def report(args, results):
    def med(mode, key):
        return statistics.median(r[key] for r in results[mode])

    paced = "at %.0f requests/s (h2load)" % args.rate if args.rate > 0 else "as fast as wrk goes"
    print("CPU: %s, %d cores; %d rounds of %d s, %d connections, keep-alive, %s\n" %
          (cpu_model(), os.cpu_count(), args.rounds, args.duration, args.connections, paced))
    print("| mode | req/s | %s | p99 ms | CPU us/req (both sidecars) | spans received |" %
          ("mean ms" if args.rate > 0 else "p50 ms"))
    print("|---|---|---|---|---|---|")
    for mode in ("off", "tracing"):
        p99 = "-" if args.rate > 0 else "%.2f" % (med(mode, "p99") / 1000)
        print("| %s | %.0f | %.2f | %s | %.1f | %.0f |" % (
            mode, med(mode, "rps"), med(mode, "p50") / 1000, p99, med(mode, "cpu_us"),
            med(mode, "spans")))
    print("\ntracing/off CPU per request: %.2fx" % (med("tracing", "cpu_us") / med("off", "cpu_us")))
    # Each round measures both modes back to back: the median of the rounds' own ratios is less
    # sensitive to the load drifting between rounds on a shared machine.
    paired = [t["cpu_us"] / o["cpu_us"] for t, o in zip(results["tracing"], results["off"])]
    print("median of the rounds' ratios: %.2fx (%s)" % (
        statistics.median(paired), ", ".join("%.2f" % r for r in paired)))


if __name__ == "__main__":
    main()
