#!/usr/bin/python3
"""A tiny sample workload: answers every request with its own name and what it received.

Used by the seed scenario (samples/pirata) for items-api, uploader-api, ai-api, front and
front-v2. Standard library only, so it runs from Debian's python3 with no network.

    echo_app.py --name items-api [--port 9081] [--host 127.0.0.1] [--call URL ...]

The port is --port or $PORT (halyard up sets it). With --call (or $CALL, comma-separated) every
request also calls those URLs and puts their answers in its reply: "chain" lists the services
the request went through, "calls" their answers. The calls use urllib, which honours
$http_proxy, so under `halyard up` they go through the workload's sidecar.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Passed on to the services called, so one request keeps one id along the chain.
FORWARDED_HEADERS = ("x-request-id", "traceparent", "b3", "x-b3-traceid", "x-b3-spanid")


def call(url, headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except (OSError, ValueError) as e:
        return {"url": url, "error": str(e)}
    answer = {"url": url, "status": status}
    try:
        answer["answer"] = json.loads(body)
    except ValueError:
        answer["answer"] = body.decode(errors="replace")[:500]
    return answer


def make_handler(name, calls):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "halyard-sample"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = {
                "service": name,
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("Host", ""),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
                "chain": [name],
            }
            if calls:
                forward = {h: self.headers[h] for h in FORWARDED_HEADERS if self.headers.get(h)}
                reply["calls"] = [call(url, forward) for url in calls]
                for answer in reply["calls"]:
                    downstream = answer.get("answer")
                    if isinstance(downstream, dict):
                        reply["chain"] += downstream.get("chain", [])
            data = (json.dumps(reply, indent=1, sort_keys=True) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Served-By", name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

        def log_message(self, fmt, *args):
            sys.stderr.write("%s: %s\n" % (name, fmt % args))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 0))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--call", action="append",
                        default=[u for u in os.environ.get("CALL", "").split(",") if u])
    args = parser.parse_args()
    if not args.port:
        parser.error("give --port or set $PORT")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.name, args.call))
    server.daemon_threads = True
    print("%s listening on %s:%d" % (args.name, args.host, args.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
