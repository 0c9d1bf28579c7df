"""Mesh identity under `halyard up samples/pirata`: every hop between proxies is mutual TLS with
certificates the control plane's CA issued for each proxy's own key (here from Istio's plug-in
CA files, made with openssl, and with a 16 s lifetime, so they rotate throughout).

Checked with the real tools: `openssl s_client` reads the certificate a sidecar presents (its
SPIFFE ID, its chain to the mesh root), the apps see x-forwarded-client-cert naming the caller's
SPIFFE ID on every hop, the sidecars' metrics say mutual_tls with both principals, identity
headers a client sends are dropped, PeerAuthentication STRICT switched on under load refuses
plaintext and fails no request, a certificate rotation under load fails none either, the plug-in
CA's root is the root of every workload certificate, and a proxy started by hand
without a credential gets nothing."""
import json
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import BIN
from proxy_harness import free_port
from up_harness import Mesh, admin, copy_samples, get

if not shutil.which("openssl"):
    pytest.skip("openssl is not installed (scripts/setup.sh installs it): the mesh mTLS tests "
                "read the certificates with it", allow_module_level=True)

API_HOST = "pirata.20.88.189.150.nip.io"
TD = "spiffe://cluster.local"
GATEWAY_ID = TD + "/ns/istio-system/sa/istio-ingressgateway-service-account"


def wait_routes(mesh, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(get(mesh.port, p, API_HOST)[0] == 200 for p in ("/api", "/predict")):
            return
        time.sleep(0.2)
    raise AssertionError("routes never answered:\n" + mesh.logs())


def start_mesh(tmp, extra=()):
    m = Mesh(tmp, copy_samples(tmp), extra_args=extra)
    m.config_dir = tmp / "samples" / "pirata"
    try:
        m.wait_running()
        wait_routes(m)
    except BaseException:
        m.stop()
        raise
    return m


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def plugin_ca(d):
    """Istio's plug-in CA files, made with the openssl CLI: a root whose key the mesh never sees,
    and an intermediate the control plane signs with."""
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root-key.pem", "-out", "root-cert.pem", "-days", "30",
            "-subj", "/O=Example Corp/CN=Example Root CA", cwd=d)
    (d / "ext.cnf").write_text("basicConstraints=critical,CA:TRUE\n"
                               "keyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca-key.pem", "-out", "ca.csr",
            "-subj", "/O=Example Corp/CN=Mesh Intermediate CA", cwd=d)
    openssl("x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem",
            "-CAcreateserial", "-out", "ca-cert.pem", "-days", "20", "-extfile", "ext.cnf", cwd=d)
    (d / "cert-chain.pem").write_text((d / "ca-cert.pem").read_text() +
                                      (d / "root-cert.pem").read_text())
    (d / "root-key.pem").unlink()
    return d


# One mesh for the module (the sample apps have fixed ports): Istio's plug-in CA made here, and
# workload certificates of 16 s, so every proxy rotates about every 8 s while the tests run.
@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mtls")
    ca = plugin_ca(tmp / "cacerts")
    m = start_mesh(tmp, ("--ca-dir", str(ca), "--workload-cert-ttl", "16s"))
    m.ca = ca
    yield m
    m.stop()


class Load:
    """Requests through the gateway, one after another on fresh connections, until stopped."""

    def __init__(self, mesh, path="/api"):
        self.mesh, self.path = mesh, path
        self.ok, self.failed = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                status, body = get(self.mesh.port, self.path, API_HOST)
            except OSError as e:
                status, body = 0, str(e)
            if status == 200 and body.get("chain") == ["items-api", "ai-api"] and \
                    body["calls"][0]["status"] == 200:
                self.ok += 1
            else:
                self.failed.append((status, body))

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.failed


def presented_chain(port, tmp, name):
    """The certificates a listener presents (openssl s_client), saved as leaf.pem/chain.pem."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-showcerts",
                          "-servername", "outbound_.80_._.x"], input="", capture_output=True,
                         text=True, timeout=10).stdout
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert pems, out
    leaf = tmp / (name + "-leaf.pem")
    leaf.write_text(pems[0] + "\n")
    chain = tmp / (name + "-chain.pem")
    chain.write_text("\n".join(pems[1:]) + "\n")
    return leaf, chain


def uri_san(cert_path):
    text = subprocess.run(["openssl", "x509", "-in", str(cert_path), "-noout", "-ext",
                           "subjectAltName"], capture_output=True, text=True).stdout
    return re.findall(r"URI:(\S+)", text)


def verify(leaf, chain, root):
    args = ["openssl", "verify", "-CAfile", str(root)]
    if chain.read_text().strip():
        args += ["-untrusted", str(chain)]
    return subprocess.run(args + [str(leaf)], capture_output=True, text=True)


def xfcc_fields(value):
    return dict(item.split("=", 1) for item in value.split(";"))


def series(text, name, *labels):
    return [line for line in text.splitlines()
            if line.startswith(name + "{") and all(l in line for l in labels)]


def test_every_hop_is_mutual_tls_with_the_callers_spiffe_id(mesh):
    status, body = get(mesh.port, "/api", API_HOST)
    assert status == 200, body
    # gateway -> items-api's sidecar
    xfcc = xfcc_fields(body["headers"]["x-forwarded-client-cert"])
    assert xfcc["URI"] == GATEWAY_ID, xfcc
    assert xfcc["By"] == TD + "/ns/default/sa/items-api", xfcc
    assert re.fullmatch(r"[0-9a-f]{64}", xfcc["Hash"]) and xfcc["Subject"] == '""', xfcc
    # items-api's sidecar -> ai-api's sidecar
    answer = body["calls"][0]["answer"]
    xfcc = xfcc_fields(answer["headers"]["x-forwarded-client-cert"])
    assert xfcc["URI"] == TD + "/ns/default/sa/items-api", xfcc
    assert xfcc["By"] == TD + "/ns/default/sa/ai-api", xfcc

    deadline = time.time() + 5
    while True:
        text = admin(mesh.workload("ai-api")["admin"], "/stats/prometheus")
        found = series(text, "istio_requests_total", 'reporter="destination"',
                       'connection_security_policy="mutual_tls"',
                       'source_principal="%s/ns/default/sa/items-api"' % TD,
                       'destination_principal="%s/ns/default/sa/ai-api"' % TD,
                       'source_workload="items-api"', 'source_workload_namespace="default"')
        if found or time.time() > deadline:
            break
        time.sleep(0.2)
    assert found, text
    text = admin(mesh.workload("items-api")["admin"], "/stats/prometheus")
    assert series(text, "istio_requests_total", 'reporter="source"',
                  'destination_principal="%s/ns/default/sa/ai-api"' % TD), text


def test_a_sidecar_presents_its_workload_certificate_chained_to_the_mesh_root(mesh, tmp_path):
    root = mesh.state()["control"]["root_cert"]
    for name in ("items-api", "ai-api"):
        leaf, chain = presented_chain(mesh.workload(name)["inbound_port"], tmp_path, name)
        assert uri_san(leaf) == [TD + "/ns/default/sa/" + name]
        result = verify(leaf, chain, root)
        assert result.returncode == 0, result.stdout + result.stderr
        text = subprocess.run(["openssl", "x509", "-in", str(leaf), "-noout", "-text"],
                              capture_output=True, text=True).stdout
        assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
        assert "CA:FALSE" in text
        assert "id-ecPublicKey" in text and "P-256" in text  # the proxy's own key


def test_identity_headers_a_client_sends_are_dropped(mesh):
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api" % mesh.port,
        headers={"Host": API_HOST, "x-forwarded-client-cert": "By=x;URI=spiffe://evil/ns/a/sa/b",
                 "x-halyard-peer": "workload=forged;namespace=admin;sa=admin",
                 "x-halyard-peer-metadata": "workload=forged"})
    body = json.loads(urllib.request.urlopen(req, timeout=5).read())
    text = json.dumps(body)
    assert "forged" not in text and "evil" not in text, text
    assert xfcc_fields(body["headers"]["x-forwarded-client-cert"])["URI"] == GATEWAY_ID
    assert "x-halyard-peer" not in body["headers"]


def test_strict_switched_on_under_load_refuses_plaintext_and_fails_no_request(mesh):
    inbound = mesh.workload("ai-api")["inbound_port"]
    plain = "http://127.0.0.1:%d/predict" % inbound

    def plaintext_answered():
        try:
            urllib.request.urlopen(urllib.request.Request(plain, headers={"Host": "ai-api-svc"}),
                                   timeout=3).read()
            return True
        except OSError:
            return False

    assert plaintext_answered()  # PERMISSIVE, Istio's default
    load = Load(mesh)
    time.sleep(1)
    policy = mesh.config_dir / "mesh-strict.yaml"
    policy.write_text("""apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
""")
    try:
        deadline = time.time() + 15
        while plaintext_answered() and time.time() < deadline:
            time.sleep(0.2)
        assert not plaintext_answered(), "plaintext still answered under STRICT"
        time.sleep(2)
    finally:
        failed = load.stop()
        policy.unlink()
    assert not failed, failed[:3]
    assert load.ok > 20
    text = admin(mesh.workload("ai-api")["admin"], "/stats/prometheus")
    assert series(text, "envoy_listener_no_filter_chain_match", 'listener_address="virtualInbound"'), text
    deadline = time.time() + 15
    while not plaintext_answered() and time.time() < deadline:
        time.sleep(0.2)
    assert plaintext_answered()  # back to PERMISSIVE


def test_a_strict_destination_and_a_disabling_client_give_a_503_that_says_why(mesh):
    policy = mesh.config_dir / "ai-strict-disabled.yaml"
    policy.write_text("""apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ai-api-strict, namespace: default}
spec:
  selector: {matchLabels: {app: ai-api}}
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ai-api-plaintext, namespace: default}
spec:
  host: ai-api-svc.default.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
""")
    try:
        deadline = time.time() + 15
        while True:
            req = urllib.request.Request("http://127.0.0.1:%d/predict" % mesh.port,
                                         headers={"Host": API_HOST})
            try:
                urllib.request.urlopen(req, timeout=5).read()
                status, reason = 200, ""
            except urllib.error.HTTPError as e:
                status, reason = e.code, e.headers.get("x-halyard-reason", "")
            if status == 503 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert status == 503, status
        assert ("the destination requires mutual TLS (its PeerAuthentication is STRICT) but "
                "default/ai-api-plaintext trafficPolicy.tls sets tls mode DISABLE") in reason, reason
    finally:
        policy.unlink()
    wait_routes(mesh)


def test_mutated_traffic_at_an_inbound_port_crashes_nothing_and_leaves_nothing_open(mesh):
    w = mesh.workload("ai-api")
    rng = random.Random(10)
    hello = bytes.fromhex("160301") + bytes([0, 200, 1, 0, 0, 196, 3, 3]) + bytes(range(32))

    def active():
        text = admin(w["admin"], "/stats/prometheus")
        lines = series(text, "envoy_http_downstream_cx_active",
                       'http_conn_manager_prefix="virtualInbound"')
        return sum(float(l.rsplit(" ", 1)[1]) for l in lines)

    before = active()
    for i in range(150):
        kind = i % 3
        if kind == 0:  # a TLS record head with garbage, truncated or long
            data = hello[:rng.randint(1, len(hello))] + rng.randbytes(rng.randint(0, 300))
        elif kind == 1:  # bytes that are neither TLS nor HTTP
            data = rng.randbytes(rng.randint(1, 400))
        else:  # an HTTP head cut short
            data = b"GET /predict HTTP/1.1\r\nHost: ai-api-svc\r\nX-" + rng.randbytes(20)
        with socket.create_connection(("127.0.0.1", w["inbound_port"]), timeout=3) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(3)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    deadline = time.time() + 10
    while active() > before and time.time() < deadline:
        time.sleep(0.2)
    assert active() <= before
    status, body = get(mesh.port, "/api", API_HOST)
    assert status == 200 and body["calls"][0]["status"] == 200, body


def secret(mesh, proxy):
    out = subprocess.run([str(BIN / "halyard"), "proxy-config", "secret", proxy, "-o", "json",
                          "--control", mesh.state()["control"]["listen"]],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_rotation_under_load_fails_no_request(mesh):
    before = secret(mesh, "ai-api.default")
    load = Load(mesh)
    time.sleep(12)  # more than half of 16 s: every proxy rotated at least once
    failed = load.stop()
    after = secret(mesh, "ai-api.default")
    assert not failed, failed[:3]
    assert load.ok > 20
    assert before["serial_number"] != after["serial_number"], (before, after)
    status, body = get(mesh.port, "/api", API_HOST)
    assert status == 200 and body["calls"][0]["status"] == 200, body


def test_the_plugin_ca_is_the_root_of_every_workload_certificate(mesh, tmp_path):
    for name in ("items-api", "ai-api"):
        leaf, chain = presented_chain(mesh.workload(name)["inbound_port"], tmp_path, name)
        result = verify(leaf, chain, mesh.ca / "root-cert.pem")
        assert result.returncode == 0, result.stdout + result.stderr
        issuer = subprocess.run(["openssl", "x509", "-in", str(leaf), "-noout", "-issuer"],
                                capture_output=True, text=True).stdout
        assert "Mesh Intermediate CA" in issuer, issuer


def test_a_proxy_started_by_hand_without_a_credential_gets_nothing(mesh, tmp_path):
    admin_port = free_port()
    log = open(tmp_path / "stranger.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "halyard-proxy"), "--control", mesh.state()["control"]["listen"],
         "--control-ca", mesh.state()["control"]["root_cert"], "--role", "sidecar",
         "--name", "stranger", "--namespace", "default", "--service-account", "items-api",
         "--app-port", str(free_port()), "--inbound-port", str(free_port()),
         "--outbound-port", str(free_port()), "--admin", "127.0.0.1:%d" % admin_port],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 6
        body = ""
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/ready" % admin_port, timeout=2)
                raise AssertionError("a proxy without a credential turned ready")
            except urllib.error.HTTPError as e:
                body = e.read().decode()
            except OSError:
                pass
            time.sleep(0.3)
        assert "credential" in body.lower() or "refused" in body.lower(), body
        listed = subprocess.run([str(BIN / "halyard"), "proxy-status", "--control",
                                 mesh.state()["control"]["listen"]],
                                capture_output=True, text=True, timeout=10).stdout
        assert "stranger" not in listed, listed
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
