"""RequestAuthentication (JWT) under `halyard up`: two namespaces with mutual TLS between their
sidecars, tokens signed by a key made here, a JWKS served by a small HTTP server in the test
(jwksUri, fetched by the control plane and pushed inline) and inline key sets.

At the gateway (istio-system): issuer https://idp.test from the JWKS server (audience edge,
forwardOriginalToken, outputPayloadToHeader, outputClaimToHeaders), issuer https://down.test
whose jwksUri nobody answers (fails closed), and a VirtualService that routes on a verified
claim. At the sidecar of orders-api (namespace shop): the same issuer with an inline key set,
the token not forwarded, and AuthorizationPolicies on requestPrincipals and claims."""
import base64
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import threading
import time
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from conftest import ROOT
from proxy_harness import free_port
from up_harness import Mesh, admin

HOST = "jwt.example.com"
ISSUER = "https://idp.test"
DOWN_ISSUER = "https://down.test"
TLS_ISSUER = "https://tls.test"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    """An RSA signing key, its JWK and tokens signed with it (RS256), as an identity provider."""

    def __init__(self, kid):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}

    def token(self, **claims):
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        body = {"iss": ISSUER, "sub": "alice", "aud": "edge", "iat": int(time.time()),
                "exp": int(time.time()) + 3600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(body).encode()))
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)


def jwks(*keys):
    return json.dumps({"keys": [k.jwk() for k in keys]})


class JwksServer:
    """Serves the current key set at /jwks.json; `keys` can be changed (a rotation). With
    `tls` (an ssl.SSLContext), over HTTPS."""

    def __init__(self, keys, tls=None):
        self.body = jwks(*keys)
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                data = outer.body.encode()
                if self.path == "/.well-known/openid-configuration":  # OpenID discovery
                    data = json.dumps({"issuer": outer.issuer(),
                                       "jwks_uri": outer.issuer() + "/jwks.json"}).encode()
                self.send_response(200 if self.path.endswith((".json", "-configuration"))
                                   else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def issuer(self):
        """This server as an OpenID issuer (its discovery document names its key set)."""
        return "http://127.0.0.1:%d" % self.port

    def serve(self, *keys):
        self.body = jwks(*keys)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def tls_context(tmp):
    """A CA (its PEM written for the control plane) and a server certificate for 127.0.0.1."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwt test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_path


def config(items_port, orders_port, jwks_port, dead_port, inline_jwks, tls_port):
    return """apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: items-api, namespace: default, labels: {app: items-api, version: v1}}
spec:
  serviceAccount: items-api
  service: items-api-svc
  port: %(items)d
  command: [/usr/bin/python3, ../apps/echo_app.py, --name, items-api]
---
apiVersion: halyard.dev/v1alpha1
kind: Workload
metadata: {name: orders-api, namespace: shop, labels: {app: orders-api, version: v1}}
spec:
  serviceAccount: orders-api
  service: orders-api-svc
  port: %(orders)d
  command: [/usr/bin/python3, ../apps/echo_app.py, --name, orders-api]
---
apiVersion: v1
kind: Service
metadata: {name: items-api-svc, namespace: default}
spec:
  selector: {app: items-api}
  ports: [{name: http, port: 80, targetPort: %(items)d}]
---
apiVersion: v1
kind: Service
metadata: {name: orders-api-svc, namespace: shop}
spec:
  selector: {app: orders-api}
  ports: [{name: http, port: 80, targetPort: %(orders)d}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/%(host)s"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge-routes, namespace: default}
spec:
  hosts: [%(host)s]
  gateways: [istio-system/edge]
  http:
  - name: vip
    match:
    - headers:
        "@request.auth.claims.group": {exact: vip}
    route: [{destination: {host: orders-api-svc.shop.svc.cluster.local, port: {number: 80}}}]
  - name: orders
    match: [{uri: {prefix: /orders}}]
    route: [{destination: {host: orders-api-svc.shop.svc.cluster.local, port: {number: 80}}}]
  - name: items
    route: [{destination: {host: items-api-svc, port: {number: 80}}}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: edge-jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: %(issuer)s
    jwksUri: http://127.0.0.1:%(jwks)d/jwks.json
    audiences: [edge]
    forwardOriginalToken: true
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{header: x-jwt-group, claim: group}]
  - issuer: %(down)s
    jwksUri: http://127.0.0.1:%(dead)d/jwks.json
  - issuer: %(tls_issuer)s
    jwksUri: https://127.0.0.1:%(tls)d/jwks.json
  - issuer: http://127.0.0.1:%(jwks)d
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: orders-jwt, namespace: shop}
spec:
  selector: {matchLabels: {app: orders-api}}
  jwtRules:
  - issuer: %(issuer)s
    jwks: '%(inline)s'
""" % {"items": items_port, "orders": orders_port, "jwks": jwks_port, "dead": dead_port,
       "host": HOST, "issuer": ISSUER, "down": DOWN_ISSUER, "inline": inline_jwks,
       "tls_issuer": TLS_ISSUER, "tls": tls_port}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jwt")
    shutil.copytree(ROOT / "samples" / "apps", tmp / "apps")
    config_dir = tmp / "mesh"
    config_dir.mkdir()
    key = Key("k1")
    server = JwksServer([key])
    tls, ca_path = tls_context(tmp)
    tls_key = Key("t1")
    tls_server = JwksServer([tls_key], tls)
    dead_port = free_port()  # nothing listens there: the JWKS cannot be fetched
    (config_dir / "mesh.yaml").write_text(
        config(free_port(), free_port(), server.port, dead_port, jwks(key), tls_server.port))
    # A short refresh so that a rotated key set is fetched and pushed within the test, and the
    # test CA for the https jwksUri.
    env = {"HALYARD_JWKS_REFRESH_MS": "1000", "HALYARD_JWKS_CA_FILE": str(ca_path)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    mesh = Mesh(tmp, config_dir)
    for k, v in saved.items():
        if v is None:
            del os.environ[k]
        else:
            os.environ[k] = v
    mesh.config_dir = config_dir
    mesh.tls_key = tls_key
    try:
        mesh.wait_running()
        deadline = time.time() + 30
        while time.time() < deadline:
            if all(call(mesh, p)[0] == 200 for p in ("/items", "/orders")):
                break
            time.sleep(0.2)
        yield mesh, key, server, dead_port
    finally:
        mesh.stop()
        server.stop()
        tls_server.stop()


def call(mesh, path, token=None, headers=None, method="GET"):
    """(status, headers, body: JSON when it parses) of one request through the gateway."""
    h = {"Host": HOST}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", mesh.port, timeout=5)
    try:
        conn.request(method, path, headers=h)
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
        try:
            body = json.loads(body)
        except ValueError:
            pass
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def apply(mesh, name, yaml, until):
    path = mesh.config_dir / (name + ".yaml")
    path.write_text(yaml)
    assert wait_for(until), "the config %s never took effect" % name
    return path


def test_a_valid_token_passes_with_payload_and_claim_headers(env):
    mesh, key, _, _ = env
    t = key.token(group="staff")
    status, _, body = call(mesh, "/items", t)
    assert status == 200, body
    headers = body["headers"]
    # forwardOriginalToken: the gateway's rule keeps the token for items-api (no rule of its own).
    assert headers.get("authorization") == "Bearer " + t
    assert headers.get("x-jwt-payload") == t.split(".")[1]
    assert headers.get("x-jwt-group") == "staff"
    # No token at all: passes unauthenticated (no policy requires a principal here).
    assert call(mesh, "/items")[0] == 200


def test_invalid_tokens_are_refused_with_envoys_answers(env):
    mesh, key, _, _ = env
    cases = [
        (key.token(exp=int(time.time()) - 3600), 401, "Jwt is expired"),
        (key.token(iss="https://stranger.test"), 401, "Jwt issuer is not configured"),
        (Key("k1").token(), 401, "Jwt verification fails"),
        (key.token(aud="somebody-else"), 403, "Audiences in Jwt are not allowed"),
        ("abc.def", 401,
         "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
    ]
    for token, code, sentence in cases:
        status, headers, body = call(mesh, "/items/1?x=2", token)
        assert (status, body) == (code, sentence), (sentence, status, body)
        assert headers["www-authenticate"] == (
            'Bearer realm="http://%s/items/1", error="invalid_token"' % HOST), headers
    # The token may also come as the access_token parameter.
    expired = key.token(exp=int(time.time()) - 3600)
    assert call(mesh, "/items?access_token=" + expired)[:3:2] == (401, "Jwt is expired")
    # A CORS preflight is not authenticated.
    status, _, _ = call(mesh, "/items", expired, method="OPTIONS",
                        headers={"Origin": "http://app.test",
                                 "Access-Control-Request-Method": "GET"})
    assert status == 200


def test_a_jwks_uri_over_https_is_fetched(env):
    mesh, _, _, _ = env
    t = mesh.tls_key.token(iss=TLS_ISSUER)
    status, _, body = call(mesh, "/items", t)
    assert status == 200, body


def test_an_issuers_key_set_is_discovered(env):
    mesh, key, server, _ = env
    # A rule with only an issuer: its OpenID configuration names the key set.
    status, _, body = call(mesh, "/items", key.token(iss=server.issuer()))
    assert status == 200, body


def test_an_unreachable_jwks_fails_closed(env):
    mesh, key, _, dead_port = env
    status, _, body = call(mesh, "/items", key.token(iss=DOWN_ISSUER))
    assert status == 401 and body == "Jwt verification fails", (status, body)
    uri = "http://127.0.0.1:%d/jwks.json" % dead_port
    logs = "".join(p.read_text(errors="replace") for p in mesh.log_dir.glob("*.log"))
    assert uri in logs, "no warning names the JWKS URI"
    # The control plane's metrics name it too, next to the key sets it serves.
    metrics = admin(mesh.state()["control"]["admin"], "/metrics")
    assert 'halyard_control_jwks_available{uri="%s"} 0' % uri in metrics, metrics
    assert 'halyard_control_jwks_available{uri="http://127.0.0.1:%d/jwks.json"} 1' % (
        env[2].port) in metrics, metrics


def test_the_sidecar_checks_its_own_rules_and_drops_the_token(env):
    mesh, key, _, _ = env
    t = key.token()
    status, _, body = call(mesh, "/orders", t)
    assert status == 200, body
    assert body["service"] == "orders-api"
    # orders-api's rule does not forward the token; the gateway's payload header still arrives.
    assert "authorization" not in body["headers"], body["headers"]
    assert body["headers"].get("x-jwt-payload") == t.split(".")[1]


def test_request_principals_and_claims_authorize_at_the_sidecar(env):
    mesh, key, _, _ = env
    yaml = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: need-jwt, namespace: shop}
spec:
  selector: {matchLabels: {app: orders-api}}
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["%(issuer)s/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-banned, namespace: shop}
spec:
  selector: {matchLabels: {app: orders-api}}
  action: DENY
  rules:
  - when:
    - key: request.auth.claims[group]
      values: [banned]
  - when:
    - key: request.auth.claims[org][tier]
      values: [free]
  - when:
    - key: request.auth.presenter
      values: [evil-app]
  - when:
    - key: request.auth.audiences
      values: [blocked-aud]
  - when:
    - key: request.auth.principal
      values: ["%(issuer)s/mallory"]
""" % {"issuer": ISSUER}
    path = apply(mesh, "orders-authz", yaml, lambda: call(mesh, "/orders")[0] == 403)
    try:
        status, _, body = call(mesh, "/orders")
        assert (status, body) == (403, "RBAC: access denied")
        assert call(mesh, "/orders", key.token())[0] == 200
        status, _, body = call(mesh, "/orders", key.token(group="banned"))
        assert (status, body) == (403, "RBAC: access denied")
        assert call(mesh, "/orders", key.token(org={"tier": "free"}))[0] == 403
        assert call(mesh, "/orders", key.token(org={"tier": "gold"}))[0] == 200
        assert call(mesh, "/orders", key.token(azp="evil-app"))[0] == 403
        assert call(mesh, "/orders", key.token(azp="good-app"))[0] == 200
        assert call(mesh, "/orders", key.token(aud=["edge", "blocked-aud"]))[0] == 403
        assert call(mesh, "/orders", key.token(sub="mallory"))[0] == 403
    finally:
        path.unlink()
        assert wait_for(lambda: call(mesh, "/orders")[0] == 200)


def test_a_virtual_service_routes_on_a_verified_claim(env):
    mesh, key, _, _ = env
    status, _, body = call(mesh, "/items", key.token(group="vip"))
    assert status == 200 and body["service"] == "orders-api", body
    assert call(mesh, "/items", key.token(group="staff"))[2]["service"] == "items-api"
    # Without a token the claim is missing: the next route.
    assert call(mesh, "/items")[2]["service"] == "items-api"
    # An invalid token is refused before any route is chosen.
    assert call(mesh, "/items", key.token(group="vip", exp=1))[0] == 401


def test_a_rotated_jwks_is_fetched_and_pushed(env):
    mesh, key, server, _ = env
    new_key = Key("k2")
    t = new_key.token()
    assert call(mesh, "/items", t)[:3:2] == (401, "Jwks doesn't have key to match kid or alg "
                                                  "from Jwt")
    server.serve(key, new_key)
    try:
        assert wait_for(lambda: call(mesh, "/items", t)[0] == 200, timeout=20), \
            call(mesh, "/items", t)
        assert call(mesh, "/items", key.token())[0] == 200
    finally:
        server.serve(key)
