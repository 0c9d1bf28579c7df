"""gRPC through the gateway with Python grpcio on both sides: the client speaks h2c to the
gateway, the gateway HTTP/2 to a backend whose Service port is named grpc. Unary and streaming
in both directions, status and details relayed from the server's trailers, the client's
deadline, and the answers the proxy makes itself as gRPC statuses (no route: UNIMPLEMENTED,
an AuthorizationPolicy denial: PERMISSION_DENIED, no upstream: UNAVAILABLE). Methods are
served with generic handlers over raw bytes, so no generated code is needed."""
import threading
import time
import urllib.request
from concurrent import futures

import pytest

grpc = pytest.importorskip("grpc")

from proxy_harness import Proxy, free_port, gateway  # noqa: E402

HOST = "grpc.example.com"
SERVICE = "test.Echo"


class EchoService:
    """Unary Echo, server-streaming Repeat, client-streaming Count, bidi Chat, and Fail/Slow."""

    def __init__(self):
        self.seen_metadata = []
        self.flaky_calls = {}
        self.lock = threading.Lock()

    def unary(self, request, context):
        self.seen_metadata.append(dict(context.invocation_metadata()))
        context.set_trailing_metadata((("x-echo-trailer", "done"),))
        return b"echo:" + request

    def repeat(self, request, context):
        for i in range(int(request or b"3")):
            yield b"item-%d" % i

    def count(self, request_iterator, context):
        total = 0
        n = 0
        for message in request_iterator:
            n += 1
            total += len(message)
        return b"%d messages, %d bytes" % (n, total)

    def chat(self, request_iterator, context):
        for message in request_iterator:
            yield b"re:" + message

    def fail(self, request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " + request.decode())

    def flaky(self, request, context):
        """UNAVAILABLE on the first call for a key, then OK: for retryOn."""
        with self.lock:
            n = self.flaky_calls.get(request, 0)
            self.flaky_calls[request] = n + 1
        if n == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return b"ok after %d" % (n + 1)

    def slow(self, request, context):
        time.sleep(float(request or b"2"))
        return b"late"

    def handler(self):
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Echo": grpc.unary_unary_rpc_method_handler(self.unary),
            "Repeat": grpc.unary_stream_rpc_method_handler(self.repeat),
            "Count": grpc.stream_unary_rpc_method_handler(self.count),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat),
            "Fail": grpc.unary_unary_rpc_method_handler(self.fail),
            "Slow": grpc.unary_unary_rpc_method_handler(self.slow),
            "Flaky": grpc.unary_unary_rpc_method_handler(self.flaky),
            "FlakyNoRetry": grpc.unary_unary_rpc_method_handler(self.flaky),
            "Denied": grpc.unary_unary_rpc_method_handler(self.unary),
        })


def config(backend_port, dead_port):
    return "---\n".join([
        gateway("gw", [HOST]),
        """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: default}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /test.Gone/}}]
    route: [{destination: {host: gone}}]
  - match: [{uri: {exact: /test.Echo/Flaky}}]
    route: [{destination: {host: echo}}]
    retries: {attempts: 2, retryOn: "cancelled,deadline-exceeded,internal,resource-exhausted,unavailable"}
  - match: [{uri: {exact: /test.Echo/FlakyNoRetry}}]
    route: [{destination: {host: echo}}]
    retries: {attempts: 0}
  - route: [{destination: {host: echo}}]
""" % HOST,
        """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-denied, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/test.Echo/Denied"]}}]
""",
        grpc_service("echo", backend_port),
        grpc_service("gone", dead_port),
    ])


def grpc_service(name, port):
    return """apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: grpc, port: 80, targetPort: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: grpc, port: %d}]
""" % (name, port, name, port)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    class E:
        pass

    e = E()
    e.dir = tmp_path_factory.mktemp("grpc")
    e.service = EchoService()
    e.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    e.server.add_generic_rpc_handlers((e.service.handler(),))
    backend_port = e.server.add_insecure_port("127.0.0.1:0")
    e.server.start()
    e.proxy = Proxy(e.dir, config(backend_port, free_port()))
    e.channel = grpc.insecure_channel("127.0.0.1:%d" % e.proxy.port,
                                      options=[("grpc.default_authority", HOST)])
    yield e
    e.channel.close()
    e.proxy.stop()
    e.server.stop(0)


def method(env, name, kind="unary_unary", channel=None):
    return getattr(channel or env.channel, kind)("/%s/%s" % (SERVICE, name))


def test_unary_with_metadata_and_trailers(env):
    call = method(env, "Echo")
    response, info = call.with_call(b"hello", metadata=(("x-client", "yes"),), timeout=10)
    assert response == b"echo:hello"
    assert info.code() == grpc.StatusCode.OK
    assert ("x-echo-trailer", "done") in info.trailing_metadata()
    seen = env.service.seen_metadata[-1]
    assert seen["x-client"] == "yes"
    assert "x-request-id" in seen and "x-forwarded-for" in seen


def test_server_streaming(env):
    assert list(method(env, "Repeat", "unary_stream")(b"5", timeout=10)) == [
        b"item-%d" % i for i in range(5)]


def test_client_streaming(env):
    messages = (b"x" * 1000 for _ in range(200))
    assert method(env, "Count", "stream_unary")(messages, timeout=20) == b"200 messages, 200000 bytes"


def test_bidi_streaming_interleaved(env):
    """Each reply arrives before the next request is sent: nothing is buffered to the end."""
    outgoing = []
    ready = threading.Event()

    def requests():
        for i in range(5):
            outgoing.append(i)
            yield b"m%d" % i
            ready.wait(5)
            ready.clear()

    replies = []
    for reply in method(env, "Chat", "stream_stream")(requests(), timeout=20):
        replies.append(reply)
        assert len(outgoing) == len(replies)  # the reply to the latest request, not later
        ready.set()
    assert replies == [b"re:m%d" % i for i in range(5)]


def test_large_messages_both_ways(env):
    big = b"z" * 3_000_000
    response = method(env, "Echo")(big, timeout=20)
    assert response == b"echo:" + big


def test_status_and_details_relayed(env):
    with pytest.raises(grpc.RpcError) as e:
        method(env, "Fail")(b"widget", timeout=10)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == "no such thing: widget"


def test_deadline_exceeded(env):
    start = time.time()
    with pytest.raises(grpc.RpcError) as e:
        method(env, "Slow")(b"3", timeout=0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.time() - start < 2.5


def test_no_route_is_unimplemented(env):
    channel = grpc.insecure_channel("127.0.0.1:%d" % env.proxy.port,
                                    options=[("grpc.default_authority", "nowhere.example.org")])
    try:
        with pytest.raises(grpc.RpcError) as e:
            method(env, "Echo", channel=channel)(b"x", timeout=10)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "route" in e.value.details()
    finally:
        channel.close()


def test_authorization_deny_is_permission_denied(env):
    with pytest.raises(grpc.RpcError) as e:
        method(env, "Denied")(b"x", timeout=10)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_no_upstream_is_unavailable(env):
    with pytest.raises(grpc.RpcError) as e:
        env.channel.unary_unary("/test.Gone/Echo")(b"x", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_metrics_say_grpc(env):
    method(env, "Echo")(b"metric", timeout=10)
    with pytest.raises(grpc.RpcError):
        method(env, "Fail")(b"m", timeout=10)
    deadline = time.time() + 5
    text = ""
    while time.time() < deadline:
        text = env.proxy.admin("/stats/prometheus")
        if 'grpc_response_status="5"' in text:
            break
        time.sleep(0.2)
    lines = [l for l in text.splitlines() if l.startswith("istio_requests_total{")]
    assert any('request_protocol="grpc"' in l and 'grpc_response_status="0"' in l for l in lines)
    assert any('request_protocol="grpc"' in l and 'grpc_response_status="5"' in l for l in lines)


def test_retry_on_grpc_unavailable(env):
    """retryOn unavailable: the first UNAVAILABLE (a trailers-only answer) is retried."""
    assert method(env, "Flaky")(b"k1", timeout=10) == b"ok after 2"
    # With retries off (Istio's default policy retries unavailable too) the client sees it.
    with pytest.raises(grpc.RpcError) as e:
        method(env, "FlakyNoRetry")(b"k2", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
