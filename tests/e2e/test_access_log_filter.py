"""The Telemetry API's accessLogging filter beyond response.code: the proxy evaluates a CEL subset
(request.method, request.url_path, request.headers['user-agent'], startsWith, !, &&, ||) per
request, at a gateway run with --config (it translates the directory itself)."""
import http.client
import time

from proxy_harness import Proxy
from test_telemetry_api import HOST, backend, config  # noqa: F401 (backend is a fixture)

TELEMETRY = """---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
    filter:
      expression: >-
        (request.method == 'POST' || request.url_path.startsWith('/admin'))
        && !request.headers['user-agent'].startsWith('probe')
"""


def send(proxy, method, path, agent):
    for _ in range(50):  # the backend may still be starting
        try:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            conn.request(method, path, body=b"x" if method == "POST" else None,
                         headers={"Host": HOST, "User-Agent": agent})
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status != 503:
                return r.status
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the backend did not answer")


def test_the_filter_logs_what_the_expression_selects(tmp_path, backend):
    log = tmp_path / "access.log"
    proxy = Proxy(tmp_path, config(backend, TELEMETRY), extra_args=["--access-log", str(log)])
    try:
        send(proxy, "GET", "/plain?x=1", "curl/8")          # not POST, not /admin: no
        send(proxy, "POST", "/orders", "curl/8")            # POST: yes
        send(proxy, "GET", "/admin/users?page=2", "curl/8")  # /admin: yes
        send(proxy, "POST", "/orders-by-probe", "probe/1")  # a probe: no
        send(proxy, "GET", "/last-marker", "curl/8")        # no; sent last
        send(proxy, "POST", "/flush-marker", "curl/8")      # yes: the end of the log
        deadline = time.time() + 5
        while time.time() < deadline and "/flush-marker" not in (
                log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        text = log.read_text()
        assert "/orders " in text or '/orders"' in text or "/orders HTTP" in text, text
        assert "/admin/users" in text, text
        assert "/flush-marker" in text, text
        assert "/plain" not in text, text
        assert "/orders-by-probe" not in text, text
        assert "/last-marker" not in text, text
    finally:
        proxy.stop()
