"""TLS termination at the gateway, checked with the clients people use: curl, openssl s_client,
Python's ssl module and sslscan. One Gateway (istio-system) with three HTTPS servers on port 443
-- SIMPLE with a credentialName Secret, MUTUAL with a Secret holding ca.crt, SIMPLE with
certificate files -- and an HTTP server on port 80 that redirects to HTTPS; SNI picks the
certificate, only TLS 1.2/1.3 with ECDHE AEAD suites are offered, and a rewritten Secret is
picked up by new handshakes while open connections keep working.

Certificates are made here with openssl (ECDSA P-256): a CA, the servers' certificates signed
by it, and a client certificate for the MUTUAL server. Skipped only when openssl (all tests) or
sslscan (its test) is not installed (scripts/setup.sh installs both)."""
import base64
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, free_port, service

if not shutil.which("openssl"):
    pytest.skip("openssl is not installed (scripts/setup.sh installs it): the TLS tests make "
                "their certificates with it", allow_module_level=True)

SECURE, MTLS, OTHER = "secure.example.com", "mtls.example.com", "other.example.org"
HTTPS_PORT = 443
# What only a client that really offers old protocols and suites gets to see: OpenSSL 3 refuses
# TLS 1.0/1.1 and SHA-1 suites on its own at its default security level, which would make a
# "the server refused it" check pass against any server.
LEGACY_CLIENT = "DEFAULT:@SECLEVEL=0"
TLS13_AEAD = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def issue(d, name, subject, sans, ca=True, client=False):
    """An ECDSA P-256 key and certificate `name`.crt signed by the CA in d (ca.crt, ca.key)."""
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject, cwd=d)
    ext = d / (name + ".ext")
    lines = ["basicConstraints=CA:FALSE",
             "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
    if sans:
        lines.append("subjectAltName=" + ",".join("DNS:" + s for s in sans))
    ext.write_text("\n".join(lines) + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", str(int(time.time() * 1000) % 10**12 + len(name)), "-days", "2",
            "-extfile", name + ".ext", "-out", name + ".crt", cwd=d)


def make_pki(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Halyard Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    issue(d, "secure", "/CN=" + SECURE, [SECURE, "*.example.com"])
    issue(d, "other", "/CN=" + OTHER, [OTHER])
    issue(d, "client", "/CN=test-client", [], client=True)
    time.sleep(0.002)  # another serial
    issue(d, "secure2", "/CN=" + SECURE, [SECURE, "*.example.com"])


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def tls_secret(name, cert, key, ca=None):
    text = """apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
""" % (name, b64(cert), b64(key))
    if ca is not None:
        text += "  ca.crt: %s\n" % b64(ca)
    return text


def gateway_yaml(pki):
    return """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-secure, protocol: HTTPS}
    hosts: [%s]
    tls: {mode: SIMPLE, credentialName: secure-cert}
  - port: {number: 443, name: https-mtls, protocol: HTTPS}
    hosts: [%s]
    tls: {mode: MUTUAL, credentialName: mtls-cert}
  - port: {number: 443, name: https-other, protocol: HTTPS}
    hosts: [%s]
    tls:
      mode: SIMPLE
      serverCertificate: %s
      privateKey: %s
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [%s]
    tls: {httpsRedirect: true}
""" % (SECURE, MTLS, OTHER, pki / "other.crt", pki / "other.key", SECURE)


def virtual_service(name, host, backend):
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s]
  gateways: [istio-system/tls-gw]
  http:
  - route: [{destination: {host: %s}}]
""" % (name, host, backend)


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.dir = tmp_path_factory.mktemp("tls")
    e.pki = e.dir / "pki"
    e.pki.mkdir()
    make_pki(e.pki)
    e.config = e.dir / "config"
    e.config.mkdir()
    e.backends = {n: EchoBackend(n) for n in ("secure", "mtls", "other")}
    (e.config / "gateway.yaml").write_text(gateway_yaml(e.pki))
    e.secret_file = e.config / "secret-secure.yaml"
    e.secret_file.write_text(tls_secret("secure-cert", e.pki / "secure.crt", e.pki / "secure.key"))
    (e.config / "secret-mtls.yaml").write_text(
        tls_secret("mtls-cert", e.pki / "secure.crt", e.pki / "secure.key", ca=e.pki / "ca.crt"))
    (e.config / "routes.yaml").write_text("---\n".join(
        [virtual_service("secure", SECURE, "secure"), virtual_service("mtls", MTLS, "mtls"),
         virtual_service("other", OTHER, "other")] +
        [service(n, b.port) for n, b in e.backends.items()]))
    e.access_log = e.dir / "access.log"
    e.tls_port = free_port()
    e.proxy = Proxy(e.dir, e.config, extra_args=["--port-map", "%d=%d" % (HTTPS_PORT, e.tls_port),
                                                 "--access-log", str(e.access_log)])
    yield e
    e.proxy.stop()
    for b in e.backends.values():
        b.stop()


def context(env, client_cert=False):
    ctx = ssl.create_default_context(cafile=str(env.pki / "ca.crt"))
    if client_cert:
        ctx.load_cert_chain(str(env.pki / "client.crt"), str(env.pki / "client.key"))
    return ctx


def tls_connect(env, sni, ctx=None, timeout=5):
    """A TLS connection to the gateway's HTTPS port with SNI `sni`, the name verified."""
    raw = socket.create_connection(("127.0.0.1", env.tls_port), timeout=timeout)
    try:
        return (ctx or context(env)).wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


def send_request(sock, host, path="/", close=False):
    """One HTTP/1.1 GET on an open connection; the answer's status and JSON body."""
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        path, host, "Connection: close\r\n" if close else "")).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            raise ConnectionError("connection closed before a response: %r" % data)
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                   (line.partition(":") for line in lines[1:]))
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        got = sock.recv(65536)
        if not got:
            break
        body += got
    return int(lines[0].split()[1]), body[:length].decode(errors="replace")


def require_tls_served(env):
    """Negative checks (a refused handshake) would pass against a port nobody listens on: each
    one first makes sure the HTTPS port completes a good handshake."""
    try:
        with tls_connect(env, SECURE):
            pass
    except (OSError, ssl.SSLError) as e:
        pytest.fail("the gateway does not serve TLS on port %d (Gateway port %d): %s\n%s" % (
            env.tls_port, HTTPS_PORT, e, env.proxy.output()[-3000:]))


def s_client(env, *args, input_text=""):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % env.tls_port,
                           "-CAfile", str(env.pki / "ca.crt"), *args],
                          input=input_text, capture_output=True, text=True, timeout=20)


def handshake_ok(out):
    """s_client completed a handshake (it prints the negotiated cipher, or (NONE) when not)."""
    return out.returncode == 0 and "Cipher is (NONE)" not in out.stdout and \
        "Cipher is" in out.stdout


def curl_https(env, host, path="/", *args):
    out = subprocess.run(["curl", "-s", "-i", "--max-time", "10",
                          "--resolve", "%s:%d:127.0.0.1" % (host, env.tls_port),
                          "--cacert", str(env.pki / "ca.crt"), *args,
                          "https://%s:%d%s" % (host, env.tls_port, path)],
                         capture_output=True, timeout=20)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return out.returncode, status, body.decode(errors="replace"), out.stderr.decode()


def serial_of(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().split("=", 1)[1]


def file_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(path)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().split("=", 1)[1]


def test_https_request_reaches_the_backend_with_forwarded_proto(env):
    code, status, body, err = curl_https(env, SECURE, "/hello")
    assert code == 0, "curl failed (exit %d): %s\n%s" % (code, err, env.proxy.output()[-3000:])
    assert status == 200
    seen = json.loads(body)
    assert seen["service"] == "secure" and seen["path"] == "/hello"
    assert seen["headers"]["x-forwarded-proto"] == "https"


def test_access_log_records_the_sni(env):
    # Istio's default JSON access log has no TLS version field, but its requested_server_name
    # is the SNI, which only a TLS connection carries.
    with urllib.request.urlopen("http://127.0.0.1:%d/logging?format=json" % env.proxy.admin_port,
                                timeout=5) as r:
        assert r.status == 200
    code, status, _, err = curl_https(env, SECURE, "/logged")
    assert code == 0 and status == 200, err
    deadline = time.time() + 5
    entries = []
    while time.time() < deadline:
        lines = env.access_log.read_text().splitlines() if env.access_log.exists() else []
        entries = [json.loads(l) for l in lines if l.startswith("{")]
        entries = [j for j in entries if j.get("path") == "/logged"]
        if entries:
            break
        time.sleep(0.1)
    assert entries, "no access log line for /logged"
    assert entries[-1]["requested_server_name"] == SECURE


def test_sni_selects_the_file_based_certificate(env):
    out = s_client(env, "-servername", OTHER)
    assert handshake_ok(out), out.stdout + out.stderr
    assert "subject=CN = %s" % OTHER in out.stdout, out.stdout
    assert "Verify return code: 0 (ok)" in out.stdout
    out = s_client(env, "-servername", SECURE)
    assert handshake_ok(out), out.stdout + out.stderr
    assert "subject=CN = %s" % SECURE in out.stdout, out.stdout
    with tls_connect(env, OTHER) as sock:  # verified against other.example.org
        assert send_request(sock, OTHER, close=True)[0] == 200


def test_wildcard_name_of_the_certificate_does_not_serve_an_unconfigured_host(env):
    # *.example.com is in the certificate, but only secure.example.com is a Gateway host.
    require_tls_served(env)
    with pytest.raises((ssl.SSLError, OSError)):
        with tls_connect(env, "nothing.example.com") as sock:
            send_request(sock, "nothing.example.com", close=True)


def test_unknown_sni_gets_no_handshake(env):
    require_tls_served(env)
    out = s_client(env, "-servername", "unknown.test")
    assert not handshake_ok(out), out.stdout
    ctx = ssl.create_default_context(cafile=str(env.pki / "ca.crt"))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # refused by the server, not by our verification
    with pytest.raises((ssl.SSLError, OSError)):
        with tls_connect(env, "unknown.test", ctx) as sock:
            send_request(sock, "unknown.test", close=True)


def test_mutual_requires_a_client_certificate(env):
    require_tls_served(env)
    code, status, _, _ = curl_https(env, MTLS, "/")
    assert code != 0 or status in (400, 403), "no client certificate, yet %d" % status
    with pytest.raises((ssl.SSLError, OSError, ConnectionError)):
        with tls_connect(env, MTLS) as sock:
            status, _ = send_request(sock, MTLS, close=True)
            if status >= 400:
                raise ConnectionError("rejected with %d" % status)
    code, status, body, err = curl_https(env, MTLS, "/", "--cert", str(env.pki / "client.crt"),
                                         "--key", str(env.pki / "client.key"))
    assert code == 0 and status == 200, err
    assert json.loads(body)["service"] == "mtls"
    with tls_connect(env, MTLS, context(env, client_cert=True)) as sock:
        assert send_request(sock, MTLS, close=True)[0] == 200


def test_only_tls12_and_tls13(env):
    require_tls_served(env)
    for old in ("-tls1", "-tls1_1"):
        out = s_client(env, "-servername", SECURE, old, "-cipher", LEGACY_CLIENT)
        assert not handshake_ok(out), "%s accepted:\n%s" % (old, out.stdout)
    for new in ("-tls1_2", "-tls1_3"):
        out = s_client(env, "-servername", SECURE, new)
        assert handshake_ok(out), "%s refused:\n%s" % (new, out.stdout + out.stderr)


def test_tls12_offers_only_ecdhe_aead_suites(env):
    require_tls_served(env)
    for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA",
                 "ECDHE-ECDSA-AES256-SHA384", "DES-CBC3-SHA"):
        out = s_client(env, "-servername", SECURE, "-tls1_2", "-cipher",
                       weak + ":@SECLEVEL=0")
        assert not handshake_ok(out), "%s accepted:\n%s" % (weak, out.stdout)
    out = s_client(env, "-servername", SECURE, "-tls1_2", "-cipher",
                   "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert handshake_ok(out), out.stdout + out.stderr


def test_sslscan_finds_no_weak_protocol_or_cipher(env):
    if not shutil.which("sslscan"):
        pytest.skip("sslscan is not installed (scripts/setup.sh installs it)")
    require_tls_served(env)
    out = subprocess.run(["sslscan", "--no-colour", "--xml=-", "--sni-name=" + SECURE,
                          "127.0.0.1:%d" % env.tls_port], capture_output=True, text=True,
                         timeout=300)
    xml_text = out.stdout[out.stdout.index("<?xml"):]
    test = ET.fromstring(xml_text).find("ssltest")
    assert test is not None, out.stdout
    problems = []
    enabled = set()
    for p in test.findall("protocol"):
        name = "%s%s" % (p.get("type").upper(), p.get("version"))
        if p.get("enabled") == "1":
            enabled.add(name)
            if name not in ("TLS1.2", "TLS1.3"):
                problems.append("protocol %s enabled" % name)
    assert {"TLS1.2", "TLS1.3"} <= enabled, "sslscan saw %s enabled" % sorted(enabled)
    ciphers = test.findall("cipher")
    assert ciphers, "sslscan found no accepted cipher:\n" + out.stdout
    for c in ciphers:
        version, name = c.get("sslversion"), c.get("cipher")
        if version == "TLSv1.3":
            ok = name in TLS13_AEAD
        elif version == "TLSv1.2":
            ok = name.startswith("ECDHE-") and (
                "-GCM-" in name or name.endswith("CHACHA20-POLY1305"))
        else:
            ok = False
        if not ok:
            problems.append("cipher %s %s accepted" % (version, name))
    assert not problems, "\n".join(problems)


def test_http_server_redirects_to_https(env):
    before = env.backends["secure"].count()
    r = curl(env.proxy.port, "/login?next=/", SECURE)
    assert r.status == 301
    assert r.headers["location"] == "https://%s/login?next=/" % SECURE
    assert env.backends["secure"].count() == before


def test_rewritten_secret_is_served_to_new_handshakes_and_open_connections_survive(env):
    old_serial, new_serial = file_serial(env.pki / "secure.crt"), file_serial(
        env.pki / "secure2.crt")
    assert old_serial != new_serial
    kept = tls_connect(env, SECURE)
    try:
        assert serial_of(kept.getpeercert(binary_form=True)) == old_serial
        assert send_request(kept, SECURE, "/before")[0] == 200
        env.secret_file.write_text(
            tls_secret("secure-cert", env.pki / "secure2.crt", env.pki / "secure2.key"))
        deadline = time.time() + 5
        seen = old_serial
        while time.time() < deadline and seen != new_serial:
            time.sleep(0.1)
            with tls_connect(env, SECURE) as fresh:
                seen = serial_of(fresh.getpeercert(binary_form=True))
        assert seen == new_serial, "new handshakes still get serial %s after 5 s" % seen
        status, body = send_request(kept, SECURE, "/after")
        assert status == 200 and json.loads(body)["path"] == "/after"
    finally:
        kept.close()


def client_hello(sni):
    """The bytes of a real ClientHello (Python's ssl, through memory BIOs) naming `sni`."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def active_tls_connections(env):
    text = env.proxy.admin("/stats/prometheus")
    total = 0
    for line in text.splitlines():
        if line.startswith("envoy_http_downstream_cx_active") and "0.0.0.0_443" in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_mutated_client_hellos_never_crash_or_leak_connections(env):
    # Soak of the TLS listener with mutated traffic: real ClientHellos with random bytes flipped,
    # truncated, or followed by garbage. Each is refused or answered; the proxy keeps serving
    # and every connection it accepted is closed again.
    require_tls_served(env)
    import random
    rng = random.Random(9)
    hello = client_hello(SECURE)
    cases = [b"", b"\x16\x03\x01\x00", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00" * 600]
    for _ in range(150):
        data = bytearray(hello)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append(bytes(data))
    cases += [hello[:n] + b"\xff" * 64 for n in range(5, len(hello), 23)]
    for data in cases:
        with socket.create_connection(("127.0.0.1", env.tls_port), timeout=2) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    assert env.proxy.proc.poll() is None, "halyard-proxy exited"
    with tls_connect(env, SECURE) as s:
        assert send_request(s, SECURE, close=True)[0] == 200
    deadline = time.time() + 5
    while active_tls_connections(env) and time.time() < deadline:
        time.sleep(0.1)
    assert active_tls_connections(env) == 0
    # The refused hellos and the good handshakes are both counted, per listener.
    stats = env.proxy.admin("/stats/prometheus")

    def counter(name):
        return sum(float(l.rsplit(" ", 1)[1]) for l in stats.splitlines()
                   if l.startswith(name + "{") and "0.0.0.0_443" in l)

    assert counter("envoy_listener_ssl_connection_error") >= 100
    assert counter("envoy_listener_ssl_handshake") >= 1


def test_control_plane_pushes_secrets_and_their_changes(env, tmp_path):
    # The same Gateway followed through `halyard control`: the Secret's certificate reaches the
    # proxy in the push (the proxy reads no file of it), and an edited Secret is served to new
    # handshakes without a restart.
    from control_harness import ControlPlane
    from proxy_harness import ControlledProxy
    config = tmp_path / "config"
    shutil.copytree(env.config, config)
    secret = config / "secret-secure.yaml"
    secret.write_text(tls_secret("secure-cert", env.pki / "secure.crt", env.pki / "secure.key"))
    control = ControlPlane(config)
    tls_port = free_port()
    proxy = None
    try:
        proxy = ControlledProxy(tmp_path / "proxy", control, workers=1,
                                extra_args=("--port-map", "%d=%d" % (HTTPS_PORT, tls_port)))
        proxy.wait_ready()

        def served_serial():
            raw = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
            with context(env).wrap_socket(raw, server_hostname=SECURE) as s:
                assert send_request(s, SECURE, close=True)[0] == 200
                return serial_of(s.getpeercert(binary_form=True))

        assert served_serial() == file_serial(env.pki / "secure.crt")
        secret.write_text(tls_secret("secure-cert", env.pki / "secure2.crt",
                                     env.pki / "secure2.key"))
        wanted = file_serial(env.pki / "secure2.crt")
        # The control plane notices the edit, compiles and pushes; on a loaded machine that has
        # taken more than 5 s. The loop ends as soon as the new certificate is served.
        deadline = time.time() + 20
        while served_serial() != wanted and time.time() < deadline:
            time.sleep(0.1)
        assert served_serial() == wanted
    finally:
        if proxy:
            proxy.stop()
        control.stop()


def test_unusable_certificate_file_keeps_the_previous_one_serving(env):
    # A certificate file rewritten with something unusable (garbage, or a key that no longer
    # matches: a rotation caught halfway) is refused; the previous certificate keeps serving,
    # and the next good file is served within a few seconds.
    require_tls_served(env)
    crt, key = env.pki / "other.crt", env.pki / "other.key"
    original = (crt.read_bytes(), key.read_bytes())

    def served_serial():
        with tls_connect(env, OTHER) as s:
            return serial_of(s.getpeercert(binary_form=True))

    def wait_for(wanted, seconds):
        deadline = time.time() + seconds
        while served_serial() != wanted and time.time() < deadline:
            time.sleep(0.1)
        return served_serial()

    before = served_serial()
    try:
        crt.write_text("not a certificate\n")
        time.sleep(2.5)  # the proxy looks at certificate files every second
        assert served_serial() == before
        with tls_connect(env, OTHER) as s:
            assert send_request(s, OTHER, close=True)[0] == 200
        time.sleep(0.002)
        issue(env.pki, "other3", "/CN=" + OTHER, [OTHER])
        # The key first: for a moment the files do not belong together, and that is refused too.
        key.write_bytes((env.pki / "other3.key").read_bytes())
        time.sleep(1.5)
        assert served_serial() == before
        crt.write_bytes((env.pki / "other3.crt").read_bytes())
        wanted = file_serial(env.pki / "other3.crt")
        assert wait_for(wanted, 5) == wanted
    finally:
        crt.write_bytes(original[0])
        key.write_bytes(original[1])
        assert wait_for(before, 5) == before
    assert "is not usable" in env.proxy.output()
