#!/usr/bin/python3
"""The cost of security policies at a sidecar: 20 AuthorizationPolicies and a JWT on every request.

The mesh of bench/mesh_bench.py (a `client` workload whose sidecar wrk sends keep-alive requests
through, to the `server` workload's sidecar in front of nginx, with mutual TLS between them),
measured in two modes, alternating per round:

  policies  at the server's sidecar: a RequestAuthentication (RS256, inline JWKS) and 20
            AuthorizationPolicies (DENY and ALLOW, on paths, methods, headers, principals,
            namespaces, request principals and claims); the last ALLOW lets the token's
            principal in. Every request carries the same valid token, so after the first one it
            is verified from the sidecar's per-worker cache of verified tokens.
  none      the same sidecar without any policy (the token is sent and forwarded untouched)

Reported per mode (medians over the rounds): requests/s, p50/p99 latency, and the CPU of the
server's sidecar per request (utime+stime from /proc: the one that enforces), with the CPU of
both sidecars for context; then the policies/none ratio of the server sidecar's CPU per request
(issue 12's target: at most 1.15x).

    bench/authz_bench.py [--duration 10] [--connections 16] [--rounds 3] [--build build]

Not part of the test command. Needs wrk, nginx, taskset (scripts/setup.sh installs them) and
python3-cryptography (to sign the token). Everything listens on 127.0.0.1 and stops on exit.
"""
import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh_bench import SERVER_HOST, Up, admin_get, config_dir, cpu_model  # noqa: E402
from proxy_bench import cpu_seconds, free_port  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISSUER = "https://bench.idp.test"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def key_and_token():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwks = json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "kid": "bench",
                                 "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}]})
    header = {"alg": "RS256", "kid": "bench", "typ": "JWT"}
    claims = {"iss": ISSUER, "sub": "bench-user", "aud": "server", "exp": int(time.time()) + 86400,
              "groups": ["readers", "writers"], "org": {"tier": "gold"}}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return jwks, signing_input + "." + b64url(signature)


def policies(jwks):
    """A RequestAuthentication and 20 AuthorizationPolicies for the server workload. None of the
    DENY rules match the benchmark's request; of the ALLOW policies only the last one does, so
    every request is checked against all of them."""
    docs = ["""apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bench-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: server}}
  jwtRules:
  - issuer: %s
    audiences: [server]
    jwks: '%s'
""" % (ISSUER, jwks)]
    head = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: %s, namespace: default}
spec:
  selector: {matchLabels: {app: server}}
  action: %s
  rules:
"""
    for i in range(8):
        docs.append(head % ("deny-%d" % i, "DENY") + """  - to: [{operation: {paths: ["/admin/%d/*"], methods: [DELETE, PUT]}}]
  - when: [{key: "request.headers[x-block-%d]", values: ["yes"]}]
""" % (i, i))
    for i in range(3):
        docs.append(head % ("deny-claims-%d" % i, "DENY") + """  - when:
    - key: request.auth.claims[groups]
      values: [banned-%d]
    - key: request.auth.claims[org][tier]
      values: [blocked-%d]
""" % (i, i))
    for i in range(8):
        docs.append(head % ("allow-%d" % i, "ALLOW") + """  - from: [{source: {principals: [cluster.local/ns/other-%d/sa/caller]}}]
    to: [{operation: {paths: ["/api/%d/*"], methods: [GET]}}]
  - from: [{source: {namespaces: [team-%d]}}]
""" % (i, i, i))
    docs.append(head % ("allow-jwt", "ALLOW") + """  - from: [{source: {requestPrincipals: ["%s/*"]}}]
    to: [{operation: {methods: [GET, HEAD]}}]
    when: [{key: "request.auth.claims[groups]", values: [readers]}]
""" % ISSUER)
    assert len(docs) == 21  # the RequestAuthentication and 20 policies
    return "---\n".join(docs)


def wrk(port, duration, connections, token):
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", "-c%d" % connections, "-d%ds" % duration,
         "--latency", "-H", "Host: " + SERVER_HOST, "-H", "Authorization: Bearer " + token,
         "http://127.0.0.1:%d/" % port],
        capture_output=True, text=True, check=True, timeout=duration + 60).stdout

    def latency(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(non2xx.group(1)) if non2xx else 0}


def set_mode(up, cfg, mode, jwks):
    path = os.path.join(cfg, "policies.yaml")
    if mode == "policies":
        with open(path, "w") as f:
            f.write(policies(jwks))
    elif os.path.exists(path):
        os.unlink(path)
    server = up.workload("server")["admin"]
    deadline = time.time() + 20
    while time.time() < deadline:
        dump = json.loads(admin_get(server, "/config_dump"))
        inbound = next(l for l in dump["listeners"] if l["name"] == "virtualInbound")
        if ("jwt_rules" in inbound) == (mode == "policies"):
            return
        time.sleep(0.2)
    raise RuntimeError("the server's sidecar never switched to " + mode)


def status(port, token):
    headers = {"Host": SERVER_HOST}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request("http://127.0.0.1:%d/" % port, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_enforced(up, token):
    """The policies decide: the token is needed (403 without), checked (401 when bad), enough."""
    port = up.workload("client")["outbound_port"]
    got = (status(port, token), status(port, None), status(port, "bad.bad.bad"))
    if got != (200, 403, 401):
        raise RuntimeError("policies not enforced as expected: (token, none, bad) answered %s" %
                           (got,))


def measure(up, args, token):
    port = up.workload("client")["outbound_port"]
    server = [up.pid("server.sidecar")]
    both = [up.pid("client.sidecar"), up.pid("server.sidecar")]
    wrk(port, 1, args.connections, token)  # warm-up: pools, and the token cache
    cpu0, both0 = cpu_seconds(server), cpu_seconds(both)
    r = wrk(port, args.duration, args.connections, token)
    n = max(r["requests"], 1)
    r.update(server_us=(cpu_seconds(server) - cpu0) * 1e6 / n,
             both_us=(cpu_seconds(both) - both0) * 1e6 / n)
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    args = p.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/setup.sh installs it)" % tool)
    jwks, token = key_and_token()
    tmp = tempfile.mkdtemp(prefix="halyard-authz-bench-")
    cfg = config_dir(tmp, free_port(), free_port())
    up = Up(args.build, cfg, tmp)
    results = {"policies": [], "none": []}
    try:
        for rnd in range(args.rounds):
            for mode in (("policies", "none") if rnd % 2 == 0 else ("none", "policies")):
                set_mode(up, cfg, mode, jwks)
                if mode == "policies":
                    check_enforced(up, token)
                r = measure(up, args, token)
                if r["errors"]:
                    raise RuntimeError("%s: %d requests failed" % (mode, r["errors"]))
                results[mode].append(r)
                print("round %d %-8s %8.0f req/s  %6.1f us/req (server sidecar)" %
                      (rnd + 1, mode, r["rps"], r["server_us"]), file=sys.stderr)
    finally:
        up.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode, key):
        return statistics.median(r[key] for r in results[mode])

    print("CPU: %s, %d cores; %d rounds of %d s, %d connections, keep-alive, one token\n" %
          (cpu_model(), os.cpu_count(), args.rounds, args.duration, args.connections))
    print("| mode | req/s | p50 ms | p99 ms | CPU us/req (server sidecar) | "
          "CPU us/req (both sidecars) |")
    print("|---|---|---|---|---|---|")
    for mode in ("policies", "none"):
        print("| %s | %.0f | %.2f | %.2f | %.1f | %.1f |" % (
            mode, med(mode, "rps"), med(mode, "p50") / 1000, med(mode, "p99") / 1000,
            med(mode, "server_us"), med(mode, "both_us")))
    print("\npolicies / none CPU per request at the server's sidecar: %.2fx (target <= 1.15x)" %
          (med("policies", "server_us") / med("none", "server_us")))


if __name__ == "__main__":
    main()
