#!/usr/bin/python3
"""Training run for halyard-proxy's profile-guided build (scripts/setup.sh, docs/operations.md).

    scripts/pgo_train.py BINARY

BINARY is a halyard-proxy built with HALYARD_PGO_GENERATE (CMakeLists.txt): while it runs it
counts which branches and calls its code takes, and it writes the counts when it exits. This
script runs it under the loads the benchmarks measure (bench/h2_bench.py, bench/proxy_bench.py),
on 127.0.0.1 ports it picks, against an nginx backend:
  - HTTP/2 (h2c) from h2load through a gateway to an HTTP/2 upstream, with many streams in
    flight and with one per connection;
  - HTTP/1.1 keep-alive requests from wrk through a gateway to an HTTP/1.1 upstream.
Then it stops the proxy (SIGTERM: a graceful exit, which writes the counts) and everything else
it started. Exit status 0 when every load ran and the proxy exited cleanly.

Needs nginx, h2load (nghttp2-client) and wrk, which scripts/setup.sh installs.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import proxy_bench as pb  # noqa: E402
import h2_bench as hb  # noqa: E402


class Run:
    """The processes of one load, in their own directory; all stopped at the end."""

    def __init__(self, directory):
        os.makedirs(directory)
        self.fleet = pb.Fleet(directory)

    def __enter__(self):
        return self.fleet

    def __exit__(self, *exc):
        self.fleet.stop_all()


def stop_gracefully(fleet, proxy):
    """SIGTERM: the proxy drains and exits, which writes its counts."""
    fleet.stop(proxy)
    if proxy.returncode != 0:
        raise RuntimeError("halyard-proxy exited with %d" % proxy.returncode)


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if os.cpu_count() < 2:
        pb.CLIENT_CORE = pb.SERVER_CORE = "0"  # the loads pin client and servers to cores
    tmp = tempfile.mkdtemp(prefix="halyard-pgo-")
    silent = None
    try:
        # Each load with its own processes and directory (the bench helpers name their files
        # alike).
        with Run(os.path.join(tmp, "http2")) as fleet:
            backend = pb.free_port()
            hb.nginx_h2_backend(fleet, backend)
            silent = hb.SilentH2Backend()
            port = pb.free_port()
            proxy = hb.halyard_h2(fleet, port, backend, silent.port, binary)
            pb.wait_until(lambda: pb.listening(backend), "the backend listening", proxy, fleet)
            hb.h2load(port, 100000, 16, 16)
            hb.h2load(port, 10000, 4, 1)
            stop_gracefully(fleet, proxy)
        with Run(os.path.join(tmp, "http1")) as fleet:
            backend = pb.free_port()
            pb.nginx_backend(fleet, backend)
            port = pb.free_port()
            proxy = pb.halyard(fleet, port, backend, binary)
            pb.wait_until(lambda: pb.listening(backend), "the backend listening", proxy, fleet)
            pb.wrk(port, 3, 32)
            stop_gracefully(fleet, proxy)
    except Exception as e:  # noqa: BLE001  (any failure: setup builds without the profile)
        print("pgo_train: %s" % e, file=sys.stderr)
        return 1
    finally:
        if silent:
            silent.sock.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("pgo_train: the profile is written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
