"""gRPC between two workloads under `halyard up`, by service name: the client is a grpcio
channel that honours http_proxy (grpc.http_proxy set to a sidecar's outbound listener, as an
app with HTTP_PROXY set would), so it sends CONNECT greeter:50051 and speaks HTTP/2 inside the
tunnel; the client's sidecar routes it as the greeter service's port (gRPC: HTTP/2 upstream),
over mesh mutual TLS with ALPN h2 to the greeter's sidecar, which speaks HTTP/2 to the app.
Ports are picked by the test."""
import time

import pytest

grpc = pytest.importorskip("grpc")

from conftest import ROOT  # noqa: E402
from proxy_harness import free_port  # noqa: E402
from up_harness import Mesh  # noqa: E402

PYTHON = "/usr/bin/python3"  # the one with the Debian packages (grpcio)

SERVER = r'''
import os, sys, time
from concurrent import futures
import grpc

def hello(request, context):
    peer = dict(context.invocation_metadata())
    return b"hello " + request + b" from greeter; xfcc=" + peer.get("x-forwarded-client-cert", "").encode()

def count(request_iterator, context):
    return b"%d" % sum(1 for _ in request_iterator)

def ticks(request, context):
    for i in range(int(request)):
        yield b"tick %d" % i

server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("mesh.Greeter", {
    "Hello": grpc.unary_unary_rpc_method_handler(hello),
    "Count": grpc.stream_unary_rpc_method_handler(count),
    "Ticks": grpc.unary_stream_rpc_method_handler(ticks),
}),))
server.add_insecure_port("127.0.0.1:%s" % os.environ["PORT"])
server.start()
server.wait_for_termination()
'''


def mesh_yaml(server_script, greeter_port, client_port):
    return """apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: default}
spec:
  selector: {app: greeter}
  ports: [{name: grpc, port: 50051, targetPort: %d}]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: greeter
  labels: {app: greeter, version: v1}
spec:
  service: greeter
  port: %d
  command: [%s, %s]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata:
  name: caller
  labels: {app: caller, version: v1}
spec:
  port: %d
  command: [%s, %s, --name, caller]
""" % (greeter_port, greeter_port, PYTHON, server_script, client_port, PYTHON,
       ROOT / "samples" / "apps" / "echo_app.py")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grpc-mesh")
    script = tmp / "greeter.py"
    script.write_text(SERVER)
    config = tmp / "mesh"
    config.mkdir()
    (config / "mesh.yaml").write_text(mesh_yaml(script, free_port(), free_port()))
    m = Mesh(tmp, config)
    try:
        m.wait_running()
        m.outbound = m.workload("caller")["outbound_port"]
        m.channel = grpc.insecure_channel(
            "greeter:50051", options=[("grpc.http_proxy", "http://127.0.0.1:%d" % m.outbound)])
        deadline = time.time() + 20
        while True:
            try:
                hello(m, b"warmup")
                break
            except grpc.RpcError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        yield m
        m.channel.close()
    finally:
        m.stop()


def hello(m, name):
    return m.channel.unary_unary("/mesh.Greeter/Hello")(name, timeout=5)


def test_unary_by_service_name_over_mutual_tls(mesh):
    reply = hello(mesh, b"mesh")
    assert reply.startswith(b"hello mesh from greeter")
    # The greeter's sidecar saw the caller's workload certificate.
    assert b"spiffe://cluster.local/ns/default/sa/" in reply


def test_streaming_both_ways_by_service_name(mesh):
    assert mesh.channel.stream_unary("/mesh.Greeter/Count")(
        (b"x" for _ in range(50)), timeout=10) == b"50"
    assert list(mesh.channel.unary_stream("/mesh.Greeter/Ticks")(b"3", timeout=10)) == [
        b"tick 0", b"tick 1", b"tick 2"]


def test_one_stream_connection_carries_many_calls(mesh):
    for i in range(20):
        assert hello(mesh, b"n%d" % i).startswith(b"hello n%d" % i)
