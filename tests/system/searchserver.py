"""A registry index that speaks Docker Hub's v1 search API on 127.0.0.1:
GET /v1/_ping and GET /v1/search?q=TERM&n=LIMIT answering
{"num_results", "query", "results": [{"name", "description", "star_count",
"is_official", "is_automated"}]}, the first n repositories whose name or
description contains TERM, in the order of REPOS (not sorted by stars, as
Docker Hub orders by relevance).

Used in-process by the tests (SearchServer(...).start()), or on its own
(`python3 searchserver.py [PORT]`) to compare with another client."""
import base64
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPOS = [
    {"name": "example/tiny", "description": "A tiny image", "star_count": 3,
     "is_official": False, "is_automated": False},
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3200,
     "is_official": True, "is_automated": False},
    {"name": "example/long-description-image",
     "description": "This description is long enough that Docker truncates it in the table",
     "star_count": 42, "is_official": False, "is_automated": True},
    {"name": "example/multiline", "description": "first line\nsecond\rthird",
     "star_count": 0, "is_official": False, "is_automated": False},
    {"name": "example/unicode",
     "description": "Ünïcödé déscriptïön wïth äccénts that is longer than the table",
     "star_count": 12, "is_official": False, "is_automated": False},
    {"name": "example/no-description", "description": "", "star_count": 7,
     "is_official": False, "is_automated": True},
    {"name": "busybox-ish/official-lookalike", "description": "busybox, but not official",
     "star_count": 150, "is_official": False, "is_automated": False},
]


class SearchServer:
    """mode: "ok"; "status:NNN" answers every search with that status;
    "badjson" sends a body that is not JSON; "auth:USER:PASS" wants basic
    auth (401 with a Basic challenge otherwise)."""

    def __init__(self, mode="ok", repos=None, port=0):
        self.mode = mode
        self.repos = REPOS if repos is None else repos
        self.requests = []  # (path, headers dict)
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="application/json", headers=()):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                srv.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/v1/_ping":
                    return self.send(200, {}, headers=[("X-Docker-Registry-Standalone", "true")])
                if u.path != "/v1/search":
                    return self.send(404, {"errors": [{"code": "NOT_FOUND",
                                                        "message": "not found"}]})
                if srv.mode.startswith("auth:"):
                    want = "Basic " + base64.b64encode(srv.mode[5:].encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self.send(401, {"detail": "unauthorized"},
                                         headers=[("WWW-Authenticate", 'Basic realm="search"')])
                if srv.mode.startswith("status:"):
                    return self.send(int(srv.mode[7:]), {"detail": "failing on purpose"})
                if srv.mode == "badjson":
                    return self.send(200, b"<html>not json</html>", "text/html")
                q = urllib.parse.parse_qs(u.query)
                term = q.get("q", [""])[0]
                n = int(q.get("n", ["25"])[0])
                hits = [r for r in srv.repos if term in r["name"] or term in r["description"]]
                hits = hits[:n]
                self.send(200, {"num_results": len(hits), "query": term, "page_size": n,
                                "results": hits})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def searches(self):
        return [p for p, _ in self.requests if p.startswith("/v1/search")]

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


if __name__ == "__main__":
    s = SearchServer(sys.argv[2] if len(sys.argv) > 2 else "ok",
                     port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print("Listening on", s.addr, flush=True)
    s.httpd.serve_forever()
