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
