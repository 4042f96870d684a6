"""Helpers for the registry tests: berth's registry server and Debian's
docker-registry started on 127.0.0.1 with free ports, a test CA made with
the openssl CLI, and a small HTTP client for raw protocol requests."""
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

from conftest import BERTH


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def client_env(tmp_path):
    """Environment for the berth client with a private HOME (credentials)
    and an empty certs.d, so no user or host setting leaks into a test."""
    home = tmp_path / "home"
    home.mkdir()
    certs = tmp_path / "certs.d"
    certs.mkdir()
    e = dict(os.environ)
    e["HOME"] = str(home)
    e.pop("XDG_CONFIG_HOME", None)
    e.pop("DOCKER_CONFIG", None)
    e["BERTH_CERTS_DIR"] = str(certs)
    return e


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on 127.0.0.1:%d" % port)


class BerthRegistry:
    """`berth registry serve` on 127.0.0.1 with a port of its own choosing."""

    def __init__(self, root, *args):
        self.root = str(root)
        self.args = [str(a) for a in args]
        self.proc = None
        self.addr = None

    def start(self):
        self.proc = subprocess.Popen(
            [BERTH, "registry", "serve", "--addr", "127.0.0.1:0", "--root", self.root] + self.args,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("Listening on "):
            self.proc.kill()
            raise AssertionError("registry serve failed: %r %s" % (
                line, self.proc.stderr.read().decode(errors="replace")))
        self.addr = line.split()[2]
        self.port = int(self.addr.rsplit(":", 1)[1])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class DockerRegistry:
    """Debian's docker-registry (the distribution registry) with a config
    file written here; never the system service."""

    def __init__(self, tmp, htpasswd=None, cert=None, key=None):
        self.tmp = str(tmp)
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        os.makedirs(os.path.join(self.tmp, "data"), exist_ok=True)
        cfg = ["version: 0.1", "log:", "  level: error", "storage:",
               "  filesystem:", "    rootdirectory: %s/data" % self.tmp,
               "  delete:", "    enabled: true",
               "http:", "  addr: 127.0.0.1:%d" % self.port]
        if cert:
            cfg += ["  tls:", "    certificate: %s" % cert, "    key: %s" % key]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: test", "    path: %s" % htpasswd]
        self.config = os.path.join(self.tmp, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", self.config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port)
        except AssertionError:
            self.proc.kill()
            raise AssertionError("docker-registry did not start: %s" %
                                 self.proc.stderr.read().decode(errors="replace"))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


def make_ca(d, names=("127.0.0.1",)):
    """A CA and a server certificate for 127.0.0.1/localhost, made with the
    openssl CLI. Returns (ca.crt, server.crt, server.key)."""
    d = str(d)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "ext.cnf")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
        "-out", ca_crt, "-days", "2", "-subj", "/CN=berth test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


class Client:
    """Raw HTTP requests to a registry (keep-alive connection)."""

    def __init__(self, addr, auth=None, cafile=None):
        host, port = addr.rsplit(":", 1)
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
            self.conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
        else:
            self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.auth = auth

    def req(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.auth:
            import base64
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % self.auth).encode()).decode()
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def error_code(self, data):
        return json.loads(data)["errors"][0]["code"]

    def push_blob(self, name, data):
        d = sha256(data)
        st, h, _ = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (name, d), body=data)
        assert st == 201, st
        return d

    def close(self):
        self.conn.close()


class Proxy:
    """A registry in front of another one (HTTP on 127.0.0.1), written for
    the tests: a bearer-token flow with its own token endpoint, a byte
    flipped in one blob, or a blob download cut off half-way.

    mode: "pass", "token", "corrupt", "cut" (first download of `blob` stops
    half-way, later ones are served), "die" (every download of `blob` stops
    half-way)."""

    def __init__(self, backend, mode="pass", blob=None, users=None, token_uses=1000,
                 token_life=300, token_issued_ago=None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.backend = backend
        self.mode = mode
        self.blob = blob
        self.users = users or {}
        self.token_uses = token_uses
        self.token_life = token_life  # expires_in of the tokens handed out
        self.token_issued_ago = token_issued_ago  # seconds; sends issued_at when set
        self.unauthorized = 0  # 401 answers given for want of a token
        self.tokens = {}  # token -> [scope, uses left]
        self.token_requests = []  # (scope list, user)
        self.blob_requests = []  # Range headers seen for `blob`
        self.requests = []  # (method, path without the query) of every request
        self.lock = threading.Lock()
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length", "0") or 0)
                return self.rfile.read(n) if n else b""

            def reply(self, status, headers, body=b""):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_token(self):
                from urllib.parse import parse_qs, urlparse
                import base64
                q = parse_qs(urlparse(self.path).query)
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if proxy.users.get(u) != p:
                        return self.reply(401, [], b'{"details":"bad credentials"}')
                    user = u
                scopes = q.get("scope", [])
                with proxy.lock:
                    proxy.token_requests.append((scopes, user))
                    tok = "tok%d" % len(proxy.token_requests)
                    proxy.tokens[tok] = [scopes, proxy.token_uses, user]
                ans = {"token": tok, "expires_in": proxy.token_life}
                if proxy.token_issued_ago is not None:
                    import datetime
                    at = datetime.datetime.now(datetime.timezone.utc) - \
                        datetime.timedelta(seconds=proxy.token_issued_ago)
                    ans["issued_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
                body = json.dumps(ans).encode()
                self.reply(200, [("Content-Type", "application/json")], body)

            def check_token(self):
                """None if allowed, else the scope to ask for."""
                parts = self.path.split("?")[0].split("/")
                name = None
                for kw in ("manifests", "blobs", "tags", "referrers"):
                    if kw in parts[2:]:
                        name = "/".join(parts[2:parts.index(kw, 2)])
                        break
                action = "pull" if self.command in ("GET", "HEAD") else "pull,push"
                want = "repository:%s:%s" % (name, action) if name else None
                auth = self.headers.get("Authorization", "")
                with proxy.lock:
                    t = proxy.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
                    if t and t[1] > 0:
                        granted = " ".join(t[0])
                        if want is None or all(
                                ("repository:%s:%s" % (name, a)) in granted or
                                ("repository:%s:pull,push" % name) in granted
                                for a in action.split(",")):
                            t[1] -= 1
                            return None
                return want or ""

            def forward(self):
                with proxy.lock:
                    proxy.requests.append((self.command, self.path.split("?")[0]))
                if self.path.startswith("/token"):
                    return self.handle_token()
                if proxy.mode == "token":
                    want = self.check_token()
                    if want is not None:
                        with proxy.lock:
                            proxy.unauthorized += 1
                        self.body()
                        ch = 'Bearer realm="http://%s/token",service="test-registry"' % proxy.addr
                        if want:
                            ch += ',scope="%s"' % want
                        return self.reply(401, [("WWW-Authenticate", ch),
                                                ("Content-Type", "application/json")],
                                          b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
                data = self.body()
                host, port = proxy.backend.rsplit(":", 1)
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "connection", "transfer-encoding",
                                             "content-length", "authorization")}
                if data or self.command in ("PUT", "POST", "PATCH"):
                    hdrs["Content-Length"] = str(len(data))
                conn.request(self.command, self.path, body=data, headers=hdrs)
                r = conn.getresponse()
                rbody = r.read()
                conn.close()
                headers = [(k, v) for k, v in r.getheaders()
                           if k.lower() not in ("transfer-encoding", "connection",
                                                "content-length")]
                is_blob = (proxy.blob and self.command == "GET" and
                           self.path.split("?")[0].endswith("/blobs/" + proxy.blob))
                if is_blob:
                    with proxy.lock:
                        proxy.blob_requests.append(self.headers.get("Range"))
                        first = len(proxy.blob_requests) == 1
                    if proxy.mode == "corrupt" and rbody:
                        b = bytearray(rbody)
                        b[len(b) // 2] ^= 0xFF
                        rbody = bytes(b)
                    elif (proxy.mode == "cut" and first) or proxy.mode == "die":
                        self.send_response(r.status)
                        for k, v in headers:
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(len(rbody)))
                        self.end_headers()
                        self.wfile.write(rbody[:len(rbody) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        import socket as _s
                        self.connection.shutdown(_s.SHUT_RDWR)
                        return
                self.reply(r.status, headers, rbody)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()
