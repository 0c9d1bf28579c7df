"""halyard-proxy's mesh identity against the real `halyard control`: with a token it gets a
workload certificate for its own key over the TLS control stream and only then turns ready; without
one (or with one for another identity, or an unreadable token file) it never turns ready and /ready
says why, and a token file written later is picked up without a restart; a short
--workload-cert-ttl makes it renew its certificate on the open stream (a new serial, no
reconnect); the control plane's certificate is checked against --control-ca and for
--control-server-name; --control without --control-ca is a usage error."""
import json
import re
import subprocess
import time

import pytest

from conftest import BIN, run_halyard
from control_harness import ControlPlane
from proxy_backends import EchoBackend
from proxy_harness import ControlledProxy, curl, service

GATEWAY = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: ["shop.example.com"]
  gateways: ["istio-system/gw"]
  http:
  - route:
    - destination: {host: shop, port: {number: 80}}
"""

# halyard-proxy's defaults: the gateway halyard-gateway in istio-system, service account
# "default" (Kubernetes' default when the hello names none).
PROXY_ID = "halyard-gateway.istio-system"
SPIFFE_ID = "spiffe://cluster.local/ns/istio-system/sa/default"


@pytest.fixture
def backend():
    b = EchoBackend("shop")
    yield b
    b.stop()


@pytest.fixture
def config(tmp_path, backend):
    d = tmp_path / "config"
    d.mkdir()
    (d / "gateway.yaml").write_text(GATEWAY)
    (d / "services.yaml").write_text(service("shop", backend.port))
    return d


@pytest.fixture
def started():
    """Stops what a test started, in reverse order, whatever happens."""
    things = []
    yield things.append
    for thing in reversed(things):
        thing.stop()


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def secret(control):
    """`halyard proxy-config secret` of the proxy, as JSON."""
    res = run_halyard("proxy-config", "secret", PROXY_ID, "--control", control.address,
                      "--ca-cert", control.root_cert, "-o", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def metric(proxy, name):
    m = re.search(r"^%s(?:\{\})? (\d+)$" % re.escape(name), proxy.admin("/stats/prometheus"), re.M)
    return int(m.group(1)) if m else None


def issued_serials(proxy):
    """The serials the proxy's log says it was issued, in order."""
    return re.findall(r"workload certificate for \S+ issued \(serial ([0-9A-F]+)", proxy.output())


def test_a_proxy_with_a_token_gets_its_certificate_and_then_turns_ready(config, tmp_path, started):
    control = ControlPlane(config)
    started(control)
    proxy = ControlledProxy(tmp_path / "proxy", control, workers=1)
    started(proxy)
    proxy.wait_ready()
    assert curl(proxy.port, "/x", "shop.example.com", timeout=5).status == 200

    served = secret(control)
    assert served["spiffe_id"] == SPIFFE_ID
    assert issued_serials(proxy) == [served["serial_number"]], proxy.output()
    assert metric(proxy, "halyard_workload_certificates_total") == 1
    expiry = metric(proxy, "halyard_workload_certificate_expiry_timestamp_seconds")
    # The default lifetime is 24 h.
    assert abs(expiry - (time.time() + 24 * 3600)) < 600, expiry
    log = proxy.output()
    assert log.count("connected to the control plane") == 1, log
    # The key never touches the disk: nothing but the log in the proxy's directory.
    assert [p.name for p in (tmp_path / "proxy").iterdir()] == [proxy.log_path.name]


def test_without_a_token_the_proxy_never_turns_ready_and_says_why(config, tmp_path, started):
    control = ControlPlane(config)
    started(control)
    proxy = ControlledProxy(tmp_path / "proxy", control, workers=1, token_file="")
    started(proxy)
    assert wait_for(lambda: "refused" in proxy.ready()[1]), proxy.ready()
    time.sleep(1.5)  # several retries
    status, body = proxy.ready()
    assert status == 503
    assert body.startswith("the control plane refused this proxy: UNAUTHENTICATED: no credential"), \
        body
    log = proxy.output()
    assert "no --token-file" in log
    # Refused at every retry, logged once.
    assert log.count("refused this proxy: UNAUTHENTICATED") == 1, log
    assert metric(proxy, "halyard_workload_certificates_total") == 0


def test_a_token_for_another_identity_is_refused(config, tmp_path, started):
    control = ControlPlane(config)
    started(control)
    proxy = ControlledProxy(tmp_path / "proxy", control, workers=1, namespace="shop",
                            service_account="web")
    started(proxy)
    assert wait_for(lambda: "PERMISSION_DENIED" in proxy.ready()[1]), proxy.ready()
    status, body = proxy.ready()
    assert status == 503
    assert "the credential is for shop/web" in body, body


def test_a_token_file_written_later_is_read_at_the_next_connect(config, tmp_path, started):
    control = ControlPlane(config)
    started(control)
    token = tmp_path / "token"
    proxy = ControlledProxy(tmp_path / "proxy", control, workers=1, token_file=token)
    started(proxy)
    assert "cannot read the token file %s" % token in proxy.output()
    status, body = wait_for(lambda: proxy.ready() if "last attempt" in proxy.ready()[1] else None)
    assert status == 503
    assert body == ("waiting for a workload certificate from %s\n"
                    "waiting for the first config from %s\n"
                    "last attempt: cannot read the token file %s: No such file or directory\n"
                    % (control.address, control.address, token)), body
    token.write_text(control.token_file("istio-system", "default").read_text())
    proxy.wait_ready(timeout=10)


def test_the_certificate_is_renewed_on_the_open_stream(config, tmp_path, started):
    control = ControlPlane(config, workload_cert_ttl="20s")
    started(control)
    proxy = ControlledProxy(tmp_path / "proxy", control, workers=1)
    started(proxy)
    proxy.wait_ready()
    first = secret(control)["serial_number"]
    # Renewed at about half of the 20 s.
    assert wait_for(lambda: secret(control)["serial_number"] != first, timeout=20), proxy.output()
    second = secret(control)
    assert second["certificates_issued"] >= 2
    assert second["spiffe_id"] == SPIFFE_ID
    assert wait_for(lambda: len(issued_serials(proxy)) >= 2), proxy.output()
    serials = issued_serials(proxy)
    assert serials[0] == first and second["serial_number"] in serials, (serials, proxy.output())
    assert metric(proxy, "halyard_workload_certificates_total") >= 2
    log = proxy.output()
    assert "asked the control plane for a new workload certificate" in log
    # Same stream: no reconnect.
    assert log.count("connected to the control plane") == 1, log
    assert "ended" not in log, log
    assert proxy.ready()[0] == 200
    assert curl(proxy.port, "/x", "shop.example.com", timeout=5).status == 200


def test_the_control_planes_certificate_is_verified(config, tmp_path, started):
    control = ControlPlane(config)
    started(control)
    other = ControlPlane(config, ca_dir=tmp_path / "other-ca")
    started(other)
    # Trusting another CA's root.
    proxy = ControlledProxy(tmp_path / "untrusted", control, workers=1,
                            control_ca=other.root_cert)
    started(proxy)
    assert wait_for(lambda: "certificate verify failed" in proxy.ready()[1]), proxy.ready()
    assert "last attempt: certificate verify failed: " in proxy.ready()[1]
    assert re.search(r"control plane 127\.0\.0\.1:\d+: certificate verify failed: ",
                     proxy.output()), proxy.output()
    # Expecting another name.
    named = ControlledProxy(tmp_path / "named", control, workers=1,
                            extra_args=("--control-server-name", "istiod.elsewhere.svc"))
    started(named)
    assert wait_for(lambda: "hostname mismatch" in named.ready()[1]), named.ready()


def test_control_without_control_ca_is_a_usage_error(tmp_path):
    res = subprocess.run([str(BIN / "halyard-proxy"), "--control", "127.0.0.1:1"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode != 0
    assert "--control needs --control-ca FILE" in res.stderr, res.stderr
