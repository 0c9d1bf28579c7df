#!/usr/bin/python3
"""Where halyard-proxy spends its CPU under the proxy_bench.py load, next to nginx and HAProxy.

For each proxy (same configs, pinning and backend as proxy_bench.py), per request, from perf
stat: system calls by name and how many failed with EAGAIN, context switches, and malloc calls
(a uprobe on libc's malloc that this script adds and removes). Then, for halyard-proxy only, a
perf record with DWARF call graphs: the split by binary, the hottest functions (self time), the
costliest halyard functions including callees, the time by kernel path and user-space part, and
the allocator's share with the functions that call it.

    bench/proxy_profile.py [--duration 10] [--connections 32] [--proxy build/bin/halyard-proxy]

Requests are counted at the backend (nginx stub_status) over exactly the window perf watched.
Not part of the test command; needs perf (linux-perf) besides what proxy_bench.py needs.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import proxy_bench as pb

ALLOCATOR = re.compile(r"^(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|_int_realloc|"
                       r"malloc_consolidate|tcache_\w+|operator new|operator delete|"
                       r"__libc_malloc|__libc_free|unlink_chunk)\b")


SYSCALL_FRAME = re.compile(r"^(?:__x64_sys_|__sys_)(\w+)$|^do_(epoll_wait)$")
SYSCALLS = ("read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
            "epoll_wait", "epoll_pwait", "epoll_ctl", "getsockopt", "setsockopt", "getpid",
            "clock_gettime", "timerfd_settime", "timer_settime", "futex", "accept4", "close")


def under_load(port, backend_port, seconds, connections, perf_args):
    """perf <perf_args> -- a workload that reads the backend's request counter, sleeps, reads it
    again, while wrk loads port. Returns perf's output and the requests the backend answered
    between the two reads, which is (within milliseconds) the window perf counted."""
    status = "curl -s http://127.0.0.1:%d/_status" % backend_port
    wrk = subprocess.Popen(pb.NICE + ["taskset", "-c", pb.CLIENT_CORE, "wrk", "-t1",
                                      "-c%d" % connections, "-d%ds" % (seconds + 3),
                                      "-H", "Host: " + pb.HOST, "http://127.0.0.1:%d/" % port],
                           stdout=subprocess.DEVNULL)
    try:
        time.sleep(1)
        run = subprocess.run(["taskset", "-c", pb.CLIENT_CORE, "perf"] + perf_args +
                             ["--", "sh", "-c", "%s; sleep %d; %s" % (status, seconds, status)],
                             capture_output=True, text=True)
    finally:
        wrk.wait(seconds + 60)
    counts = [int(m) for m in re.findall(r"^\s*\d+\s+\d+\s+(\d+)", run.stdout, re.M)]
    if len(counts) != 2:
        raise RuntimeError("perf %s failed:\n%s" % (perf_args[0], run.stderr[-2000:]))
    return run, max(counts[1] - counts[0] - 1, 1)  # minus the second status request


def per_request(port, backend_port, pids, connections, events):
    """perf stat of events on pids under load, each divided by the requests served."""
    stat, requests = under_load(port, backend_port, 4, connections,
                                ["stat", "-x", ",", "-p", ",".join(map(str, pids))] + events)
    counts = {}
    for line in stat.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            counts[fields[2]] = int(fields[0]) / requests
    return counts


def syscall_profile(name, pids, port, backend_port, connections, malloc_event):
    """System calls (by name, and how many failed with EAGAIN), context switches and (in a
    window of its own, since a uprobe slows every call) malloc calls per request."""
    events = ["-e", "raw_syscalls:sys_enter", "-e", "raw_syscalls:sys_exit", "--filter",
              "ret == -11", "-e", "context-switches"]
    for sc in SYSCALLS:
        events += ["-e", "syscalls:sys_enter_" + sc]
    counts = per_request(port, backend_port, pids, connections, events)
    by_name = sorted(((n, sc.split("sys_enter_")[1]) for sc, n in counts.items()
                      if "sys_enter_" in sc and n >= 0.01), reverse=True)
    mallocs = "-"
    if malloc_event:
        n = per_request(port, backend_port, pids, connections, ["-e", malloc_event])
        mallocs = "%.2f" % n.get(malloc_event, 0)
    print("| %s | %.2f | %.2f | %s | %.2f | %s |" % (
        name, counts.get("raw_syscalls:sys_enter", 0), counts.get("raw_syscalls:sys_exit", 0),
        ", ".join("%s %.2f" % (sc, n) for n, sc in by_name), counts.get("context-switches", 0),
        mallocs))


class MallocProbe:
    """A uprobe on libc's malloc (perf probe), removed again unless it existed before."""

    def __init__(self, binary):
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        m = re.search(r"libc\.so\.6 => (\S+)", ldd)
        self.event, self.added = None, False
        if not m:
            return
        existing = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True).stdout
        if "probe_libc:malloc " not in existing:
            add = subprocess.run(["perf", "probe", "-q", "-x", m.group(1), "-a", "malloc"],
                                 capture_output=True, text=True)
            if add.returncode != 0:
                print("profile: no malloc uprobe (%s)" % add.stderr.strip()[:200],
                      file=sys.stderr)
                return
            self.added = True
        self.event = "probe_libc:malloc"

    def remove(self):
        if self.added:
            subprocess.run(["perf", "probe", "-q", "-d", self.event], capture_output=True)


def report_lines(data, *extra):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"] + list(extra),
                         capture_output=True, text=True).stdout
    return [line.rstrip() for line in out.splitlines() if line.strip() and
            not line.startswith("#")]


def short(symbol, width=110):
    return symbol if len(symbol) <= width else symbol[:width - 3] + "..."


def samples(data):
    """perf script as (leaf-first frames, binary of the leaf) per sample."""
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"],
                            capture_output=True, text=True).stdout
    for block in script.split("\n\n"):
        frames, dso = [], None
        for line in block.strip().splitlines():
            m = re.match(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)$", line)
            if m:
                frames.append(m.group(1))
                if dso is None and m.group(2) != "inlined":
                    dso = os.path.basename(m.group(2)).strip("[]")
        if frames:
            yield frames, dso


def category(frames, dso):
    """Where one sample's time goes: the kernel path it is on, or the user-space part."""
    if dso == "kernel.kallsyms":
        if any(f in ("__schedule", "schedule") for f in frames):
            return "kernel: scheduler (switching in/out)"
        syscall = next((m.group(1) or m.group(2) for m in map(SYSCALL_FRAME.match, frames) if m),
                       None)
        if syscall:
            return "kernel: " + syscall
        return "kernel: other (interrupts, syscall entry/exit)"
    if ALLOCATOR.match(frames[0]):
        return "user: allocator"
    if frames[0].startswith("halyard::"):
        return "user: halyard code"
    if frames[0].startswith("asio::"):
        return "user: asio"
    return "user: other in " + str(dso)


def analyse(data, top):
    """The split by category, and who calls the allocator (first halyard frame above it)."""
    cats, callers = collections.Counter(), collections.Counter()
    total = 0
    for frames, dso in samples(data):
        total += 1
        cat = category(frames, dso)
        cats[cat] += 1
        if cat == "user: allocator":
            caller = next((f for f in frames if f.startswith("halyard::")),
                          next((f for f in frames if not ALLOCATOR.match(f)), "?"))
            callers[re.sub(r"[(<].*$", "", caller)] += 1
    print("\nWhere the time goes (share of samples; kernel time by the system call it serves; "
          "without a hardware PMU perf samples on a timer, which lands kernel time on the "
          "points that re-enable interrupts, hence the scheduler's large share):")
    for cat, n in cats.most_common(14):
        print("  %5.1f%%  %s" % (100.0 * n / total, cat))
    alloc = cats["user: allocator"]
    print("\nAllocator (malloc/free/new/delete, glibc internals): %.1f%% of samples; callers "
          "(first halyard frame above it, else the first non-allocator frame):" %
          (100.0 * alloc / total))
    for caller, n in callers.most_common(top):
        print("  %5.1f%% of allocator samples  %s" % (100.0 * n / max(alloc, 1), short(caller)))


def profile_halyard(fleet, launch, backend_port, args):
    data = os.path.join(fleet.tmp, "perf.data")
    port = pb.free_port()
    proc = launch(port)
    pb.wait_until(lambda: pb.listening(port), "port", proc, fleet)
    pb.wrk(port, 1, args.connections)
    _, requests = under_load(port, backend_port, args.duration, args.connections,
                             ["record", "-q", "-F", "999", "--call-graph", "dwarf,16384",
                              "-p", str(proc.pid), "-o", data])
    fleet.stop(proc)
    print("\nperf record -F 999 --call-graph dwarf of halyard-proxy: %d s, %d requests" % (
        args.duration, requests))
    print("\nBy binary (self time):")
    for line in report_lines(data, "--no-children", "--sort", "dso")[:6]:
        print("  " + line)
    print("\nHottest functions (self time; [k] kernel, [.] user):")
    for line in report_lines(data, "--no-children", "--sort", "sym")[:args.top]:
        print("  " + short(line))
    print("\nhalyard functions with what they call (children time; coroutine frames resume from "
          "asio's scheduler, so this undercounts the I/O they start):")
    lines = [line for line in report_lines(data, "--children", "--sort", "sym")
             if "halyard::" in line and "_State_impl" not in line]
    for line in lines[:args.top]:
        print("  " + short(line))
    analyse(data, args.top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of perf record")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--proxy", default=os.path.join(pb.REPO, "build/bin/halyard-proxy"))
    parser.add_argument("--top", type=int, default=25, help="rows per list")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (perf.data)")
    args = parser.parse_args()
    args.proxy = os.path.abspath(args.proxy)
    for tool in ("wrk", "nginx", "haproxy", "taskset", "perf", "curl"):
        if not shutil.which(tool):
            sys.exit("profile: %s is not installed" % tool)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pb.exclusive_machine()
    tmp = tempfile.mkdtemp(prefix="halyard-profile-")
    fleet = pb.Fleet(tmp)
    print("load average %.2f; %s" % (os.getloadavg()[0], pb.describe_machine(args)))
    probe = MallocProbe(args.proxy)
    try:
        backend_port = pb.free_port()
        backend = pb.nginx_backend(fleet, backend_port)
        pb.wait_until(lambda: pb.listening(backend_port), "port", backend, fleet)
        launchers = [
            ("halyard-proxy", lambda p: pb.halyard(fleet, p, backend_port, args.proxy)),
            ("nginx", lambda p: pb.nginx_proxy(fleet, p, backend_port)),
            ("haproxy", lambda p: pb.haproxy(fleet, p, backend_port)),
        ]
        print("\nPer request (counted at the backend over the window perf stat watched):\n")
        print("| proxy | system calls | failed EAGAIN | by name | context switches | mallocs |")
        print("|---|---:|---:|---|---:|---:|")
        for name, launch in launchers:
            port = pb.free_port()
            proc = launch(port)
            pb.wait_until(lambda: pb.listening(port), "port", proc, fleet)
            pb.check_route(name, port, proxied=True)
            pb.wrk(port, 1, args.connections)
            syscall_profile(name, pb.process_tree(proc.pid), port, backend_port, args.connections,
                            probe.event)
            fleet.stop(proc)
        profile_halyard(fleet, launchers[0][1], backend_port, args)
    finally:
        fleet.stop_all()
        probe.remove()
        if args.keep:
            print("profile: perf.data and logs kept in %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
