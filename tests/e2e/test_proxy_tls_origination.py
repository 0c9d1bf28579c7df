"""TLS origination through the gateway (DestinationRule trafficPolicy.tls SIMPLE / MUTUAL): real
TLS servers on 127.0.0.1 (Python's ssl around http.server) that answer with what they saw (SNI,
client certificate, which TLS connection), certificates made with openssl for the test, and the
real halyard-proxy in front. Covers server verification (CA, subjectAltNames, insecureSkipVerify,
explicit SNI), client certificates (files and credentialName), connection reuse, port-level
settings, the ssl counters and a client certificate rewritten on disk."""
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proxy_harness import Proxy, curl, gateway, service

HOST = "api.external.test"


# --- certificates ---------------------------------------------------------------------------


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class Pki:
    """A CA, an unrelated CA, a server certificate for api.external.test signed by the CA, and
    two client certificates (CN client-one, client-two) for one key, signed by the CA."""

    def __init__(self, directory):
        self.dir = directory
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "other-ca"):
            _openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt",
                     "-days", "2", "-subj", "/O=Halyard test/CN=%s" % ca,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
        (directory / "server.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n" % HOST)
        (directory / "client.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=clientAuth\n")
        self._leaf("server", "server", "/CN=%s" % HOST, "server.ext")
        self._leaf("client-one", "client", "/O=Halyard test/CN=client-one", "client.ext")
        # The second client certificate reuses the first key, so rewriting the certificate file
        # alone is a complete rotation (no moment where certificate and key disagree).
        self._leaf("client-two", "client", "/O=Halyard test/CN=client-two", "client.ext")

    def _leaf(self, name, key, subject, ext):
        if not (self.dir / (key + ".key")).exists():
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-out", key + ".key", cwd=self.dir)
        _openssl("req", "-new", "-key", key + ".key", "-subj", subject, "-out", name + ".csr",
                 cwd=self.dir)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".crt",
                 cwd=self.dir)

    def path(self, name):
        return str(self.dir / name)

    def text(self, name):
        return (self.dir / name).read_text()


# --- TLS backends ---------------------------------------------------------------------------


def _common_name(cert):
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class TlsBackend:
    """An HTTP/1.1 server behind TLS with the api.external.test certificate. Each TLS connection
    gets a number; answers are JSON with the request and its connection's SNI, client
    certificate CN and TLS version. `require_client_cert` asks for a certificate of the CA."""

    def __init__(self, name, pki, require_client_cert=False):
        self.name = name
        self.lock = threading.Lock()
        self.connections = []  # one dict per completed handshake
        self.failed_handshakes = []  # the errors of failed ones
        self.requests = []
        self._local = threading.local()
        ctx = ssl_context_server(pki, require_client_cert)
        ctx.sni_callback = self._sni
        self.ctx = ctx
        backend = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def finish_request(self, request, client_address):
                # The handshake runs here, in the connection's own thread.
                request.settimeout(10)
                backend._local.sni = None
                try:
                    tls = backend.ctx.wrap_socket(request, server_side=True)
                except (OSError, ValueError) as e:
                    with backend.lock:
                        backend.failed_handshakes.append(str(e))
                    return
                with backend.lock:
                    info = {"id": len(backend.connections) + 1, "sni": backend._local.sni,
                            "client_cn": _common_name(tls.getpeercert()),
                            "version": tls.version()}
                    backend.connections.append(info)
                backend._local.conn = info
                try:
                    self.RequestHandlerClass(tls, client_address, self)
                finally:
                    try:
                        tls.close()
                    except OSError:
                        pass

        self.server = Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _sni(self, sock, server_name, ctx):
        self._local.sni = server_name
        return None

    def handshakes(self):
        with self.lock:
            return len(self.connections)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                conn = backend._local.conn
                record = {"backend": backend.name, "path": self.path,
                          "host": self.headers.get("Host"), "connection": conn["id"],
                          "sni": conn["sni"], "client_cn": conn["client_cn"],
                          "tls": conn["version"]}
                with backend.lock:
                    backend.requests.append(record)
                data = (json.dumps(record) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        return Handler


def ssl_context_server(pki, require_client_cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.path("server.crt"), pki.path("server.key"))
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki.path("ca.crt"))
    return ctx


# --- configuration --------------------------------------------------------------------------


def service_entry(host, port):
    return """apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: http-tls, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http-tls: %d}}]
""" % (host.split(".")[0], host, port)


def destination_rule(host, tls):
    return """apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: %s, namespace: default}
spec:
  host: %s
  trafficPolicy:
    tls: %s
""" % (host.split(".")[0], host, tls)


def indent_block(text, spaces):
    pad = " " * spaces
    return "|\n" + "".join(pad + line + "\n" for line in text.strip().splitlines())


# path prefix -> (ServiceEntry host, backend key, DestinationRule tls as a flow mapping)
def cases(pki):
    ca, other = pki.path("ca.crt"), pki.path("other-ca.crt")
    cert, key = pki.path("client-one.crt"), pki.path("client.key")
    return {
        "/ca": ("ok.tls.test", "plain", "{mode: SIMPLE, caCertificates: %s}" % ca),
        "/wrong-ca": ("wrongca.tls.test", "plain", "{mode: SIMPLE, caCertificates: %s}" % other),
        "/sni": ("sni.tls.test", "plain",
                 "{mode: SIMPLE, caCertificates: %s, sni: other.name, "
                 "subjectAltNames: [%s]}" % (ca, HOST)),
        "/bad-san": ("badsan.tls.test", "plain",
                     "{mode: SIMPLE, caCertificates: %s, subjectAltNames: [nope.external.test]}"
                     % ca),
        # Istio rejects caCertificates next to insecureSkipVerify; the test CA is not in the
        # system trust store, so without the flag this fails (as /system-trust shows).
        "/insecure": ("insecure.tls.test", "plain", "{mode: SIMPLE, insecureSkipVerify: true}"),
        "/system-trust": ("systrust.tls.test", "plain", "{mode: SIMPLE}"),
        "/mutual": ("mutual.tls.test", "mtls",
                    "{mode: MUTUAL, caCertificates: %s, clientCertificate: %s, privateKey: %s}"
                    % (ca, cert, key)),
        "/no-client-cert": ("nocert.tls.test", "mtls", "{mode: SIMPLE, caCertificates: %s}" % ca),
        "/credential": ("cred.tls.test", "mtls", "{mode: MUTUAL, credentialName: upstream-client}"),
        "/rotate": ("rotate.tls.test", "mtls",
                    "{mode: MUTUAL, caCertificates: %s, clientCertificate: %s, privateKey: %s}"
                    % (ca, pki.path("rotating.crt"), key)),
    }


def config(pki, ports):
    table = cases(pki)
    routes = "".join(
        "  - match: [{uri: {prefix: %s}}]\n    retries: {attempts: 0}\n"
        "    route: [{destination: {host: %s, port: {number: 443}}}]\n" % (prefix, host)
        for prefix, (host, _, _) in table.items())
    routes += ("  - match: [{uri: {prefix: /port-level}}]\n    retries: {attempts: 0}\n"
               "    route: [{destination: {host: portlevel}}]\n")
    vs = ("apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
          "metadata: {name: tls-origination, namespace: default}\nspec:\n  hosts: [%s]\n"
          "  gateways: [tls-gw]\n  http:\n%s" % (HOST, routes))
    docs = [gateway("tls-gw", ['"*"']), vs]
    for host, backend, tls in table.values():
        docs.append(service_entry(host, ports[backend]))
        docs.append(destination_rule(host, tls))
    # Kubernetes Service on port 80: plaintext at the top level, TLS for port 80.
    docs.append(service("portlevel", ports["plain"]))
    docs.append("""apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: portlevel, namespace: default}
spec:
  host: portlevel.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: DISABLE}
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE, caCertificates: %s}
""" % pki.path("ca.crt"))
    # credentialName at a gateway: a Secret in the gateway's namespace (istio-system).
    docs.append("""apiVersion: v1
kind: Secret
metadata: {name: upstream-client, namespace: istio-system}
type: kubernetes.io/tls
stringData:
  tls.crt: %s
  tls.key: %s
  ca.crt: %s
""" % (indent_block(pki.text("client-one.crt"), 4), indent_block(pki.text("client.key"), 4),
       indent_block(pki.text("ca.crt"), 4)))
    return "---\n".join(docs)


class Env:
    def __init__(self, tmp):
        self.pki = Pki(tmp)
        shutil.copy(self.pki.path("client-one.crt"), self.pki.path("rotating.crt"))
        self.plain = TlsBackend("plain", self.pki)
        self.mtls = TlsBackend("mtls", self.pki, require_client_cert=True)
        self.log_path = tmp / "access.log"
        try:
            self.proxy = Proxy(tmp, config(self.pki, {"plain": self.plain.port,
                                                      "mtls": self.mtls.port}),
                               extra_args=["--access-log", str(self.log_path),
                                           "--access-log-format", "json"])
        except Exception:
            self.plain.stop()
            self.mtls.stop()
            raise

    def get(self, path, request_id=None):
        args = ("-H", "x-request-id: " + request_id) if request_id else ()
        return curl(self.proxy.port, path, HOST, *args)

    def log_entry(self, request_id, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log_path.exists():
                for line in self.log_path.read_text().splitlines():
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id:
                        return entry
            time.sleep(0.1)
        raise AssertionError("no access log entry for " + request_id)

    def flags(self, request_id):
        return set((self.log_entry(request_id)["response_flags"] or "-").split(","))

    def stop(self):
        self.proxy.stop()
        self.plain.stop()
        self.mtls.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("tls-origination"))
    yield e
    e.stop()


def cluster(host):
    return "outbound|443||" + host


# --- tests ----------------------------------------------------------------------------------


def test_simple_with_ca_verifies_the_server_and_sends_the_host_as_sni(env):
    r = env.get("/ca/one", "ca-1")
    assert r.status == 200, r
    seen = r.json()
    assert seen["backend"] == "plain"
    assert seen["path"] == "/ca/one"
    assert seen["host"] == HOST
    assert seen["sni"] == HOST  # auto SNI: the Host sent upstream
    assert seen["tls"] in ("TLSv1.2", "TLSv1.3")
    assert seen["client_cn"] is None
    assert env.flags("ca-1") == {"-"}


def test_unrelated_ca_fails_the_handshake_with_503_uf(env):
    before = len(env.plain.failed_handshakes)
    r = env.get("/wrong-ca", "wrong-ca-1")
    assert r.status == 503, r
    reason = r.headers["x-halyard-reason"]
    assert "TLS handshake with 127.0.0.1:%d" % env.plain.port in reason
    assert "SNI %s" % HOST in reason
    assert "certificate verify failed" in reason
    assert "UF" in env.flags("wrong-ca-1")
    failure = env.log_entry("wrong-ca-1")["upstream_transport_failure_reason"]
    assert failure and "certificate verify failed" in failure, failure
    assert len(env.plain.failed_handshakes) > before  # the server saw the alert


def test_explicit_sni_with_subject_alt_names(env):
    r = env.get("/sni", "sni-1")
    assert r.status == 200, r
    seen = r.json()
    assert seen["sni"] == "other.name"
    assert seen["host"] == HOST  # the Host header is not the SNI


def test_subject_alt_names_the_certificate_lacks_is_503_uf(env):
    r = env.get("/bad-san", "bad-san-1")
    assert r.status == 503, r
    assert "certificate verify failed" in r.headers["x-halyard-reason"]
    assert "UF" in env.flags("bad-san-1")


def test_insecure_skip_verify_accepts_an_untrusted_server(env):
    r = env.get("/system-trust", "system-trust-1")
    assert r.status == 503, r
    assert "unable to get local issuer certificate" in r.headers["x-halyard-reason"]
    assert "UF" in env.flags("system-trust-1")
    r = env.get("/insecure", "insecure-1")
    assert r.status == 200, r
    assert r.json()["sni"] == HOST


def test_mutual_presents_the_client_certificate(env):
    r = env.get("/mutual", "mutual-1")
    assert r.status == 200, r
    seen = r.json()
    assert seen["backend"] == "mtls"
    assert seen["client_cn"] == "client-one"
    assert seen["sni"] == HOST


def test_no_client_certificate_to_a_server_that_requires_one_is_503(env):
    before = len(env.mtls.failed_handshakes)
    r = env.get("/no-client-cert", "no-cert-1")
    assert r.status == 503, r
    # With TLS 1.3 the client's handshake is done before the server checks for a certificate:
    # the request write then meets the server's close (reset by peer, UC) or the read meets its
    # alert (UR), whichever comes first.
    reason = r.headers["x-halyard-reason"]
    assert "certificate required" in reason or "reset by peer" in reason, reason
    flags = env.flags("no-cert-1")
    assert flags and flags <= {"UF", "UC", "UR"}, flags
    # The server refused the handshake (with TLS 1.3 the client learns it only on first read).
    deadline = time.time() + 3
    while len(env.mtls.failed_handshakes) == before and time.time() < deadline:
        time.sleep(0.05)
    assert len(env.mtls.failed_handshakes) > before


def test_mutual_with_credential_name_from_the_gateway_namespace(env):
    r = env.get("/credential", "credential-1")
    assert r.status == 200, r
    assert r.json()["client_cn"] == "client-one"


def test_keep_alive_reuses_one_upstream_tls_connection(env):
    before = env.plain.handshakes()
    conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=10)
    try:
        seen = []
        for i in range(5):
            conn.request("GET", "/ca/reuse-%d" % i, headers={"Host": HOST})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, body
            seen.append(json.loads(body)["connection"])
    finally:
        conn.close()
    # One downstream connection is served by one worker: one pooled upstream connection.
    assert len(set(seen)) == 1, seen
    assert env.plain.handshakes() - before <= 1


def test_pooled_connections_are_not_shared_across_tls_settings(env):
    """Clusters on the same endpoint with other TLS settings or SNI get their own connections:
    a verified connection is never lent to a cluster that would have rejected the server."""
    conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=10)
    try:
        def get(path):
            conn.request("GET", path, headers={"Host": HOST})
            r = conn.getresponse()
            return r.status, r.read()

        seen = {}
        for path in ("/ca", "/sni", "/insecure", "/ca"):
            status, body = get(path + "/pool")
            assert status == 200, body
            seen.setdefault(path, []).append(json.loads(body))
        first, again = seen["/ca"]
        assert again["connection"] == first["connection"]  # reused
        assert seen["/sni"][0]["sni"] == "other.name"
        assert seen["/sni"][0]["connection"] != first["connection"]
        assert seen["/insecure"][0]["connection"] not in (first["connection"],
                                                           seen["/sni"][0]["connection"])
        status, body = get("/wrong-ca/pool")  # the idle verified connection is not taken
        assert status == 503, body
        assert b"certificate verify failed" in body
    finally:
        conn.close()


def test_port_level_tls_overrides_top_level_disable(env):
    r = env.get("/port-level", "port-level-1")
    assert r.status == 200, r
    seen = r.json()
    assert seen["backend"] == "plain"
    assert seen["sni"] == HOST
    assert seen["tls"] in ("TLSv1.2", "TLSv1.3")


def _counters(env, name):
    text = env.proxy.admin("/stats/prometheus")
    out = {}
    for m in re.finditer(r'^%s\{cluster_name="([^"]*)"\} (\d+)' % name, text, re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def test_ssl_counters_per_cluster(env):
    assert env.get("/ca/metrics").status == 200
    assert env.get("/wrong-ca/metrics").status == 503
    ok = _counters(env, "envoy_cluster_ssl_handshake")
    errors = _counters(env, "envoy_cluster_ssl_connection_error")
    assert ok.get(cluster("ok.tls.test"), 0) >= 1, ok
    assert errors.get(cluster("wrongca.tls.test"), 0) >= 1, errors
    assert errors.get(cluster("ok.tls.test"), 0) == 0, errors
    assert ok.get(cluster("wrongca.tls.test"), 0) == 0, ok
    assert errors.get(cluster("badsan.tls.test"), 0) >= 1, errors


def test_rewritten_client_certificate_is_used_by_new_connections(env):
    r = env.get("/rotate/before")
    assert r.status == 200, r
    assert r.json()["client_cn"] == "client-one"
    # Replace the file (a rename, as Kubernetes volume updates do); the key stays the same.
    tmp = env.pki.path("rotating.crt.new")
    shutil.copy(env.pki.path("client-two.crt"), tmp)
    os.replace(tmp, env.pki.path("rotating.crt"))
    changed_at = time.time()
    seen = []
    while time.time() - changed_at < 6:
        r = env.get("/rotate/after")
        assert r.status == 200, r
        seen.append(r.json()["client_cn"])
        if seen[-1] == "client-two":
            break
        time.sleep(0.2)
    assert seen[-1] == "client-two", seen
    assert time.time() - changed_at < 4, seen
    # Once switched, it stays switched.
    for _ in range(3):
        assert env.get("/rotate/again").json()["client_cn"] == "client-two"
    assert "a certificate file changed" in env.proxy.output()
