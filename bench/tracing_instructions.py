#!/usr/bin/python3
"""Instructions per request that tracing at 100% sampling adds to the mesh's two sidecars,
counted by Valgrind's callgrind: a figure that does not move with the machine's load, where
CPU time per request (bench/tracing_bench.py) swings by a third between runs on a shared host.

The mesh is bench/mesh_bench.py's (client sidecar -> server sidecar, mutual TLS, nginx behind),
started by `halyard up` with HALYARD_PROXY_WRAPPER pointing at a script that runs each proxy under
callgrind. It runs twice: tracing off, then a mesh-wide Telemetry sampling every request to a
Zipkin collector in this process (bench/tracing_bench.py's). Each time, after a warm-up, the
counters of both sidecars (every thread: workers and the span exporter) are zeroed, --requests
keep-alive requests are sent, the exporter is given time to post their spans, and the counters are
dumped, one file per thread. Reported: instructions per request per sidecar and in total, per
kind of thread (workers, span exporter, main), the tracing/off ratio, and the spans the collector
received in the measured window (two per request when tracing works). The main thread's share
moves with the control plane's scrapes (about 2,000 a request between runs), so the figure to
compare is workers and exporter together (the bold row).

    bench/tracing_instructions.py [--requests 3000] [--warmup 500] [--connections 4] [--top N]
                                  [--build build] [--keep]

--top N also lists the N functions whose own (self) instructions per request grow most with
tracing, both sidecars together. Cache misses, locks and system calls are not weighed: the
issue's bound is CPU time (tracing_bench.py); this says whether a change made tracing cheaper.
Not part of the test command. Needs nginx and taskset (scripts/setup.sh installs them) and
Valgrind (`apt-get install valgrind`; not in setup.sh, since no test uses it).
"""
import argparse
import collections
import glob
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_bench import REPO, SERVER_HOST, Up, config_dir, cpu_model  # noqa: E402
from proxy_bench import free_port  # noqa: E402
from tracing_bench import Collector, set_mode  # noqa: E402

SIDECARS = ("client.sidecar", "server.sidecar")


def send(port, requests, connections):
    """`requests` keep-alive GETs through the client's outbound listener, over `connections`
    connections at once; every answer must be a 200."""
    failures = []

    def run(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for _ in range(n):
                conn.request("GET", "/", headers={"Host": SERVER_HOST})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    failures.append(resp.status)
        finally:
            conn.close()

    share = [requests // connections + (1 if i < requests % connections else 0)
             for i in range(connections)]
    threads = [threading.Thread(target=run, args=(n,)) for n in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError("%d of %d requests did not answer 200 (first: %d)" %
                           (len(failures), requests, failures[0]))


def wait_routable(port, timeout=60):
    """Under callgrind the sidecars can be serving before the server's endpoint reached the
    client's: waits for a first 200."""
    deadline = time.time() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/", headers={"Host": SERVER_HOST})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError("no 200 through the client's sidecar within %d s" % timeout)
        time.sleep(0.5)


def wait_spans(collector, want, timeout=60):
    """Waits until the collector has `want` spans (the exporter posts about once a second)."""
    deadline = time.time() + timeout
    while collector.spans < want and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # a last, unexpected batch would show in the count
    return collector.spans


def callgrind(args, pids, what):
    for pid in pids:
        subprocess.run(["callgrind_control", what, str(pid)], capture_output=True, check=True)


def run_mode(args, collector, mode, workdir):
    """One mesh under callgrind in `mode`; {sidecar: [dump file per thread]}, spans in the
    measured window."""
    os.makedirs(workdir)
    wrapper = os.path.join(workdir, "callgrind.sh")
    with open(wrapper, "w") as f:
        # One dump file per thread: the exporter's share is told from the workers'.
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --separate-threads=yes "
                "--callgrind-out-file=%s/cg.%%p.out \"$@\"\n" % workdir)
    os.chmod(wrapper, 0o755)
    cfg = config_dir(workdir, free_port(), free_port())
    set_mode(cfg, mode, collector, settle=False)  # in place before the mesh starts
    os.environ["HALYARD_PROXY_WRAPPER"] = wrapper
    try:
        up = Up(args.build, cfg, workdir)
    finally:
        del os.environ["HALYARD_PROXY_WRAPPER"]
    try:
        pids = [up.pid(name) for name in SIDECARS]
        port = up.workload("client")["outbound_port"]
        wait_routable(port)
        spans0 = collector.spans
        send(port, args.warmup, args.connections)  # every path taken, pools and buffers filled
        if mode == "tracing":
            spans0 = wait_spans(collector, spans0 + 2 * args.warmup)
        else:
            time.sleep(2)
        callgrind(args, pids, "-z")
        send(port, args.requests, args.connections)
        if mode == "tracing":
            spans = wait_spans(collector, spans0 + 2 * args.requests) - spans0
        else:
            time.sleep(2)  # the same idle time as the traced run
            spans = 0
        callgrind(args, pids, "-d")
        time.sleep(1)
        dumps = {}
        for name, pid in zip(SIDECARS, pids):
            # cg.<pid>.out.<dump>-<thread>: the one dump, every thread.
            found = glob.glob(os.path.join(workdir, "cg.%d.out.1-*" % pid))
            if not found:
                raise RuntimeError("callgrind left no dump for %s (pid %d)" % (name, pid))
            dumps[name] = sorted(found)
        return dumps, spans
    finally:
        up.stop()


def total_instructions(dump):
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return 0  # a thread that ran nothing in the window


THREADS = ("workers", "exporter", "main")


def thread_kind(dump):
    """Which thread a dump is: a worker (Worker::start), the span exporter (SpanExporter::run),
    or the main thread and any other (control-plane client, admin: scrapes land there)."""
    with open(dump, errors="replace") as f:
        text = f.read()
    if "SpanExporter::run" in text:
        return "exporter"
    return "workers" if "Worker::start" in text else "main"


def split(dumps):
    """{thread kind: instructions} of one sidecar's thread dumps."""
    out = dict.fromkeys(THREADS, 0)
    for d in dumps:
        out[thread_kind(d)] += total_instructions(d)
    return out


ANNOTATED = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?)\s*$")


def self_instructions(dump):
    """{function: self instructions} from callgrind_annotate (every function, no threshold)."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", dump],
                         capture_output=True, text=True).stdout  # empty for an idle thread
    functions = collections.Counter()
    for line in out.splitlines():
        m = ANNOTATED.match(line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r"^\S*?:", "", m.group(2), count=1)  # drop "file:" when there is one
            functions[name] += int(m.group(1).replace(",", ""))
    return functions


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--keep", action="store_true", help="keep the dumps and logs (printed)")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (%s)" % (tool, "apt-get install valgrind" if "grind"
                                                   in tool else "scripts/setup.sh installs it"))
    # This process (client and collector) stays off core 1, where halyard up runs the sidecars.
    os.sched_setaffinity(0, {0})
    collector = Collector()
    tmp = tempfile.mkdtemp(prefix="halyard-tracing-instr-")
    results = {}
    try:
        for mode in ("off", "tracing"):
            dumps, spans = run_mode(args, collector, mode, os.path.join(tmp, mode))
            parts = {n: split(d) for n, d in dumps.items()}
            results[mode] = {
                "per_sidecar": {n: sum(p.values()) / args.requests for n, p in parts.items()},
                "threads": {k: sum(p[k] for p in parts.values()) / args.requests
                            for k in THREADS},
                "spans": spans, "dumps": dumps}
            print("%-8s done: %s" % (mode, ", ".join(
                "%s %.0f" % (n, v) for n, v in results[mode]["per_sidecar"].items())),
                file=sys.stderr)
        report(args, results)
    finally:
        collector.server.shutdown()
        if args.keep:
            print("\ndumps and logs kept in " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(args, results):
    off, traced = results["off"], results["tracing"]
    print("CPU: %s; %d requests over %d keep-alive connections (after %d to warm up), "
          "both sidecars under callgrind\n" % (cpu_model(), args.requests, args.connections,
                                             args.warmup))
    print("| instructions per request | tracing off | tracing 100% | extra | tracing/off |")
    print("|---|---:|---:|---:|---:|")
    for name in SIDECARS + ("both sidecars",):
        if name in SIDECARS:
            a, b = off["per_sidecar"][name], traced["per_sidecar"][name]
        else:
            a, b = sum(off["per_sidecar"].values()), sum(traced["per_sidecar"].values())
        print("| %s | %.0f | %.0f | %+.0f | %.3fx |" % (name, a, b, b - a, b / a))
    labels = {"workers": "both: worker threads", "exporter": "both: span exporter thread",
              "main": "both: main and other threads (scrapes, control plane)"}
    for kind in THREADS:
        a, b = off["threads"][kind], traced["threads"][kind]
        print("| %s | %.0f | %.0f | %+.0f | %s |" % (labels[kind], a, b, b - a,
                                                    "%.3fx" % (b / a) if a else ""))
    # The main thread's share moves with the control plane's scrapes that fall in the window
    # (+-2,000 a request between runs), not with tracing: the figure to compare leaves it out.
    a = off["threads"]["workers"] + off["threads"]["exporter"]
    b = traced["threads"]["workers"] + traced["threads"]["exporter"]
    print("| **both: workers and exporter** | %.0f | %.0f | %+.0f | **%.3fx** |" % (
        a, b, b - a, b / a))
    print("\nspans received in the measured window: %d (%d requests: %.2f per request)" % (
        traced["spans"], args.requests, traced["spans"] / args.requests))
    if traced["spans"] < 2 * args.requests:
        print("WARNING: fewer than two spans per request reached the collector")
    if args.top:
        before, after = collections.Counter(), collections.Counter()
        for name in SIDECARS:
            for dump in off["dumps"][name]:
                before.update(self_instructions(dump))
            for dump in traced["dumps"][name]:
                after.update(self_instructions(dump))
        growth = {f: (after[f] - before[f]) / args.requests for f in set(before) | set(after)}
        # A function still running when the counters are dumped (a thread's entry, its event
        # loop) shows its callees' instructions as its own: those rows say which thread grew.
        print("\nfunctions whose self instructions per request grow most with tracing "
              "(both sidecars; thread entries and event loops include what they called):\n")
        print("| extra per request | off | tracing | function |")
        print("|---:|---:|---:|---|")
        for f, g in sorted(growth.items(), key=lambda kv: -kv[1])[:args.top]:
            print("| %+.0f | %.0f | %.0f | %s |" % (g, before[f] / args.requests,
                                                    after[f] / args.requests, f[:140]))


if __name__ == "__main__":
    main()
