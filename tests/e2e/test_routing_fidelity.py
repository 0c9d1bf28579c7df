"""Routing answers that Istio's own traffic tests pin down (tests/integration/pilot: routing.go,
mirror_test.go), checked through the real proxy with real backends: which authority wins when
route and destination both set one, the ports redirects keep or derive, withoutHeaders against a
missing header, tls.httpsRedirect with no VirtualService, how VirtualServices for one host merge,
mirror percentages and CORS preflights. The cases follow those tests; the code is our own."""
import time

import pytest

from proxy_backends import EchoBackend
from proxy_harness import Proxy, curl, free_port, gateway, service

FIDELITY = "fidelity.example.com"
REDIRECT = "redirect.example.com"
MERGE = "merge.example.com"


def virtual_service(name, hosts, gateways, http, created=None):
    meta = "{name: %s, namespace: default%s}" % (
        name, ", creationTimestamp: \"%s\"" % created if created else "")
    return """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: %s
spec:
  hosts: [%s]
  gateways: [%s]
  http:
%s""" % (meta, ", ".join(hosts), ", ".join(gateways), http)


# Authority precedence, withoutHeaders, mirrors and CORS on one host.
FIDELITY_ROUTES = """\
  - match: [{uri: {prefix: /authority-single}}]
    headers:
      request:
        set: {":authority": route-authority}
    route:
    - destination: {host: v1}
      headers:
        request:
          set: {Host: dest-authority}
  - match: [{uri: {prefix: /authority-multi}}]
    headers:
      request:
        set: {":authority": route-authority}
    route:
    - destination: {host: v1}
      weight: 50
      headers:
        request:
          set: {Host: dest-authority}
    - destination: {host: v2}
      weight: 50
  - match: [{uri: {prefix: /authority-rewrite}}]
    rewrite: {authority: rewritten-authority}
    route:
    - destination: {host: v1}
      headers:
        request:
          set: {":authority": dest-authority}
  - match: [{uri: {prefix: /authority-dest}}]
    route:
    - destination: {host: v1}
      weight: 50
      headers:
        request:
          set: {Host: dest-authority}
    - destination: {host: v2}
      weight: 50
      headers:
        request:
          set: {Host: dest-authority}
  - match: [{uri: {prefix: /without-exact}, withoutHeaders: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /without-present}, withoutHeaders: {end-user: {regex: "*"}}}]
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /without-any}, withoutHeaders: {end-user: {regex: ".*"}}}]
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /with-any}, headers: {end-user: {regex: ".*"}}}]
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: v1}}]
  - match:
    - {uri: {prefix: /without-exact}}
    - {uri: {prefix: /without-present}}
    - {uri: {prefix: /without-any}}
    - {uri: {prefix: /with-any}}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /mirror-all}}]
    mirror: {host: shadow}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /mirror-none}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 0}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /mirror-half}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 50}
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: cors.com}]
      allowMethods: [POST, GET]
      allowCredentials: false
      allowHeaders: [X-Foo-Bar, X-Foo-Baz]
      maxAge: 24h
    route: [{destination: {host: v1}}]
"""

# Redirects, bound to the port-80 and the port-8080 Gateway.
REDIRECT_ROUTES = """\
  - match: [{uri: {prefix: /keep}}]
    redirect: {uri: /kept}
  - match: [{uri: {prefix: /derive-https}}]
    redirect: {uri: /derived, derivePort: FROM_REQUEST_PORT, scheme: https}
  - match: [{uri: {prefix: /derive}}]
    redirect: {uri: /derived, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {prefix: /port-80}}]
    redirect: {uri: /moved, port: 80}
  - match: [{uri: {prefix: /port-9090}}]
    redirect: {uri: /moved, port: 9090}
  - match: [{uri: {prefix: /to-https}}]
    redirect: {uri: /secure, scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}
"""


def response_route(route_name, service_name, prefix=None):
    match = "  - match: [{uri: {prefix: %s}}]\n" % prefix if prefix else "  -"
    sep = "    " if prefix else " "
    return ("%s%sheaders: {response: {set: {x-route: %s}}}\n"
            "    route: [{destination: {host: %s}}]\n" % (match, sep, route_name, service_name))


def merge_config():
    """Four VirtualServices for one host: the oldest first, equal times by name, and the one
    catch-all route (of the oldest) after every other route."""
    return [
        virtual_service("merge-old", [MERGE], ["fid-gw"],
                        response_route("old-api", "v1", "/api") +
                        response_route("old-catchall", "v1"),
                        created="2024-01-01T00:00:00Z"),
        virtual_service("merge-new", [MERGE], ["fid-gw"],
                        response_route("new-api", "v2", "/api") +
                        response_route("new-only", "v2", "/only-new"),
                        created="2024-06-01T00:00:00Z"),
        virtual_service("merge-tie-z", [MERGE], ["fid-gw"], response_route("tie-z", "v1", "/tie"),
                        created="2024-03-01T00:00:00Z"),
        virtual_service("merge-tie-a", [MERGE], ["fid-gw"], response_route("tie-a", "v2", "/tie"),
                        created="2024-03-01T00:00:00Z"),
    ]


def config(v1, v2, shadow):
    https_redirect = "    tls: {httpsRedirect: true}\n"
    docs = [
        gateway("fid-gw", [FIDELITY, REDIRECT, MERGE]),
        gateway("fid-gw-8080", [REDIRECT], port=8080),
        # tls.httpsRedirect with no VirtualService at all, and with one that routes only /only.
        gateway("secure-only", ["secure-only.example.com"], extra=https_redirect),
        gateway("secure-bound", ["secure-bound.example.com"], extra=https_redirect),
        gateway("secure-any", ["\"*\""], port=8081, extra=https_redirect),
        virtual_service("fidelity", [FIDELITY], ["fid-gw"], FIDELITY_ROUTES),
        virtual_service("redirects", [REDIRECT], ["fid-gw", "fid-gw-8080"], REDIRECT_ROUTES),
        virtual_service("secure-bound", ["secure-bound.example.com"], ["secure-bound"],
                        "  - match: [{uri: {prefix: /only}}]\n"
                        "    route: [{destination: {host: v1}}]\n"),
        *merge_config(),
        service("v1", v1.port),
        service("v2", v2.port),
        service("shadow", shadow.port),
    ]
    return "---\n".join(docs)


class Env:
    def __init__(self, tmp):
        self.v1, self.v2, self.shadow = EchoBackend("v1"), EchoBackend("v2"), EchoBackend("shadow")
        self.port_8080, self.port_8081 = free_port(), free_port()
        self.proxy = Proxy(tmp, config(self.v1, self.v2, self.shadow),
                           extra_args=("--port-map", "8080=%d" % self.port_8080,
                                       "--port-map", "8081=%d" % self.port_8081))
        self.port = self.proxy.port

    def stop(self):
        self.proxy.stop()
        for backend in (self.v1, self.v2, self.shadow):
            backend.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("fidelity"))
    yield e
    e.stop()


# ---- authority precedence -------------------------------------------------------------------

def test_route_authority_beats_destination_authority(env):
    r = curl(env.port, "/authority-single", FIDELITY)
    assert r.status == 200, r
    assert r.json()["headers"]["host"] == "route-authority"


def test_route_authority_wins_whichever_weighted_destination_is_picked(env):
    served = set()
    for _ in range(30):
        seen = curl(env.port, "/authority-multi", FIDELITY).json()
        served.add(seen["service"])
        assert seen["headers"]["host"] == "route-authority", seen
    assert served == {"v1", "v2"}  # both destinations were picked at least once


def test_rewrite_authority_beats_destination_authority(env):
    seen = curl(env.port, "/authority-rewrite", FIDELITY).json()
    assert seen["headers"]["host"] == "rewritten-authority"


def test_destination_authority_applies_without_a_route_authority(env):
    for _ in range(6):
        assert curl(env.port, "/authority-dest", FIDELITY).json()["headers"]["host"] == \
            "dest-authority"


# ---- redirect ports -------------------------------------------------------------------------

def location(port, path, host):
    r = curl(port, path, host)
    assert r.status == 301, r
    return r.headers["location"]


def test_redirect_without_port_keeps_host_as_sent(env):
    assert location(env.port, "/keep", REDIRECT) == "http://redirect.example.com/kept"
    assert location(env.port, "/keep", REDIRECT + ":80") == "http://redirect.example.com:80/kept"
    assert location(env.port_8080, "/keep", REDIRECT + ":8080") == \
        "http://redirect.example.com:8080/kept"


def test_redirect_from_request_port_uses_gateway_server_port(env):
    # Port 80 is http's default: only a port the client sent appears.
    assert location(env.port, "/derive", REDIRECT) == "http://redirect.example.com/derived"
    assert location(env.port, "/derive", REDIRECT + ":80") == \
        "http://redirect.example.com:80/derived"
    # The Gateway server's port (8080), not the port the proxy really listens on.
    assert location(env.port_8080, "/derive", REDIRECT) == \
        "http://redirect.example.com:8080/derived"
    assert location(env.port_8080, "/derive", REDIRECT + ":%d" % env.port_8080) == \
        "http://redirect.example.com:8080/derived"


def test_redirect_from_request_port_with_https_keeps_80(env):
    # 80 is not https's default, so it stays.
    assert location(env.port, "/derive-https", REDIRECT) == \
        "https://redirect.example.com:80/derived"


def test_redirect_port_80_on_http_counts_as_no_port(env):
    assert location(env.port_8080, "/port-80", REDIRECT + ":8080") == \
        "http://redirect.example.com:8080/moved"
    assert location(env.port_8080, "/port-9090", REDIRECT + ":8080") == \
        "http://redirect.example.com:9090/moved"


def test_redirect_to_https_drops_only_the_http_default_port(env):
    assert location(env.port, "/to-https?a=1", REDIRECT + ":80") == \
        "https://redirect.example.com/secure?a=1"
    assert location(env.port_8080, "/to-https", REDIRECT + ":8080") == \
        "https://redirect.example.com:8080/secure"


# ---- withoutHeaders -------------------------------------------------------------------------

@pytest.mark.parametrize("path,header,want", [
    # exact: a missing header is "", which is not "jason", so the route is taken.
    ("/without-exact", "end-user: jason", 200),
    ("/without-exact", "end-user: not-jason", 403),
    ("/without-exact", None, 403),
    # regex "*" is a presence check: the route is taken only when the header is absent.
    ("/without-present", "end-user: jason", 200),
    ("/without-present", "end-user;", 200),
    ("/without-present", None, 403),
    # regex ".*" matches every value and also the missing header: the route is never taken.
    ("/without-any", "end-user: jason", 200),
    ("/without-any", "end-user;", 200),
    ("/without-any", None, 200),
    # Plain headers are unchanged: a missing header matches no value matcher.
    ("/with-any", "end-user: jason", 403),
    ("/with-any", None, 200),
])
def test_without_headers_and_a_missing_header(env, path, header, want):
    args = ("-H", header) if header else ()
    r = curl(env.port, path, FIDELITY, *args)
    assert r.status == want, r


# ---- httpsRedirect without a VirtualService -------------------------------------------------

def test_https_redirect_without_virtual_service(env):
    before = env.v1.count()
    r = curl(env.port, "/login?next=/", "secure-only.example.com")
    assert r.status == 301, r
    assert r.headers["location"] == "https://secure-only.example.com/login?next=/"
    assert "requires TLS" in r.headers["x-halyard-reason"]
    # The http default port goes when the scheme becomes https.
    r = curl(env.port, "/a", "secure-only.example.com:80")
    assert r.headers["location"] == "https://secure-only.example.com/a"
    assert env.v1.count() == before


def test_https_redirect_on_a_wildcard_server_host(env):
    r = curl(env.port_8081, "/x", "anything.example.org:8081")
    assert r.status == 301, r
    assert r.headers["location"] == "https://anything.example.org:8081/x"
    r = curl(env.port_8081, "/y", "other.example.net")
    assert r.headers["location"] == "https://other.example.net/y"


def test_https_redirect_also_when_no_bound_route_matches(env):
    before = env.v1.count()
    for path in ("/only", "/other"):
        r = curl(env.port, path, "secure-bound.example.com")
        assert r.status == 301, r
        assert r.headers["location"] == "https://secure-bound.example.com" + path
    assert env.v1.count() == before


# ---- VirtualService merge order -------------------------------------------------------------

@pytest.mark.parametrize("path,want", [
    ("/api/v2", "old-api"),       # the older VirtualService's route comes first
    ("/only-new", "new-only"),    # the older one's catch-all moved after every other route
    ("/tie", "tie-a"),            # same creation time: by name
    ("/elsewhere", "old-catchall"),
])
def test_virtual_services_merge_by_creation_time_then_name(env, path, want):
    r = curl(env.port, path, MERGE)
    assert r.status == 200, r
    assert r.headers["x-route"] == want


# ---- mirrors --------------------------------------------------------------------------------

def wait_for_count(backend, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while backend.count() < want and time.monotonic() < deadline:
        time.sleep(0.02)
    return backend.count()


def test_mirror_without_percentage_mirrors_everything(env):
    before = env.shadow.count()
    for i in range(10):
        assert curl(env.port, "/mirror-all/%d" % i, FIDELITY).status == 200
    assert wait_for_count(env.shadow, before + 10) == before + 10
    time.sleep(0.2)
    assert env.shadow.count() == before + 10
    paths = sorted(r["path"] for r in env.shadow.requests[before:])
    assert paths == sorted("/mirror-all/%d" % i for i in range(10))


def test_mirror_percentage_zero_mirrors_nothing(env):
    wait_for_count(env.shadow, 0, timeout=0.3)
    before = env.shadow.count()
    for _ in range(10):
        assert curl(env.port, "/mirror-none", FIDELITY).status == 200
    time.sleep(0.5)
    assert env.shadow.count() == before


def test_mirror_percentage_fifty_mirrors_about_half(env):
    time.sleep(0.2)
    before = env.shadow.count()
    for _ in range(60):
        assert curl(env.port, "/mirror-half", FIDELITY).status == 200
    time.sleep(0.5)
    mirrored = env.shadow.count() - before
    assert 12 <= mirrored <= 48, mirrored


# ---- CORS -----------------------------------------------------------------------------------

def test_cors_preflight_answers_200_with_joined_lists_and_max_age_in_seconds(env):
    before = env.v1.count()
    r = curl(env.port, "/cors", FIDELITY, "-X", "OPTIONS", "-H", "Origin: cors.com",
             "-H", "Access-Control-Request-Method: DELETE")
    assert r.status == 200, r
    assert r.headers["access-control-allow-origin"] == "cors.com"
    assert r.headers["access-control-allow-methods"] == "POST,GET"
    assert r.headers["access-control-allow-headers"] == "X-Foo-Bar,X-Foo-Baz"
    assert r.headers["access-control-max-age"] == "86400"
    assert env.v1.count() == before


def test_cors_simple_requests(env):
    r = curl(env.port, "/cors", FIDELITY, "-H", "Origin: cors.com")
    assert r.status == 200 and r.json()["service"] == "v1"
    assert r.headers["access-control-allow-origin"] == "cors.com"
    r = curl(env.port, "/cors", FIDELITY)
    assert r.status == 200
    assert "access-control-allow-origin" not in r.headers
