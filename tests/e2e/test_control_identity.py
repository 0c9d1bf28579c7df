"""Mesh identity at the control plane, end to end: its gRPC port serves only TLS with a
certificate from its own CA (checked with `openssl s_client` against root-cert.pem, and its SANs);
a hello without a valid credential ends UNAUTHENTICATED, one for another identity
PERMISSION_DENIED; a CSR asking for spiffe://evil gets only the proven SPIFFE ID, before the first
push; an operator's plug-in CA (made here with the openssl CLI) signs, and its leaves verify with
`openssl verify`; the self-signed root is made once and reused across restarts; `halyard
proxy-config secret` shows the proxy's serial; a certificate_request rotates it."""
import json
import re
import subprocess
import time
import urllib.request

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from conftest import run_halyard
from control_harness import (CONTROL_SERVER_NAME, ControlPlane, Proxy, create_token, make_csr,
                             pb)
from proxy_harness import free_port

GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"""

PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)


@pytest.fixture
def config(tmp_path):
    d = tmp_path / "config"
    d.mkdir()
    (d / "gateway.yaml").write_text(GATEWAY)
    return d


@pytest.fixture
def control(config):
    plane = ControlPlane(config)
    yield plane
    assert plane.stop() == 0, plane.log()


def certs(pem):
    return [x509.load_pem_x509_certificate(b.encode()) for b in PEM_BLOCK.findall(pem)]


def uri_sans(cert):
    return cert.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(
            x509.UniformResourceIdentifier)


def serial_hex(cert):
    """As `openssl x509 -serial` prints it: upper-case hex, whole bytes."""
    text = "%X" % cert.serial_number
    return "0" + text if len(text) % 2 else text


def s_client(control, ca_file, *args):
    """`openssl s_client` to the control port, verifying against ca_file; its stdout."""
    res = subprocess.run(
        ["openssl", "s_client", "-connect", control.address, "-CAfile", str(ca_file),
         "-servername", CONTROL_SERVER_NAME, "-alpn", "h2", "-showcerts", *args],
        input="", capture_output=True, text=True, errors="replace", timeout=20)
    return res.stdout


def test_the_control_port_serves_tls_from_its_own_ca(config, control, tmp_path):
    out = s_client(control, control.root_cert, "-verify_hostname", CONTROL_SERVER_NAME)
    assert "Verify return code: 0 (ok)" in out, out
    assert "ALPN protocol: h2" in out, out
    [served] = certs(out)  # a self-signed root: the chain is the leaf alone
    names = served.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert names.critical
    assert names.value.get_values_for_type(x509.DNSName) == ["istiod.istio-system.svc",
                                                             "localhost"]
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert uri_sans(served) == ["spiffe://cluster.local/ns/istio-system/sa/istiod"]
    # Against another root the handshake does not verify.
    other = ControlPlane(config, ca_dir=tmp_path / "other")
    try:
        out = s_client(control, other.root_cert)
        assert "Verify return code: 0 (ok)" not in out, out
    finally:
        other.stop()
    # Plaintext gRPC is not served.
    channel = grpc.insecure_channel(control.address)
    status = channel.unary_unary("/halyard.v1.Discovery/Status",
                                 request_serializer=pb().StatusRequest.SerializeToString,
                                 response_deserializer=pb().StatusResponse.FromString)
    with pytest.raises(grpc.RpcError) as e:
        status(pb().StatusRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()


def test_a_hello_without_a_valid_credential_is_unauthenticated(control, tmp_path):
    def refused(credential, **hello):
        p = Proxy(control, credential=credential, **hello)
        try:
            code, details = p.wait_status()
            assert not p.pushes and not p.certificates
            return code, details
        finally:
            p.close()

    code, details = refused("")
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert details == ("no credential: start the proxy with --token-file FILE holding the output "
                       "of `halyard token create --namespace istio-system --service-account "
                       "default`")
    # Made with another CA directory's key.
    foreign = create_token(tmp_path / "other-ca", "istio-system", "default")
    assert refused(foreign) == (grpc.StatusCode.UNAUTHENTICATED, "credential: bad signature: it "
                                "was not made with this control plane's token-key")
    assert refused("hal1.garbage")[0] == grpc.StatusCode.UNAUTHENTICATED
    expiring = create_token(control.ca_dir, "istio-system", "default", ttl="1s")
    time.sleep(1.2)
    code, details = refused(expiring)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert details.startswith("credential: expired at "), details
    assert control.wait_log(r"refused a proxy stream from ipv4:127\.0\.0\.1:\d+: no credential")


def test_a_credential_for_another_identity_is_permission_denied(control):
    p = Proxy(control, name="admin-1", namespace="shop", role="sidecar", labels={"app": "admin"},
              service_account="admin", credential=control.token("shop", "web"),
              ports=[{"name": "http", "number": 9080}])
    try:
        assert p.wait_status() == (grpc.StatusCode.PERMISSION_DENIED,
                                   "the credential is for shop/web, the hello says shop/admin")
        assert not p.certificates and not p.pushes
    finally:
        p.close()
    # Nobody connected, and the refusals are counted.
    status = json.loads(run_halyard("proxy-status", "--control", control.address,
                                    "-o", "json").stdout)
    assert status["proxies"] == []


def test_a_hello_without_a_csr_is_refused(control):
    p = Proxy(control, csr="")
    try:
        code, details = p.wait_status()
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.startswith("the hello has no csr"), details
    finally:
        p.close()


def test_a_csr_asking_for_another_identity_gets_only_the_proven_one(control):
    _, csr = make_csr(uris=["spiffe://evil/ns/kube-system/sa/admin"], dns=["evil.example.com"],
                      common_name="admin")
    p = Proxy(control, name="web-1", namespace="shop", role="sidecar", labels={"app": "web"},
              service_account="web", csr=csr, ports=[{"name": "http", "number": 9080}])
    try:
        issued = p.wait_certificate()
        p.wait_push(1)
        assert p.kinds[:2] == ["certificate", "push"]  # the identity before any config
        assert issued.spiffe_id == "spiffe://cluster.local/ns/shop/sa/web"
        [leaf] = certs(issued.certificate_chain)  # the self-signed root is not in the chain
        assert leaf.subject.rdns == []
        names = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        assert names.critical and list(names.value) == [
            x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/web")]
        assert issued.root_certificates == control.root_cert.read_text()
        lifetime = leaf.not_valid_after - leaf.not_valid_before
        assert abs(lifetime.total_seconds() - (24 * 3600 + 60)) < 5  # 24h, from a minute back
    finally:
        p.close()


def openssl(*args, cwd):
    res = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def make_plugin_ca(work, ca_dir):
    """An operator's root and an intermediate under it, made with the openssl CLI; ca_dir gets
    Istio's four plug-in files (the root's key stays in `work`)."""
    work.mkdir()
    ca_dir.mkdir()
    (work / "ca.ext").write_text("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                                 "keyUsage=critical,keyCertSign,cRLSign\n"
                                 "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
            "-keyout", "root-key.pem", "-out", "root-cert.pem", "-days", "3650",
            "-subj", "/O=Example Corp/CN=Example Root CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=work)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_dir / "ca-key.pem",
            "-out", "ca.csr", "-subj", "/O=Example Corp/CN=Mesh Intermediate CA", cwd=work)
    openssl("x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem",
            "-CAcreateserial", "-days", "730", "-extfile", "ca.ext",
            "-out", ca_dir / "ca-cert.pem", cwd=work)
    root = (work / "root-cert.pem").read_text()
    (ca_dir / "root-cert.pem").write_text(root)
    (ca_dir / "cert-chain.pem").write_text((ca_dir / "ca-cert.pem").read_text() + root)


def test_a_plugin_ca_signs_and_its_leaves_verify_with_openssl(config, tmp_path):
    ca_dir = tmp_path / "plugin-ca"
    make_plugin_ca(tmp_path / "operator", ca_dir)
    before = {f.name: f.read_bytes() for f in ca_dir.iterdir()}
    plane = ControlPlane(config, ca_dir=ca_dir)
    try:
        assert plane.wait_log(r"CA: using the plug-in CA .*Mesh Intermediate CA"), plane.log()
        p = Proxy(plane)
        try:
            issued = p.wait_certificate()
        finally:
            p.close()
        chain = PEM_BLOCK.findall(issued.certificate_chain)
        assert len(chain) == 2  # the leaf and the intermediate; the root stays with the peers
        assert chain[1] == (ca_dir / "ca-cert.pem").read_text()
        (tmp_path / "leaf.pem").write_text(chain[0])
        (tmp_path / "untrusted.pem").write_text(chain[1])
        out = openssl("verify", "-CAfile", ca_dir / "root-cert.pem", "-untrusted",
                      "untrusted.pem", "leaf.pem", cwd=tmp_path)
        assert out.strip() == "leaf.pem: OK"
        # The control plane's own certificate comes from the same intermediate.
        out = s_client(plane, ca_dir / "root-cert.pem", "-verify_hostname", CONTROL_SERVER_NAME)
        assert "Verify return code: 0 (ok)" in out, out
    finally:
        assert plane.stop() == 0, plane.log()
    # The operator's files are left as they were (token-key is the only addition).
    after = {f.name: f.read_bytes() for f in ca_dir.iterdir()}
    assert set(after) == set(before) | {"token-key"}
    assert all(after[k] == v for k, v in before.items())


def test_a_partial_plugin_set_is_refused(config, tmp_path):
    ca_dir = tmp_path / "plugin-ca"
    make_plugin_ca(tmp_path / "operator", ca_dir)
    (ca_dir / "cert-chain.pem").unlink()
    res = run_halyard("control", "--config", config, "--listen", "127.0.0.1:0", "--ca-dir",
                      ca_dir, timeout=30)
    assert res.returncode == 1
    assert "but not cert-chain.pem" in res.stderr, res.stderr


def test_the_self_signed_root_is_made_once_and_reused(config, tmp_path):
    ca_dir = tmp_path / "ca"
    port = free_port()
    plane = ControlPlane(config, ca_dir=ca_dir, port=port)
    try:
        assert plane.wait_log(r"CA: created a self-signed root"), plane.log()
        root = plane.root_cert.read_text()
        assert (ca_dir / "ca-key.pem").stat().st_mode & 0o777 == 0o600
        assert ca_dir.stat().st_mode & 0o777 == 0o700
        assert (ca_dir / "token-key").stat().st_mode & 0o777 == 0o600
        bundle = "/tmp/halyard-control-%d.root.pem" % port
        assert open(bundle).read() == root
        token = plane.token("istio-system", "default")
    finally:
        assert plane.stop() == 0, plane.log()
    import os
    assert not os.path.exists(bundle)  # removed on stop

    again = ControlPlane(config, ca_dir=ca_dir, port=port)
    try:
        assert again.wait_log(r"CA: using the self-signed root"), again.log()
        assert again.root_cert.read_text() == root
        # A credential made before the restart is still good, and the old root verifies.
        p = Proxy(again, credential=token)
        try:
            assert p.wait_certificate().root_certificates == root
        finally:
            p.close()
        assert "Verify return code: 0 (ok)" in s_client(again, ca_dir / "root-cert.pem")
    finally:
        assert again.stop() == 0, again.log()


def secret(control, proxy_id, *args):
    res = run_halyard("proxy-config", "secret", proxy_id, "--control", control.address, *args)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_proxy_config_secret_shows_the_certificate_and_rotation_gives_a_new_one(control):
    p = Proxy(control)
    try:
        [leaf] = certs(p.wait_certificate().certificate_chain)
        p.wait_push(1)
        [root] = certs(control.root_cert.read_text())
        lines = secret(control, "gw-1.istio-system").splitlines()
        assert re.split(r"\s{2,}", lines[0]) == ["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT",
                                                 "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"]
        row = re.split(r"\s{2,}", lines[1])
        assert row[:5] == ["default", "Cert Chain", "ACTIVE", "true", serial_hex(leaf)], lines
        assert row[5] == leaf.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row[6] == leaf.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert re.split(r"\s{2,}", lines[2])[:5] == ["ROOTCA", "CA", "ACTIVE", "true",
                                                     serial_hex(root)], lines
        assert lines[3] == "SPIFFE ID: spiffe://cluster.local/ns/istio-system/sa/default"

        data = json.loads(secret(control, "gw-1.istio-system", "-o", "json"))
        assert data["spiffe_id"] == "spiffe://cluster.local/ns/istio-system/sa/default"
        assert data["serial_number"] == serial_hex(leaf)
        assert data["certificate_chain"] == p.certificates[0].certificate_chain
        assert data["root_certificates"] == control.root_cert.read_text()
        assert data["roots"][0]["serial_number"] == serial_hex(root)
        assert data["valid"] is True

        # Rotation: a new key's CSR on the stream, a new certificate, a new serial everywhere.
        time.sleep(0.2)  # renewals closer together than 100 ms are refused
        p.request_certificate()
        [renewed] = certs(p.wait_certificate(2).certificate_chain)
        assert serial_hex(renewed) != serial_hex(leaf)
        assert uri_sans(renewed) == ["spiffe://cluster.local/ns/istio-system/sa/default"]
        assert re.split(r"\s{2,}", secret(control, "gw-1.istio-system").splitlines()[1])[4] == \
            serial_hex(renewed)
        [status] = json.loads(run_halyard("proxy-status", "--control", control.address,
                                          "-o", "json").stdout)["proxies"]
        assert status["certificate_serial"] == serial_hex(renewed)
        assert status["certificates_issued"] == "2"
        assert status["spiffe_id"] == "spiffe://cluster.local/ns/istio-system/sa/default"

        # A CSR that cannot be signed: an error on the stream, which stays open.
        time.sleep(0.2)
        p.request_certificate(csr="not a csr")
        assert p.wait(lambda q: q.certificate_errors)
        assert p.certificate_errors[0].startswith("csr: the CSR is not a PEM certificate request")
        assert p.status is None
    finally:
        p.close()


def test_the_cli_finds_the_root_by_flag_environment_or_the_control_planes_copy(control):
    p = Proxy(control)
    try:
        p.wait_push(1)
        by_flag = run_halyard("proxy-status", "--control", control.address, "--ca-cert",
                              control.root_cert)
        assert by_flag.returncode == 0 and "1 proxies connected" in by_flag.stdout, by_flag.stderr
        import os
        env = dict(os.environ, HALYARD_CA_CERT=str(control.root_cert))
        from conftest import BIN
        by_env = subprocess.run([str(BIN / "halyard"), "proxy-status", "--control",
                                 control.address], env=env, capture_output=True, text=True,
                                timeout=30)
        assert by_env.returncode == 0, by_env.stderr
        env["HALYARD_CA_CERT"] = "/nonexistent/root.pem"
        missing = subprocess.run([str(BIN / "halyard"), "proxy-status", "--control",
                                  control.address], env=env, capture_output=True, text=True,
                                 timeout=30)
        assert missing.returncode == 1
        assert "$HALYARD_CA_CERT: cannot read /nonexistent/root.pem" in missing.stderr
    finally:
        p.close()


def test_the_admin_metrics_count_certificates_and_refusals(config):
    admin = free_port()
    plane = ControlPlane(config, extra=["--admin", "127.0.0.1:%d" % admin])
    try:
        p = Proxy(plane)
        p.wait_push(1)
        p.close()
        q = Proxy(plane, credential="")
        q.wait_status()
        q.close()
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=5).read()
        text = text.decode()
        assert "halyard_control_certificates_issued_total 1" in text, text
        assert 'halyard_control_credential_refusals_total{code="UNAUTHENTICATED"} 1' in text
        assert 'halyard_control_credential_refusals_total{code="PERMISSION_DENIED"} 0' in text
    finally:
        assert plane.stop() == 0, plane.log()


def test_token_create_prints_one_credential_and_checks_its_flags(tmp_path):
    res = run_halyard("token", "create", "--namespace", "shop", "--service-account", "web",
                      "--ca-dir", tmp_path / "ca", "--ttl", "1h30m")
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"hal1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n", res.stdout), res.stdout
    assert (tmp_path / "ca" / "token-key").stat().st_mode & 0o777 == 0o600
    res = run_halyard("token", "create", "--namespace", "shop", "--service-account", "web",
                      "--ca-dir", tmp_path / "ca", "--ttl", "1d")
    assert res.returncode == 1
    assert "invalid duration \"1d\"" in res.stderr
    res = run_halyard("token", "create", "--namespace", "shop", "--ca-dir", tmp_path / "ca")
    assert res.returncode == 1 and "--service-account is required" in res.stderr


def test_the_control_planes_own_certificate_is_renewed_at_half_life(config):
    plane = ControlPlane(config, workload_cert_ttl="4s")
    try:
        def served():
            out = s_client(plane, plane.root_cert, "-verify_hostname", CONTROL_SERVER_NAME)
            assert "Verify return code: 0 (ok)" in out, out
            return serial_hex(certs(out)[0])

        first = served()
        deadline = time.monotonic() + 8
        while served() == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert served() != first
        # Renewals come at half-life, not in a loop (its notBefore is a minute back).
        time.sleep(1)
        renewals = [l for l in plane.lines if "control plane TLS certificate" in l]
        assert 2 <= len(renewals) <= 4, renewals
        p = Proxy(plane)
        try:
            p.wait_push(1)
        finally:
            p.close()
    finally:
        assert plane.stop() == 0, plane.log()
