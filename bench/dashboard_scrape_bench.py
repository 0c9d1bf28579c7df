#!/usr/bin/python3
"""The dashboard's scrape of a large mesh (issue 14: 1,000 proxies under 1 s of control-plane CPU
per minute). Not a test.

The proxies are not real halyard-proxy processes: bench/control_bench (built with `ninja
control_bench`) connects N simulated proxies over the control protocol, each hello naming as its
admin address one of a few lightweight HTTP servers run here, which answer /stats/prometheus with
a body captured from a real sidecar with traffic (bench/dashboard_scrape_body.txt, 224 lines,
131 KB: productpage's sidecar under `halyard up` after a few hundred requests). The servers
rename the body's workloads into one of --variants sets, so the mesh-wide aggregate has many edges
rather than one, and honour `?filter=REGEX` as a proxy does (only the families whose name
matches), which the control plane's scrape sends, and keep connections alive between requests
as a proxy's admin listener does. --ignore-filter and --no-keep-alive make them behave as
proxies from before either, for a comparison within one run.

For each scrape interval it measures the control plane's CPU (utime + stime from /proc) over
--measure-s seconds once every proxy is connected and the first rounds are done, and reads the
rounds' durations from /api/dashboard (asked with a max_age_ms that never starts a round).
Interval 0 is the baseline: the same control plane and proxies, no periodic scrape. The control
plane's default (5 s, stretched to 15 ms per proxy) scrapes 1,000 proxies every 15 s.

  bench/dashboard_scrape_bench.py [--halyard build/bin/halyard] [--control-bench
      build/bin/control_bench] [--proxies 1000] [--intervals 0:0,5000:0,15000:0,5000:15]
      [--measure-s 60] [--ignore-filter] [--no-keep-alive]
"""
import argparse
import asyncio
import json
import os
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
BODY = ROOT / "bench" / "dashboard_scrape_body.txt"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeAdmins:
    """A few HTTP servers on their own thread that answer every request with one of the body
    variants and close the connection, as a proxy's admin listener does."""

    def __init__(self, count, variants, honour_filter=True, keep_alive=True):
        self.honour_filter = honour_filter
        self.keep_alive = keep_alive
        text = BODY.read_text()
        self.bodies = [(text.replace('"productpage"', '"productpage-%d"' % v)
                        .replace('"reviews-v1"', '"reviews-v1-%d"' % v)) for v in range(variants)]
        self.by_filter = {}  # the filter parameter as sent -> the responses, one per variant
        self.ports = [free_port() for _ in range(count)]
        self.served = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    @staticmethod
    def filtered(body, pattern):
        """The families of `body` whose name `pattern` finds a match in, as a proxy's
        /stats/prometheus?filter=REGEX answers (a family: its # TYPE line and its samples)."""
        if not pattern:
            return body
        regex = re.compile(pattern)
        out, keep = [], False
        for line in body.splitlines(keepends=True):
            if line.startswith("# TYPE "):
                keep = regex.search(line.split()[2]) is not None
            if keep:
                out.append(line)
        return "".join(out)

    def responses(self, target, close=True):
        query = urllib.parse.urlsplit(target).query
        pattern = urllib.parse.unquote(
            next((p[7:] for p in query.split("&") if p.startswith("filter=")), ""))
        if not self.honour_filter:
            pattern = ""  # a proxy from before ?filter=: the whole body
        key = (pattern, close)
        if key not in self.by_filter:
            self.by_filter[key] = [
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                b"Content-Length: %d\r\n%s\r\n" % (
                    len(body), b"Connection: close\r\n" if close else b"") + body
                for body in (self.filtered(b, pattern).encode() for b in self.bodies)]
        return self.by_filter[key]

    async def _handle(self, reader, writer):
        """Requests one at a time on a keep-alive connection, as a proxy's admin listener
        answers them (Connection: close from the client, or --no-keep-alive, ends it)."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                close = not self.keep_alive or b"connection: close" in head.lower()
                responses = self.responses(target, close)
                self.served += 1
                writer.write(responses[self.served % len(responses)])
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        for port in self.ports:
            self.loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024))
        self.ready.set()
        self.loop.run_forever()

    def addresses(self):
        return ["127.0.0.1:%d" % p for p in self.ports]


def cpu_seconds(pid):
    fields = pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def run(args, admins, interval_ms, per_proxy_ms):
    admin = "127.0.0.1:%d" % free_port()
    hold = args.warmup_s + args.measure_s + 30
    cmd = [args.control_bench, "--halyard", args.halyard, "--proxies", str(args.proxies),
           "--services", str(args.services), "--admin", admin,
           "--control-flag", "--scrape-interval-ms=%d" % interval_ms,
           "--control-flag", "--scrape-ms-per-proxy=%d" % per_proxy_ms,
           "--scrape-targets", ",".join(admins.addresses()), "--hold-s", str(hold)]
    bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = None
    deadline = time.time() + 240
    while time.time() < deadline:
        line = bench.stdout.readline()
        if not line:
            break
        m = re.search(r"holding \d+ proxies: control pid (\d+)", line)
        if m:
            pid = int(m.group(1))
            break
    if pid is None:
        bench.kill()
        sys.exit("control_bench did not connect its proxies: " + bench.stderr.read()[-2000:])
    time.sleep(args.warmup_s)
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(args.measure_s)
    c1, t1 = cpu_seconds(pid), time.time()
    rss = rss_mb(pid)
    with urllib.request.urlopen("http://%s/api/dashboard?max_age_ms=%d" % (admin, 10**9),
                                timeout=30) as r:
        doc = json.loads(r.read())
    os.kill(pid, 15)  # the control plane first: control_bench's SIGTERM would orphan it
    bench.terminate()
    try:
        bench.wait(60)
    except subprocess.TimeoutExpired:
        bench.kill()
    durations = doc["scrape"]["durations_ms"] if interval_ms else []
    return {"interval_ms": doc["scrape"]["interval_ms"] if interval_ms else 0,
            "setting": "off" if not interval_ms else "%g s%s" % (
                interval_ms / 1000, ", %d ms/proxy" % per_proxy_ms if per_proxy_ms else ""),
            "cpu_per_min": (c1 - c0) * 60 / (t1 - t0),
            "p50": percentile(durations, 0.5), "p99": percentile(durations, 0.99),
            "rounds": doc["scrape"]["rounds"], "scraped": doc["scrape"]["scraped"],
            "targets": doc["scrape"]["targets"], "edges": len(doc["edges"]), "rss": rss}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--halyard", default=str(ROOT / "build" / "bin" / "halyard"))
    p.add_argument("--control-bench", default=str(ROOT / "build" / "bin" / "control_bench"))
    p.add_argument("--proxies", type=int, default=1000)
    p.add_argument("--services", type=int, default=10)
    p.add_argument("--servers", type=int, default=4)
    p.add_argument("--variants", type=int, default=50)
    p.add_argument("--intervals", default="0:0,5000:0,15000:0,5000:15",
                   help="INTERVAL_MS:MS_PER_PROXY pairs (halyard control --scrape-interval-ms and "
                   "--scrape-ms-per-proxy; the default is 5000:15); 0:0 is the baseline")
    p.add_argument("--ignore-filter", action="store_true",
                   help="the fake proxies answer the whole body whatever ?filter= asks (proxies "
                   "from before the filter), for a comparison")
    p.add_argument("--no-keep-alive", action="store_true",
                   help="the fake proxies close the connection after each answer (proxies from "
                   "before keep-alive on the admin listener), for a comparison")
    p.add_argument("--warmup-s", type=int, default=15)
    p.add_argument("--measure-s", type=int, default=60)
    args = p.parse_args()
    admins = FakeAdmins(args.servers, args.variants, honour_filter=not args.ignore_filter,
                        keep_alive=not args.no_keep_alive)
    rows = []
    for pair in args.intervals.split(","):
        interval, per_proxy = (int(x) for x in pair.split(":"))
        rows.append(run(args, admins, interval, per_proxy))
        print("done: %r" % rows[-1], file=sys.stderr, flush=True)
    load = os.getloadavg()
    body = len(admins.responses("/stats/prometheus?filter=%5Eistio_request%28s_total%7C"
                                "_duration_milliseconds%29%24")[0])
    print("\n%d simulated proxies, body %d bytes (%d as the dashboard's filter answers it%s), "
          "%d servers; load average %.2f %.2f %.2f\n" %
          (args.proxies, BODY.stat().st_size, body,
           ", ignored" if args.ignore_filter else "", args.servers, *load))
    print("fake proxies: %s, %s\n" % (
        "filter ignored" if args.ignore_filter else "filter honoured",
        "one request per connection" if args.no_keep_alive else "keep-alive"))
    print("| proxies | setting | interval | CPU s/min | scrape p50 ms | scrape p99 ms | scraped | edges | "
          "RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %s | %s | %.3f | %s | %s | %s | %d | %.0f |" % (
            args.proxies, r["setting"],
            "%g s" % (r["interval_ms"] / 1000) if r["interval_ms"] else "-",
            r["cpu_per_min"], "%.0f" % r["p50"] if r["interval_ms"] else "-",
            "%.0f" % r["p99"] if r["interval_ms"] else "-",
            "%d/%d" % (r["scraped"], r["targets"]) if r["interval_ms"] else "-",
            r["edges"], r["rss"]))


if __name__ == "__main__":
    main()
