"""The Gateway TLS options test_proxy_tls.py does not reach, each on its own host name of one
HTTPS port (SNI picks the server), checked with curl, openssl s_client and Python's ssl:
client certificate checks of MUTUAL servers (subjectAltNames, verifyCertificateSpki,
verifyCertificateHash, a caCrl revoking one client, caCertificates as a file), OPTIONAL_MUTUAL,
min/maxProtocolVersion, cipherSuites, an RSA + an ECDSA certificate (credentialNames and
tlsCertificates) picked by what the client can verify, and where the client CA comes from
(caCertCredentialName as a Secret or a ConfigMap, a "<credentialName>-cacert" Secret).

Certificates are made here with openssl: a CA (ECDSA P-256) that signs the servers' and the
clients' certificates, an RSA server certificate, a CRL revoking one client, and a second CA
the gateway does not know with its own client."""
import base64
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, free_port, service

if not shutil.which("openssl"):
    pytest.skip("openssl is not installed (scripts/setup.sh installs it): the TLS tests make "
                "their certificates with it", allow_module_level=True)

HTTPS_PORT = 443
DOMAIN = "tls.example.com"
HOSTS = ("san", "spki", "hash", "crl", "opt", "tls13", "tls12", "cipher", "dual", "files",
         "cacred", "cacm", "cacert")


def host(name):
    return "%s.%s" % (name, DOMAIN)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


_serial = [int(time.time()) % 10**8 * 1000]


def issue(d, name, subject, sans=(), ca="ca", client=False, rsa=False):
    """Key and certificate `name`.key/.crt signed by `ca`.crt/.key in d; sans are DNS names."""
    newkey = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("req", "-new", "-newkey", *newkey, "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", subject, cwd=d)
    lines = ["basicConstraints=CA:FALSE",
             "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
    if sans:
        lines.append("subjectAltName=" + ",".join("DNS:" + s for s in sans))
    (d / (name + ".ext")).write_text("\n".join(lines) + "\n")
    _serial[0] += 1
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-set_serial", str(_serial[0]), "-days", "2", "-extfile", name + ".ext",
            "-out", name + ".crt", cwd=d)


def make_ca(d, name, subject):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_pki(d):
    make_ca(d, "ca", "/CN=Halyard Options CA")
    make_ca(d, "rogue-ca", "/CN=Unknown CA")
    issue(d, "server", "/CN=" + DOMAIN, ["*." + DOMAIN])
    issue(d, "server-rsa", "/CN=rsa." + DOMAIN, ["*." + DOMAIN], rsa=True)
    issue(d, "alice", "/CN=alice", ["alice.clients.test"], client=True)
    issue(d, "bob", "/CN=bob", ["bob.clients.test"], client=True)
    # The allowed name as the subject's CN only: a SAN check must not fall back to it.
    issue(d, "carol", "/CN=alice.clients.test", [], client=True)
    issue(d, "rogue", "/CN=rogue", ["alice.clients.test"], ca="rogue-ca", client=True)
    # A CRL from the CA revoking bob (openssl ca keeps its state in index.txt).
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("01\n")
    (d / "ca.cnf").write_text("[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\n"
                              "crlnumber = crlnumber\ndefault_md = sha256\n"
                              "default_crl_days = 2\n")
    openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt",
            "-revoke", "bob.crt", cwd=d)
    openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt", "-gencrl",
            "-out", "crl.pem", cwd=d)


def der_of(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def spki_sha256_b64(path):
    pub = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-pubkey"],
                         capture_output=True, check=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True, timeout=10).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def cert_sha256_colons(path):
    digest = hashlib.sha256(der_of(path)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def secret(name, items):
    return "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: istio-system}\n" \
           "data:\n%s" % (name, "".join("  %s: %s\n" % (k, b64(p)) for k, p in items.items()))


def config_yaml(p, backend_port):
    ca_crt = p / "ca.crt"
    docs = [
        # Certificate + the CA for its MUTUAL servers.
        secret("srv", {"tls.crt": p / "server.crt", "tls.key": p / "server.key",
                       "ca.crt": ca_crt}),
        secret("srv-rsa", {"tls.crt": p / "server-rsa.crt", "tls.key": p / "server-rsa.key"}),
        # No CA of its own: a MUTUAL server on it needs caCertCredentialName.
        secret("plain", {"cert": p / "server.crt", "key": p / "server.key"}),
        secret("client-ca", {"cacert": ca_crt}),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: client-ca-cm, namespace: istio-system}"
        "\ndata:\n  ca.crt: |\n" + "".join("    " + l + "\n"
                                          for l in ca_crt.read_text().splitlines()),
        # Its own ca.crt is the unknown CA; split-cacert (Istio's "-cacert" Secret) wins.
        secret("split", {"tls.crt": p / "server.crt", "tls.key": p / "server.key",
                         "ca.crt": p / "rogue-ca.crt"}),
        secret("split-cacert", {"ca.crt": ca_crt}),
    ]

    def server(name, tls):
        return "  - port: {number: 443, name: https-%s, protocol: HTTPS}\n" \
               "    hosts: [%s]\n    tls:\n%s" % (name, host(name), "".join(
                   "      %s\n" % line for line in tls))

    servers = [
        server("san", ["mode: MUTUAL", "credentialName: srv",
                       "subjectAltNames: [alice.clients.test]"]),
        server("spki", ["mode: MUTUAL", "credentialName: srv",
                        "verifyCertificateSpki: [%s]" % spki_sha256_b64(p / "alice.crt")]),
        server("hash", ["mode: MUTUAL", "credentialName: srv",
                        "verifyCertificateHash: ['%s']" % cert_sha256_colons(p / "alice.crt")]),
        server("crl", ["mode: MUTUAL", "serverCertificate: %s" % (p / "server.crt"),
                       "privateKey: %s" % (p / "server.key"),
                       "caCertificates: %s" % ca_crt, "caCrl: %s" % (p / "crl.pem")]),
        server("opt", ["mode: OPTIONAL_MUTUAL", "credentialName: srv"]),
        server("tls13", ["mode: SIMPLE", "credentialName: srv", "minProtocolVersion: TLSV1_3"]),
        server("tls12", ["mode: SIMPLE", "credentialName: srv", "maxProtocolVersion: TLSV1_2"]),
        server("cipher", ["mode: SIMPLE", "credentialName: srv",
                          "cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384]"]),
        server("dual", ["mode: SIMPLE", "credentialNames: [srv-rsa, srv]"]),
        server("files", ["mode: SIMPLE", "tlsCertificates:",
                         "- {serverCertificate: %s, privateKey: %s}" % (
                             p / "server-rsa.crt", p / "server-rsa.key"),
                         "- {serverCertificate: %s, privateKey: %s}" % (
                             p / "server.crt", p / "server.key")]),
        server("cacred", ["mode: MUTUAL", "credentialName: plain",
                          "caCertCredentialName: client-ca"]),
        server("cacm", ["mode: MUTUAL", "credentialName: plain",
                        "caCertCredentialName: client-ca-cm"]),
        server("cacert", ["mode: MUTUAL", "credentialName: split"]),
    ]
    docs.append("apiVersion: networking.istio.io/v1\nkind: Gateway\n"
                "metadata: {name: opts-gw, namespace: istio-system}\n"
                "spec:\n  selector: {istio: ingressgateway}\n  servers:\n" + "".join(servers))
    docs.append("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                "metadata: {name: opts, namespace: default}\nspec:\n  hosts: [%s]\n"
                "  gateways: [istio-system/opts-gw]\n  http:\n"
                "  - route: [{destination: {host: echo}}]\n" % ", ".join(host(h) for h in HOSTS))
    docs.append(service("echo", backend_port))
    return "---\n".join(docs)


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env()
    e.dir = tmp_path_factory.mktemp("tlsopts")
    e.pki = e.dir / "pki"
    e.pki.mkdir()
    make_pki(e.pki)
    e.backend = EchoBackend("echo")
    try:
        e.tls_port = free_port()
        e.proxy = Proxy(e.dir, config_yaml(e.pki, e.backend.port),
                        extra_args=["--port-map", "%d=%d" % (HTTPS_PORT, e.tls_port)])
    except BaseException:
        e.backend.stop()
        raise
    yield e
    e.proxy.stop()
    e.backend.stop()


def curl_https(env, name, client=None, *args):
    """curl to https://<name>.tls.example.com/; (exit code, HTTP status or 0, body, stderr)."""
    h = host(name)
    cert = ["--cert", str(env.pki / (client + ".crt")), "--key",
            str(env.pki / (client + ".key"))] if client else []
    out = subprocess.run(["curl", "-s", "-i", "--max-time", "10",
                          "--resolve", "%s:%d:127.0.0.1" % (h, env.tls_port),
                          "--cacert", str(env.pki / "ca.crt"), *cert, *args,
                          "https://%s:%d/" % (h, env.tls_port)], capture_output=True, timeout=20)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return out.returncode, status, body.decode(errors="replace"), out.stderr.decode()


def assert_served(env, name, client=None, *args):
    code, status, body, err = curl_https(env, name, client, *args)
    assert code == 0 and status == 200, "%s with client %s: curl exit %d, status %d: %s\n%s" % (
        host(name), client, code, status, err, env.proxy.output()[-3000:])
    assert json.loads(body)["service"] == "echo"


def s_client(env, name, *args):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % env.tls_port,
                           "-servername", host(name), "-CAfile", str(env.pki / "ca.crt"),
                           *args], input="", capture_output=True, text=True, timeout=20)


def handshake_ok(out):
    return out.returncode == 0 and "Cipher is" in out.stdout and \
        "Cipher is (NONE)" not in out.stdout


def assert_refused(env, name, client=None):
    """The client (None: no certificate) gets no HTTP answer; on TLS 1.2, where the server
    checks the client's certificate inside the handshake, the handshake itself fails."""
    code, status, _, _ = curl_https(env, name, client)
    assert code != 0 and status == 0, "%s with client %s: answered %d" % (host(name), client,
                                                                          status)
    cert = ["-cert", str(env.pki / (client + ".crt")),
            "-key", str(env.pki / (client + ".key"))] if client else []
    out = s_client(env, name, "-tls1_2", *cert)
    assert not handshake_ok(out), "%s: TLS 1.2 handshake with client %s completed:\n%s" % (
        host(name), client, out.stdout)


def test_subject_alt_names_accept_only_a_client_carrying_the_name(env):
    assert_served(env, "san", "alice")
    assert_refused(env, "san", "bob")
    assert_refused(env, "san", "carol")  # the name only as CN: not a subject alternative name
    assert_refused(env, "san")


def test_verify_certificate_spki_accepts_only_that_public_key(env):
    assert_served(env, "spki", "alice")
    assert_refused(env, "spki", "bob")


def test_verify_certificate_hash_accepts_only_that_certificate(env):
    assert_served(env, "hash", "alice")
    assert_served(env, "hash", "alice", "--tlsv1.2", "--tls-max", "1.2")
    assert_refused(env, "hash", "bob")


def test_ca_crl_refuses_the_revoked_client(env):
    # caCertificates and caCrl both as files here.
    assert_served(env, "crl", "alice")
    assert_refused(env, "crl", "bob")
    assert_refused(env, "crl", "rogue")


def test_optional_mutual_serves_without_a_certificate_but_not_an_unknown_ca(env):
    assert_served(env, "opt")
    assert_served(env, "opt", "alice")
    assert_refused(env, "opt", "rogue")
    # Python's ssl without a client certificate, on both versions.
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=str(env.pki / "ca.crt"))
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", env.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host("opt")) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                             host("opt").encode())
                data = b""
                while True:
                    got = sock.recv(65536)
                    if not got:
                        break
                    data += got
        assert data.startswith(b"HTTP/1.1 200"), data[:200]


def test_min_protocol_version_tls13_refuses_tls12(env):
    assert handshake_ok(s_client(env, "tls13", "-tls1_3"))
    out = s_client(env, "tls13", "-tls1_2")
    assert not handshake_ok(out), out.stdout
    assert_served(env, "tls13")
    code, status, _, _ = curl_https(env, "tls13", None, "--tls-max", "1.2")
    assert code != 0 and status == 0


def test_max_protocol_version_tls12_refuses_tls13(env):
    out = s_client(env, "tls12", "-tls1_3")
    assert not handshake_ok(out), out.stdout
    out = s_client(env, "tls12")
    assert handshake_ok(out) and "TLSv1.2" in out.stdout, out.stdout
    code, status, _, _ = curl_https(env, "tls12", None, "--tlsv1.3")
    assert code != 0 and status == 0
    assert_served(env, "tls12")


def test_cipher_suites_limit_tls12(env):
    out = s_client(env, "cipher", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384")
    assert handshake_ok(out) and "ECDHE-ECDSA-AES256-GCM-SHA384" in out.stdout, out.stdout
    out = s_client(env, "cipher", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert not handshake_ok(out), out.stdout
    # Another host of the same port keeps the default suites.
    out = s_client(env, "tls12", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert handshake_ok(out), out.stdout


@pytest.mark.parametrize("name", ["dual", "files"])
def test_rsa_and_ecdsa_certificates_picked_by_the_client(env, name):
    # credentialNames (two Secrets) and tlsCertificates (two file pairs): RSA and ECDSA.
    ecdsa_subject, rsa_subject = "subject=CN = " + DOMAIN, "subject=CN = rsa." + DOMAIN
    for args in (["-tls1_3", "-sigalgs", "ECDSA+SHA256"],
                 ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]):
        out = s_client(env, name, *args)
        assert handshake_ok(out) and ecdsa_subject in out.stdout, (args, out.stdout)
    for args in (["-tls1_3", "-sigalgs", "RSA-PSS+SHA256"],
                 ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]):
        out = s_client(env, name, *args)
        assert handshake_ok(out) and rsa_subject in out.stdout, (args, out.stdout)
        assert "Verify return code: 0 (ok)" in out.stdout, out.stdout
    assert_served(env, name)


@pytest.mark.parametrize("name", ["cacred", "cacm", "cacert"])
def test_client_ca_from_another_object(env, name):
    # caCertCredentialName as a Secret (cacert) or a ConfigMap (ca.crt); "<name>-cacert" over
    # the credential's own ca.crt (which holds the unknown CA).
    assert_served(env, name, "alice")
    assert_refused(env, name, "rogue")
    assert_refused(env, name)
