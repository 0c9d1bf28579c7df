"""Gateway servers with `tls.mode: ISTIO_MUTUAL` (issue 11): the gateway terminates TLS with its own
workload certificate (the one the control plane issued it) and requires a client certificate
signed by the mesh CA, as a sidecar's inbound listener does. Served for HTTPS (HTTP routes) and
TLS (the plaintext inside proxied with `tcp` routes), the client's SPIFFE ID being the principal
AuthorizationPolicy sees. A client with a mesh certificate passes; one without a certificate, or
with a certificate from a foreign CA, gets no exchange; a mesh client whose principal the policy
does not name is denied (403 for HTTP, closed for TCP); a sidecar whose DestinationRule says
ISTIO_MUTUAL reaches the gateway with its own workload certificate (east-west)."""
import json
import pathlib
import shutil
import socket
import ssl
import subprocess

import pytest

from mesh_harness import App, Control, MeshProxy, _Process, http_get, wait_until
from proxy_harness import free_port
from test_tcp_tls_routing import TcpBackend

if not shutil.which("openssl"):
    pytest.skip("openssl is not installed (scripts/setup.sh installs it): the test makes client "
                "certificates with it", allow_module_level=True)

TD = "spiffe://cluster.local"

CONFIG = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 9000}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mesh-gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-mesh, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
  - port: {number: 9443, name: tls-mesh, protocol: TLS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [mesh-gw]
  http:
  - route: [{destination: {host: web.default.svc.cluster.local, port: {number: 8080}}}]
  tcp:
  - match: [{port: 9443}]
    route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 9000}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-tester, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/tester,
                                  cluster.local/ns/default/sa/client]}}]
---
# A mesh workload reaching the gateway as Istio's east-west callers do: Istio mutual TLS from its
# sidecar (DestinationRule ISTIO_MUTUAL) to the gateway's ISTIO_MUTUAL port.
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mesh-gw, namespace: default}
spec:
  hosts: [mesh-gw.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8443, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: HTTPS_PORT}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mesh-gw, namespace: default}
spec:
  host: mesh-gw.example.com
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
"""


class _WithArgs(_Process):
    """Adds `extra_args` (set on the instance before MeshProxy starts it) to the command."""

    def __init__(self, args, log_path):
        super().__init__(list(args) + list(getattr(self, "extra_args", ())), log_path)


class Gateway(MeshProxy, _WithArgs):
    """A gateway whose Gateway ports 443 and 9443 listen on ports the test picked."""

    def __init__(self, control, tmp, name, https_port):
        self.https_port, self.tls_port = https_port, free_port()
        self.extra_args = ["--port-map", "443=%d" % self.https_port,
                           "--port-map", "9443=%d" % self.tls_port]
        super().__init__(control, tmp, name, role="gateway",
                         service_account="istio-ingressgateway-service-account")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def client_certificate(d, name, ca_cert, ca_key, spiffe_id):
    """A leaf for `spiffe_id` signed by ca_cert/ca_key: (chain file, key file)."""
    (d / (name + ".cnf")).write_text("subjectAltName=URI:%s\n"
                                     "extendedKeyUsage=clientAuth,serverAuth\n" % spiffe_id)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/O=test", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", name + ".crt", "-days", "1",
            "-extfile", name + ".cnf", cwd=d)
    (d / (name + ".chain")).write_text((d / (name + ".crt")).read_text() +
                                       pathlib.Path(ca_cert).read_text())
    return str(d / (name + ".chain")), str(d / (name + ".key"))


def foreign_ca(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "foreign-ca.key", "-out", "foreign-ca.crt", "-days", "2",
            "-subj", "/O=Elsewhere/CN=Foreign Root", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            cwd=d)
    return d / "foreign-ca.crt", d / "foreign-ca.key"


def tls_connect(port, cert=None, root=None, timeout=5):
    """A TLS connection to the gateway presenting `cert` (chain, key) if given; the server's
    certificate is checked against `root` (the mesh root) when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if root:
        ctx.load_verify_locations(str(root))
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="web.example.com")


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def https_get(port, cert=None, root=None):
    """(status, body) of GET / over TLS; (None, why) when the gateway refused the exchange."""
    try:
        with tls_connect(port, cert, root) as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n")
            data = read_all(s)
    except (OSError, ssl.SSLError) as e:
        return None, str(e)
    if not data:
        return None, "closed without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def tls_exchange(port, payload, cert=None):
    """What the TCP route's backend echoes through the TLS server; b"" when refused."""
    try:
        with tls_connect(port, cert) as s:
            s.sendall(payload)
            return read_all(s)
    except (OSError, ssl.SSLError):
        return b""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("istio_mutual")
    config = tmp / "config"
    config.mkdir()
    https_port = free_port()
    (config / "mesh.yaml").write_text(CONFIG.replace("HTTPS_PORT", str(https_port)))
    web, echo = App("web"), TcpBackend("echo", reply_at_once=True)
    client = App("client")
    procs = []
    m = type("Mesh", (), {})()
    try:
        control = Control(config, tmp)
        procs.append(control)
        procs.append(MeshProxy(control, tmp, "web-1", role="sidecar", app=web,
                               labels="app=web,version=v1", service_account="web"))
        procs.append(MeshProxy(control, tmp, "echo-1", role="sidecar", app=echo,
                               labels="app=echo,version=v1", service_account="echo"))
        m.client = MeshProxy(control, tmp, "client-1", role="sidecar", app=client,
                             service_account="client")
        procs.append(m.client)
        m.gateway = Gateway(control, tmp, "gw-1", https_port)
        procs.append(m.gateway)
        certs = tmp / "certs"
        certs.mkdir()
        ca_cert, ca_key = control.ca_dir / "ca-cert.pem", control.ca_dir / "ca-key.pem"
        m.root = control.root_cert
        m.tester = client_certificate(certs, "tester", ca_cert, ca_key,
                                      TD + "/ns/default/sa/tester")
        m.other = client_certificate(certs, "other", ca_cert, ca_key, TD + "/ns/default/sa/other")
        f_cert, f_key = foreign_ca(certs)
        m.foreign = client_certificate(certs, "foreign", f_cert, f_key,
                                       TD + "/ns/default/sa/tester")
        assert wait_until(lambda: https_get(m.gateway.https_port, m.tester)[0] == 200,
                          timeout=20), m.gateway.output()
        yield m
    finally:
        for p in reversed(procs):
            p.stop()
        web.stop()
        echo.stop()
        client.stop()


def test_a_mesh_client_reaches_http_routes_and_the_gateway_presents_its_workload_certificate(
        mesh):
    # The server's chain ends at the mesh root: the gateway's own workload certificate.
    status, body = https_get(mesh.gateway.https_port, mesh.tester, root=mesh.root)
    assert status == 200, body
    assert json.loads(body)["service"] == "web"
    with tls_connect(mesh.gateway.https_port, mesh.tester, root=mesh.root) as s:
        der = s.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                          capture_output=True, text=True).stdout
    assert TD + "/ns/istio-system/sa/istio-ingressgateway-service-account" in text, text


def test_no_client_certificate_or_a_foreign_ca_gets_no_exchange(mesh):
    for cert in (None, mesh.foreign):
        status, why = https_get(mesh.gateway.https_port, cert)
        assert status is None, (cert, status, why)
        assert tls_exchange(mesh.gateway.tls_port, b"hello", cert) == b""
    # The gateway is still serving the mesh client afterwards.
    assert https_get(mesh.gateway.https_port, mesh.tester)[0] == 200


def test_tls_server_proxies_the_plaintext_with_tcp_routes(mesh):
    assert tls_exchange(mesh.gateway.tls_port, b"hello", mesh.tester) == b"echo:hello"


def test_the_client_certificate_is_the_principal_authorization_policy_sees(mesh):
    status, body = https_get(mesh.gateway.https_port, mesh.other)
    assert status == 403, body
    assert tls_exchange(mesh.gateway.tls_port, b"hello", mesh.other) == b""
    assert https_get(mesh.gateway.https_port, mesh.tester)[0] == 200
    assert tls_exchange(mesh.gateway.tls_port, b"hi", mesh.tester) == b"echo:hi"


def test_a_sidecar_reaches_the_gateway_in_istio_mutual_tls(mesh):
    # The app speaks plain HTTP to its sidecar; the sidecar originates Istio mutual TLS with its
    # workload certificate, which the gateway accepts and authorizes as default/client.
    def through():
        try:
            code, _, body = http_get("http://mesh-gw.example.com:8443/east-west",
                                     proxy="http://127.0.0.1:%d" % mesh.client.outbound_port)
            return code == 200 and json.loads(body)["path"] == "/east-west"
        except (OSError, ValueError):
            return False

    assert wait_until(through, timeout=10), mesh.client.output() + mesh.gateway.output()
