"""TCP through the mesh (issue 11), what the destination knows of its caller and what
destinationSubnets match, under a control plane with sidecars in front of apps of the test:

- The destination sidecar's TCP metrics name the calling workload (source_workload, its
  namespace, app and version), found in the registry by the namespace and service account of
  the caller's certificate, where Istio's TCP metadata exchange would have told it.
- A `tcp` route's destinationSubnets match a CONNECT to a host name by the addresses the host
  stands for (a Service's clusterIP), as Istio matches the original destination address; a host
  whose address is outside the subnet takes the next route.
- sourceLabels of a `tcp` match pick routes per sidecar: two sidecars of one namespace whose
  labels differ only there get different TCP tables from the control plane.
- At a gateway, destinationSubnets match the address the client connected to, and the
  destination knows the gateway as its TCP caller as it knows sidecars."""
import socket

import pytest

from mesh_harness import App, Control, MeshProxy, _Process, wait_until
from proxy_harness import free_port
from test_sidecar_tunnel import tunnel_exchange
from test_tcp_tls_routing import TcpBackend, metric_sum

CONFIG = """apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: far, namespace: default}
spec:
  clusterIP: 10.200.0.10
  selector: {app: far}
  ports: [{name: tcp-far, port: 9000}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: subnets, namespace: default}
spec:
  hosts: [echo, far]
  tcp:
  - match: [{port: 9000, sourceLabels: {team: red}}]
    route: [{destination: {host: echo}}]
  - match: [{port: 9000, destinationSubnets: [10.96.0.0/16]}]
    route: [{destination: {host: echo}}]
  - route: [{destination: {host: far}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: gw-subnets, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [tcp-gw]
  tcp:
  - match: [{port: 31400, destinationSubnets: [127.0.0.1/32]}]
    route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 9000}}}]
  - match: [{port: 31400}]
    route: [{destination: {host: far.default.svc.cluster.local, port: {number: 9000}}}]
"""


class _WithArgs(_Process):
    """Adds `extra_args` (set on the instance before MeshProxy starts it) to the command."""

    def __init__(self, args, log_path):
        super().__init__(list(args) + list(getattr(self, "extra_args", ())), log_path)


class TcpGateway(MeshProxy, _WithArgs):
    """A gateway whose Gateway port 31400 listens on a port the test picked (on every address)."""

    def __init__(self, control, tmp, name):
        self.tcp_port = free_port()
        self.extra_args = ["--port-map", "31400=%d" % self.tcp_port]
        super().__init__(control, tmp, name)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tcp_peer")
    config = tmp / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(CONFIG)
    echo, far = TcpBackend("echo", reply_at_once=True), TcpBackend("far", reply_at_once=True)
    client, red = App("client", version="v3"), App("client", version="v3")
    procs = []
    m = type("Mesh", (), {})()
    try:
        control = Control(config, tmp)
        procs.append(control)
        m.echo = MeshProxy(control, tmp, "echo-1", role="sidecar", app=echo,
                           labels="app=echo,version=v1", service_account="echo")
        procs.append(m.echo)
        procs.append(MeshProxy(control, tmp, "far-1", role="sidecar", app=far,
                               labels="app=far,version=v1", service_account="far"))
        m.client = MeshProxy(control, tmp, "client-7", role="sidecar", app=client,
                             labels="app=client,version=v3", service_account="client")
        procs.append(m.client)
        m.red = MeshProxy(control, tmp, "client-red", role="sidecar", app=red,
                          labels="app=client,version=v3,team=red", service_account="red")
        procs.append(m.red)
        m.gateway = TcpGateway(control, tmp, "gw-1")
        procs.append(m.gateway)
        m.outbound = m.client.outbound_port
        assert wait_until(lambda: tunnel_exchange(m.outbound, "echo:9000", b"ping")[1]
                          == b"echo:ping", timeout=20), m.client.output()
        assert wait_until(lambda: tunnel_exchange(m.outbound, "far:9000", b"ping")[1]
                          == b"far:ping", timeout=20), m.client.output()
        yield m
    finally:
        for p in reversed(procs):
            p.stop()
        for app in (echo, far, client, red):
            app.stop()


def test_destination_tcp_metrics_name_the_calling_workload(mesh):
    labels = dict(reporter="destination", request_protocol="tcp",
                  source_workload="client-7", source_workload_namespace="default",
                  source_app="client", source_canonical_service="client", source_version="v3",
                  source_principal="spiffe://cluster.local/ns/default/sa/client",
                  destination_workload="echo-1", connection_security_policy="mutual_tls")

    def closed(**kv):
        return metric_sum(mesh.echo.metrics(), "istio_tcp_connections_closed_total", **kv)

    # The registry's table reaches the destination with the push that followed the client's
    # registration; a connection before it counts "unknown", as Istio does before it has the
    # peer's metadata.
    def one_more():
        seen = closed(**labels)
        tunnel_exchange(mesh.outbound, "echo:9000", b"y")
        return wait_until(lambda: closed(**labels) > seen, timeout=1)

    assert wait_until(one_more, timeout=10), mesh.echo.metrics()
    before = closed(**labels)
    unknown = closed(reporter="destination", source_workload="unknown")
    for _ in range(3):
        assert tunnel_exchange(mesh.outbound, "echo:9000", b"x" * 50)[1] == b"echo:" + b"x" * 50
    assert wait_until(lambda: closed(**labels) >= before + 3, timeout=5), mesh.echo.metrics()
    text = mesh.echo.metrics()
    assert metric_sum(text, "istio_tcp_connections_opened_total", **labels) >= before + 3
    assert metric_sum(text, "istio_tcp_received_bytes_total", **labels) >= 150
    assert closed(reporter="destination", source_workload="unknown") == unknown, text


def test_destination_subnets_match_a_connect_to_a_host_name_by_its_address(mesh):
    # echo's clusterIP 10.96.0.10 is in 10.96.0.0/16: the first route; far's 10.200.0.10 is not.
    for _ in range(3):
        assert tunnel_exchange(mesh.outbound, "echo:9000", b"a")[1] == b"echo:a"
        assert tunnel_exchange(mesh.outbound, "far.default.svc.cluster.local:9000",
                               b"b")[1] == b"far:b"


def gateway_exchange(address, port, payload):
    with socket.create_connection((address, port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def test_destination_subnets_at_a_gateway_match_the_address_the_client_connected_to(mesh):
    def answered():
        try:
            return gateway_exchange("127.0.0.1", mesh.gateway.tcp_port, b"hi") == b"echo:hi"
        except OSError:
            return False

    assert wait_until(answered, timeout=20), mesh.gateway.output()
    # 127.0.0.2 is this machine too, but not in 127.0.0.1/32: the next route.
    assert gateway_exchange("127.0.0.2", mesh.gateway.tcp_port, b"hi") == b"far:hi"
    assert gateway_exchange("127.0.0.1", mesh.gateway.tcp_port, b"hi") == b"echo:hi"


def test_a_gateway_is_named_as_the_tcp_caller_too(mesh):
    # Gateways register no workload (they are no service's endpoint), yet the destination knows
    # the one that called it by the name it connected to the control plane with.
    labels = dict(reporter="destination", request_protocol="tcp", source_workload="gw-1",
                  source_workload_namespace="istio-system", source_app="gw-1",
                  source_principal="spiffe://cluster.local/ns/istio-system/sa/default",
                  destination_workload="echo-1")

    def one_more():
        seen = metric_sum(mesh.echo.metrics(), "istio_tcp_connections_closed_total", **labels)
        try:
            gateway_exchange("127.0.0.1", mesh.gateway.tcp_port, b"g")
        except OSError:
            pass
        return wait_until(lambda: metric_sum(mesh.echo.metrics(),
                                             "istio_tcp_connections_closed_total", **labels)
                          > seen, timeout=1)

    assert wait_until(one_more, timeout=10), mesh.echo.metrics()


def test_tcp_source_labels_give_sidecars_of_one_namespace_their_own_tables(mesh):
    def red_reaches_echo():
        return tunnel_exchange(mesh.red.outbound_port, "far:9000", b"r")[1] == b"echo:r"

    assert wait_until(red_reaches_echo, timeout=10), mesh.red.output()
    for _ in range(3):
        assert tunnel_exchange(mesh.red.outbound_port, "far:9000", b"r")[1] == b"echo:r"
        assert tunnel_exchange(mesh.outbound, "far:9000", b"c")[1] == b"far:c"
