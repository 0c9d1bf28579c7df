"""A trace collector for the tests: accepts Zipkin v2 JSON (POST /api/v2/spans) and OTLP/HTTP
JSON (POST /v1/traces) on a port it picks, and keeps every span, normalised to one shape:
{"traceId", "id", "parentId", "name", "kind", "service", "tags", "format"}."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Collector:
    def __init__(self):
        self.spans = []
        self.posts = []  # (path, content-type)
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            # Keeps connections, as Zipkin and OpenTelemetry collectors do: the proxies' span
            # exporters post every batch on one connection then.
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    spans = collector._parse(self.path, json.loads(body))
                except (ValueError, KeyError, TypeError) as e:
                    reason = str(e).encode()
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(reason)))
                    self.end_headers()
                    self.wfile.write(reason)
                    return
                with collector.lock:
                    collector.posts.append((self.path, self.headers.get("Content-Type")))
                    collector.spans.extend(spans)
                self.send_response(202 if self.path == "/api/v2/spans" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _parse(path, doc):
        out = []
        if path == "/api/v2/spans":
            for s in doc:
                out.append({"traceId": s["traceId"], "id": s["id"], "parentId": s.get("parentId"),
                            "name": s["name"], "kind": s.get("kind"),
                            "service": s["localEndpoint"]["serviceName"],
                            "tags": s.get("tags", {}), "format": "zipkin"})
        elif path == "/v1/traces":
            for rs in doc["resourceSpans"]:
                attrs = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        out.append({"traceId": s["traceId"], "id": s["spanId"],
                                    "parentId": s.get("parentSpanId"), "name": s["name"],
                                    "kind": {2: "SERVER", 3: "CLIENT"}.get(s["kind"]),
                                    "service": attrs["service.name"],
                                    "tags": {a["key"]: a["value"]["stringValue"]
                                             for a in s.get("attributes", [])},
                                    "format": "otlp"})
        else:
            raise KeyError(path)
        return out

    def trace(self, trace_id):
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def wait_trace(self, trace_id, count, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            spans = self.trace(trace_id)
            if len(spans) >= count:
                return spans
            time.sleep(0.2)
        found = self.trace(trace_id)  # takes the lock itself (not reentrant)
        with self.lock:
            everything = list(self.spans)
        raise AssertionError("trace %s has %d spans, %d expected; all spans: %s" % (
            trace_id, len(found), count, everything))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
