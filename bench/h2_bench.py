#!/usr/bin/python3
"""HTTP/2 proxy benchmark: h2load (h2c, prior knowledge) through halyard-proxy's gateway, nginx
(`grpc_pass`, HTTP/2 both sides) and HAProxy (`proto h2` both sides) to the same HTTP/2 backend
(an nginx answering a small body with `return 200` on an h2c port), in one run.

Each proxy gets one worker and runs pinned to core 1 with the backend; h2load runs on core 0.
All three run at once and take turns, round after round, so a change in the machine's speed
hits them alike; the ratios of CPU per request are printed with the spread of the rounds' ratios.
Printed as a Markdown table: requests/s, CPU microseconds per request of the proxy's processes
(utime+stime from /proc/<pid>/stat), peak RSS; then memory per idle HTTP/2 connection (RSS
growth after opening --idle-connections client connections that only said hello) and per open
stream (RSS growth after opening --open-streams streams whose requests wait on a backend that
never answers them, a second h2c backend in Python that accepts streams and stays silent; on a
process of its own, started for it and stopped after).

    bench/h2_bench.py [--requests 200000] [--clients 16] [--streams 16] [--rounds 3]
                      [--idle-connections 500] [--open-streams 500] [--instances 1]
                      [--proxy build/bin/halyard-proxy]

--instances N runs N processes of each proxy (halyard-proxy, nginx and HAProxy), each its own
row. A process keeps its speed, a few percent either way, for its whole life
(docs/performance.md, "Stop 25"), so one process's ratio carries that; with N > 1 each round's
ratio is the median over our processes against the median over the peer's.

Not part of the test command. Needs: h2load (nghttp2-client), nginx, haproxy, taskset,
python3-h2. Every process listens on 127.0.0.1 on a free port, lives in a temp dir and is
stopped on exit.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_bench as pb  # noqa: E402  (shared process handling, CPU and RSS readers)

HOST = pb.HOST
SILENT_HOST = "silent.example.com"
HALYARD = "halyard-proxy"
NGINX = "nginx (grpc_pass)"
HAPROXY = "HAProxy (proto h2)"


def nginx_h2_backend(fleet, port):
    conf = os.path.join(fleet.tmp, "backend.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s/backend.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  http2_max_concurrent_streams 1024;
  server { listen 127.0.0.1:%d http2 backlog=4096;
    location / { return 200 "hello from the backend\\n"; } } }
""" % (fleet.tmp, port))
    return fleet.start("backend", ["nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])


def nginx_grpc_proxy(fleet, port, backend, silent, name="nginx"):
    """`name` names its files and log in the fleet's dir (one per process)."""
    conf = os.path.join(fleet.tmp, name + "-proxy.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes 1; pid %s.pid; error_log stderr error;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  http2_max_concurrent_streams 1024;
  upstream be { server 127.0.0.1:%d; keepalive 128; keepalive_requests 1000000; }
  upstream silent { server 127.0.0.1:%d; keepalive 16; }
  server { listen 127.0.0.1:%d http2 backlog=4096; server_name %s;
    location / { grpc_pass grpc://be; grpc_set_header X-Request-Id $request_id; } }
  server { listen 127.0.0.1:%d http2; server_name %s;
    location / { grpc_pass grpc://silent; grpc_read_timeout 600s; } } }
""" % (os.path.join(fleet.tmp, name), backend, silent, port, HOST, port, SILENT_HOST))
    return fleet.start(name, ["nginx", "-e", "stderr", "-c", conf, "-p", fleet.tmp])


def haproxy_h2(fleet, port, backend, silent, prefix=(), name="haproxy"):
    """HAProxy (proto h2 both sides); `prefix`: a command to run it under (valgrind, perf);
    `name` names its files and log in the fleet's dir (one per process)."""
    conf = os.path.join(fleet.tmp, name + ".cfg")
    with open(conf, "w") as f:
        f.write("""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  http-reuse always
  timeout connect 5s
  timeout client 600s
  timeout server 600s
frontend fe
  bind 127.0.0.1:%d proto h2
  http-request set-header X-Request-Id %%[uuid]
  use_backend silent if { hdr(host) -i %s }
  default_backend be
backend be
  server s1 127.0.0.1:%d proto h2
backend silent
  server s1 127.0.0.1:%d proto h2
""" % (port, SILENT_HOST, backend, silent))
    return fleet.start(name, list(prefix) + ["haproxy", "-db", "-f", conf])


def halyard_h2(fleet, port, backend, silent, binary, name="halyard-proxy"):
    cfg = os.path.join(fleet.tmp, "halyard")
    os.makedirs(cfg, exist_ok=True)
    services = ""
    for name, host, p in (("backend", HOST, backend), ("silent", SILENT_HOST, silent)):
        services += """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: ["%s"]
  gateways: [bench]
  http:
  - route: [{destination: {host: %s, port: {number: 80}}}]
---
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: http2, port: 80, targetPort: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http2, port: %d}]
""" % (name, host, name, name, p, name, p)
    with open(os.path.join(cfg, "bench.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["%s", "%s"]
""" % (HOST, SILENT_HOST) + services)
    return pb.start_halyard(fleet, binary, cfg, "80=%d" % port, name)


class SilentH2Backend:
    """h2c server that accepts every stream and never answers: streams stay open."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        import h2.config
        import h2.connection
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        c.local_settings.max_concurrent_streams = 100000
        c.initiate_connection()
        conn.sendall(c.data_to_send())
        while True:
            try:
                data = conn.recv(65536)
            except OSError:  # a proxy that closed its side of a stream it gave up on
                return
            if not data:
                return
            try:
                c.receive_data(data)
            except Exception:
                return
            conn.sendall(c.data_to_send())


def h2_hello(sock):
    import h2.config
    import h2.connection
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    sock.sendall(c.data_to_send())
    return c


def settle(pid, seconds=1.0):
    time.sleep(seconds)
    return pb.status_kb(pid, "VmRSS")


def idle_connection_kb(port, pid, count):
    before = settle(pid)
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        h2_hello(s)
        socks.append(s)
    after = settle(pid, 2.0)
    for s in socks:
        s.close()
    return (after - before) / count


def open_stream_kb(port, pid, count, per_connection=100):
    before = settle(pid)
    socks = []
    opened = 0
    while opened < count:
        s = socket.create_connection(("127.0.0.1", port))
        c = h2_hello(s)
        for i in range(min(per_connection, count - opened)):
            c.send_headers(1 + 2 * i, [(":method", "GET"), (":scheme", "http"),
                                       (":authority", SILENT_HOST), (":path", "/wait")],
                           end_stream=True)
        s.sendall(c.data_to_send())
        opened += min(per_connection, count - opened)
        socks.append(s)
    after = settle(pid, 3.0)
    for s in socks:
        s.close()
    return (after - before) / count


def h2load(port, requests, clients, streams):
    out = subprocess.run(pb.NICE + ["taskset", "-c", pb.CLIENT_CORE, "h2load", "-n",
                                    str(requests), "-c", str(clients), "-m", str(streams),
                                    "-H", ":authority: " + HOST, "http://127.0.0.1:%d/" % port],
                         capture_output=True, text=True, timeout=600)
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out.stdout)
    ok = re.search(r"(\d+) succeeded", out.stdout)
    if not m or not ok or int(ok.group(1)) != requests:
        raise RuntimeError("h2load failed:\n" + out.stdout + out.stderr)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle-connections", type=int, default=500)
    ap.add_argument("--open-streams", type=int, default=500)
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--proxy", default=os.path.join(pb.REPO, "build", "bin", "halyard-proxy"))
    args = ap.parse_args()
    pb.exclusive_machine()
    tmp = tempfile.mkdtemp(prefix="h2bench-")
    fleet = pb.Fleet(tmp)
    results = {}
    rounds = {}
    try:
        backend_port = pb.free_port()
        nginx_h2_backend(fleet, backend_port)
        time.sleep(0.5)
        silent = SilentH2Backend()
        # With --instances N, N processes of every proxy: each its own row, log and files.
        starters = (
            (HALYARD, "halyard-proxy",
             lambda p, log: halyard_h2(fleet, p, backend_port, silent.port, args.proxy, log)),
            (NGINX, "nginx",
             lambda p, log: nginx_grpc_proxy(fleet, p, backend_port, silent.port, log)),
            (HAPROXY, "haproxy",
             lambda p, log: haproxy_h2(fleet, p, backend_port, silent.port, name=log)),
        )
        peers = {}
        for row, log, start in starters:
            for k in range(args.instances):
                numbered = args.instances > 1
                peers[row + (" #%d" % (k + 1) if numbered else "")] = (
                    lambda p, start=start, log=log + ("-%d" % (k + 1) if numbered else ""):
                    start(p, log))
        running = []
        for name, start in peers.items():
            # Memory first, each figure on a fresh process: after a load, or after the other
            # figure, the heap freed would absorb it (open streams measured after 500 idle
            # connections came out at a tenth to three quarters of a fresh process's figure).
            # The open streams get a process of their own, stopped before the row's starts.
            port = pb.free_port()
            probe = start(port)
            time.sleep(0.5)
            h2load(port, 200, 1, 1)  # every path touched once
            stream_kb = open_stream_kb(port, pb.process_tree(probe.pid)[-1], args.open_streams)
            fleet.stop(probe)
            port = pb.free_port()
            proc = start(port)
            time.sleep(0.5)
            pids = pb.process_tree(proc.pid)
            main_pid = pids[-1]  # nginx: the worker; others: the process itself
            h2load(port, 200, 1, 1)
            idle_kb = idle_connection_kb(port, main_pid, args.idle_connections)
            h2load(port, 2000, 2, 8)  # warm-up
            running.append((name, port, pids, main_pid, idle_kb, stream_kb))
            rounds[name] = ([], [])
        # The proxies take turns, round after round (each round in a rotated order), so that a
        # change in the shared machine's speed hits all of them alike: the ratios are the figures
        # that mean something on a machine like that.
        for r in range(args.rounds):
            shift = r % len(running)
            for name, port, pids, _, _, _ in running[shift:] + running[:shift]:
                c0 = pb.cpu_seconds(pids)
                rounds[name][0].append(h2load(port, args.requests, args.clients, args.streams))
                rounds[name][1].append((pb.cpu_seconds(pids) - c0) / args.requests * 1e6)
        for name, port, pids, main_pid, idle_kb, stream_kb in running:
            rps, cpu = rounds[name]
            results[name] = (statistics.median(rps), statistics.median(cpu),
                             pb.status_kb(main_pid, "VmHWM"), idle_kb, stream_kb)
    finally:
        fleet.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print("h2load -n %d -c %d -m %d (h2c), one worker each, %d rounds taken in turns (medians)\n"
          % (args.requests, args.clients, args.streams, args.rounds))
    print("| proxy | req/s | CPU µs/request | peak RSS MB | KB per idle h2 connection | "
          "KB per open stream |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rps, cpu, peak, idle_kb, stream_kb) in results.items():
        print("| %s | %.0f | %.1f | %.1f | %.1f | %.1f |" % (name, rps, cpu, peak / 1024.0,
                                                            idle_kb, stream_kb))
    ours = [n for n in results if n.startswith(HALYARD)]
    for peer in (NGINX, HAPROXY):
        theirs = [n for n in results if n.startswith(peer)]
        if not theirs:
            continue
        # Each round: the median CPU per request over our processes against the median over
        # theirs. With one process each, that is the plain ratio of the round.
        per_round = [statistics.median(rounds[n][1][r] for n in ours) /
                     statistics.median(rounds[n][1][r] for n in theirs)
                     for r in range(args.rounds)]
        print("\n%s CPU/request vs %s: %.2fx (median of the rounds' ratios %.2fx, rounds "
              "%.2f-%.2f)" % (HALYARD, peer,
                              statistics.median(results[n][1] for n in ours) /
                              statistics.median(results[n][1] for n in theirs),
                              statistics.median(per_round), min(per_round), max(per_round)))
        if len(ours) > 1:
            print("  over %d processes of each; the process medians: ours %s, theirs %s (µs)"
                  % (len(ours), ", ".join("%.2f" % results[n][1] for n in ours),
                     ", ".join("%.2f" % results[n][1] for n in theirs)))


if __name__ == "__main__":
    main()
