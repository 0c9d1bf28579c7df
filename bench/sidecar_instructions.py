#!/usr/bin/python3
"""Instructions a sidecar executes per plaintext inbound connection and per outbound request,
counted by Valgrind's callgrind (a figure that does not move with the machine's load, like
bench/h2_instructions.py): halyard-proxy in file mode (--config, --role sidecar, one worker) in
front of a small HTTP app, under callgrind. After a warm-up the counters are zeroed, then

- --connections new connections to the inbound listener, one request each (Connection: close),
  on an app port of undeclared protocol (PeerAuthentication PERMISSIVE, the default: the sidecar
  sniffs for mutual TLS and for the protocol);
- --requests requests on one keep-alive connection to the outbound listener, for a service whose
  endpoint is a WorkloadEntry with five labels (the destination_* metric labels come from them);

and each phase's instructions are divided by its count. Compare builds by running it for each,
in turns:

    bench/sidecar_instructions.py BINARY [--connections 1000] [--requests 2000]

Not part of the test command. Needs valgrind (callgrind_control).
"""
import argparse
import glob
import http.client
import os
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = """apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  selector: {{app: web}}
  ports: [{{name: web, port: {app}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: items, namespace: default}}
spec:
  selector: {{app: items}}
  ports: [{{name: http, port: 9000, targetPort: {items}}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: items-1, namespace: default}}
spec:
  address: 127.0.0.1
  labels: {{app: items, version: v1, pod-template-hash: 7d9f8c6b5, app.kubernetes.io/version: "1.2",
           topology.kubernetes.io/zone: zone-a}}
"""


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def serve():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def inbound(port, n):
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/", headers={"Host": "web", "Connection": "close"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        c.close()


def outbound(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(n):
        c.request("GET", "http://items:9000/", headers={"Host": "items:9000"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, (r.status, r.headers)
    c.close()


def total(dump):
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    app, items = serve(), serve()
    work = tempfile.mkdtemp(prefix="conn_instr")
    os.makedirs(work + "/config")
    with open(work + "/config/mesh.yaml", "w") as f:
        f.write(CONFIG.format(app=app.server_address[1], items=items.server_address[1]))
    inb, outb = free_port(), free_port()
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.out" % work,
         os.path.abspath(a.binary), "--config", work + "/config", "--role", "sidecar",
         "--app-port", str(app.server_address[1]), "--inbound-port", str(inb),
         "--outbound-port", str(outb), "--name", "web-1", "--namespace", "default",
         "--labels", "app=web,version=v1", "--workers", "1", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=open(work + "/proxy.log", "w"))
    try:
        deadline = time.time() + 60
        while True:
            try:
                inbound(inb, 1)
                outbound(outb, 1)
                break
            except (OSError, AssertionError, http.client.HTTPException):
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        inbound(inb, 100)
        outbound(outb, 200)
        out = {}
        for name, fn, n in (("inbound connection", inbound, a.connections),
                            ("outbound request", outbound, a.requests)):
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                           check=True)
            fn(inb if fn is inbound else outb, n)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                           check=True)
            time.sleep(1)
            dump = sorted(glob.glob(work + "/cg.out.*"), key=os.path.getmtime)[-1]
            out[name] = total(dump) / n
            os.rename(dump, dump + "." + name.replace(" ", "_"))
        for k, v in out.items():
            print("%s: %.0f instructions per %s" % (a.binary, v, k))
        print("dumps in", work)
    finally:
        proc.terminate()
        proc.wait()


main()
