#!/usr/bin/python3
"""Instructions per proxied HTTP/2 request, counted by Valgrind's callgrind: a figure that does
not move with the machine's load, for comparing builds of halyard-proxy on a shared host where
CPU time per request swings by a third between runs.

Same setup as bench/h2_bench.py (h2load, h2c with prior knowledge, through the gateway to an
HTTP/2 nginx backend). Each build runs under callgrind; after a warm-up the counters are zeroed,
--requests requests are sent, and the instructions the proxy executed meanwhile are divided by
the requests. Cache misses, locks and system calls are not weighed: CPU time in h2_bench.py stays
the figure for the targets; this one says whether a change made the proxy do less.

    bench/h2_instructions.py [--requests 4000] [--top 0] [--haproxy] [--keep FILE]
                             [--streams 16] [--cache-sim] [--order-file FILE] BINARY...

--top N also prints the N functions with the most instructions of their own (the last build).
--order-file FILE writes the functions of halyard-proxy that ran in the window (the last build),
most instructions first, as the section names of cmd/hot_functions.txt: the link lays them out
together in that order (cmd/proxy.cmake). Regenerate it after large changes to the request path.
--haproxy adds HAProxy (proto h2 both sides, as in h2_bench.py) counted the same way: the
instruction count a build has to beat, on the same load.
Not part of the test command. Needs valgrind, h2load (nghttp2-client), nginx, python3-h2.
"""
import argparse
import bisect
import collections
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2_bench as hb  # noqa: E402
import proxy_bench as pb  # noqa: E402


# This machine's caches (lscpu), for --cache-sim.
CACHE_SIM = ["--cache-sim=yes", "--I1=32768,8,64", "--D1=49152,12,64", "--LL=2097152,16,64"]


def measured_window(start, requests, workdir, streams):
    """Starts a proxy under callgrind (`start(fleet, port)` returns its process) in `workdir`,
    warms it up, and counts `requests` requests; the dump file of that window."""
    os.makedirs(workdir)
    sub = pb.Fleet(workdir)
    try:
        port = pb.free_port()
        proc = start(sub, port)
        pb.wait_until(lambda: pb.listening(port), "the proxy listening", proc, sub, timeout=30)
        hb.h2load(port, 1000, 16, 16)  # warm-up: every path taken, caches and pools filled
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                       check=True)
        hb.h2load(port, requests, 16, streams)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                       check=True)
        time.sleep(1)
    finally:
        sub.stop_all()
    return sorted(glob.glob(os.path.join(workdir, "cg.out.*")), key=os.path.getmtime)[-1]


def callgrind(workdir, cache_sim, per_instruction=False):
    return (["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.out" % workdir] +
            (CACHE_SIM if cache_sim else []) + (["--dump-instr=yes"] if per_instruction else []))


def count(binary, backend, silent, args, workdir):
    """A build of halyard-proxy: the dump file of the measured window."""
    def start(fleet, port):
        wrapper = os.path.join(workdir, "run.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (
                " ".join(callgrind(workdir, args.cache_sim, bool(args.order_file))),
                os.path.abspath(binary)))
        os.chmod(wrapper, 0o755)
        return hb.halyard_h2(fleet, port, backend, silent, wrapper)
    return measured_window(start, args.requests, workdir, args.streams)


def count_haproxy(backend, silent, args, workdir):
    """HAProxy, counted as count() counts a build."""
    return measured_window(lambda fleet, port: hb.haproxy_h2(
        fleet, port, backend, silent, prefix=callgrind(workdir, args.cache_sim)),
        args.requests, workdir, args.streams)


def totals(dump):
    """The dump's event totals by name (Ir; with the cache simulation also I1mr, D1mr, DLmr...)."""
    names = None
    with open(dump) as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
            if line.startswith(("summary:", "totals:")) and names:
                return dict(zip(names, (int(v) for v in line.split()[1:])))
    raise RuntimeError("no totals in " + dump)


def instructions_by_address(dump, object_path):
    """Instructions executed at each address of `object_path`, from a dump made with
    --dump-instr=yes (positions are absolute, or relative to the line before: +n, -n, *)."""
    names = {}
    current = None
    addr = 0
    after_call = False
    counts = collections.Counter()
    for line in open(dump):
        if line.startswith(("ob=", "cob=")):
            m = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if m.group(2):
                names[m.group(1)] = m.group(2)
            if line.startswith("ob="):
                current = names[m.group(1)]
            continue
        if line.startswith("calls="):
            after_call = True  # the next line is the call's inclusive cost
            continue
        if not line or line[0] not in "0123456789+-*":
            continue
        fields = line.split()
        tok = fields[0]
        addr = (addr if tok == "*" else addr + int(tok[1:], 0) if tok[0] == "+"
                else addr - int(tok[1:], 0) if tok[0] == "-" else int(tok, 0))
        if after_call:
            after_call = False
            continue
        if current == object_path and len(fields) > 2:
            counts[addr] += int(fields[2])
    return counts


def write_order_file(dump, binary, path):
    """The functions of `binary` that ran, most instructions first, as .text.<symbol> section
    names (what -ffunction-sections makes and gold's --section-ordering-file takes). Split-off
    cold parts are left where the compiler put them."""
    counts = instructions_by_address(dump, os.path.abspath(binary))
    symbols = []
    nm = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True,
                        check=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            symbols.append((int(parts[0], 16), max(int(parts[1], 16), 1), parts[3]))
    symbols.sort()
    starts = [s[0] for s in symbols]
    by_function = collections.Counter()
    for addr, n in counts.items():
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < symbols[i][0] + symbols[i][1]:
            by_function[symbols[i][2]] += n
    with open(path, "w") as f:
        for name, _ in by_function.most_common():
            if ".cold" not in name:
                f.write(".text.%s\n" % name)
    print("%s: %d functions" % (path, len(by_function)))


def per_request(dump, requests):
    """Instructions, and with the cache simulation L1i, L1d and last-level data misses, per
    request."""
    t = totals(dump)
    row = [t["Ir"] / requests]
    if "I1mr" in t:
        row += [t["I1mr"] / requests, (t["D1mr"] + t["D1mw"]) / requests,
                (t["DLmr"] + t["DLmw"]) / requests]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--haproxy", action="store_true")
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--cache-sim", action="store_true")
    ap.add_argument("--keep", metavar="FILE",
                    help="copy the last build's callgrind dump there (for callgrind_annotate "
                    "--inclusive=yes)")
    ap.add_argument("--order-file", metavar="FILE",
                    help="write the last build's functions that ran, hottest first, there "
                    "(cmd/hot_functions.txt)")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="h2instr-")
    fleet = pb.Fleet(tmp)
    rows = []
    try:
        backend = pb.free_port()
        hb.nginx_h2_backend(fleet, backend)
        time.sleep(0.5)
        silent = hb.SilentH2Backend()
        dump = None
        for i, binary in enumerate(args.binaries):
            dump = count(binary, backend, silent.port, args, os.path.join(tmp, "build%d" % i))
            rows.append((binary, per_request(dump, args.requests)))
        if args.haproxy:
            rows.append(("HAProxy (proto h2)", per_request(count_haproxy(
                backend, silent.port, args, os.path.join(tmp, "haproxy")), args.requests)))
        print("h2load -n %d -c 16 -m %d (h2c) under callgrind%s\n" % (
            args.requests, args.streams, " with the cache simulation" if args.cache_sim else ""))
        misses = " L1i misses | L1d misses | L2 data misses |" if args.cache_sim else ""
        print("| build | instructions per request | vs the first |" + misses)
        print("|---|---:|---:|" + ("---:|" * 3 if args.cache_sim else ""))
        for binary, row in rows:
            print("| %s | %.0f | %.3f |" % (binary, row[0], row[0] / rows[0][1][0]) +
                  "".join(" %.0f |" % v for v in row[1:]))
        if args.keep and dump:
            shutil.copy(dump, args.keep)
        if args.order_file and dump:
            write_order_file(dump, args.binaries[-1], args.order_file)
        if args.top and dump:
            out = subprocess.run(["callgrind_annotate", "--threshold=100", dump],
                                 capture_output=True, text=True).stdout
            lines = [l for l in out.splitlines() if "(" in l and "%)" in l and
                     "PROGRAM TOTALS" not in l and "clone" not in l and
                     "start_thread" not in l and "_M_run" not in l and "0x00000000000d4490" not in l]
            print("\nself instructions, %s:" % args.binaries[-1])
            for l in lines[:args.top]:
                print(l[:150])
    finally:
        fleet.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
