"""berth pull/push/login against berth's own registry server in every auth
mode (none, htpasswd basic, TLS with a test CA, TLS + basic) and against
Debian's docker-registry (the distribution registry)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import require_root
from regutil import BerthRegistry, Client, DockerRegistry, client_env, make_ca, sha256


@pytest.fixture
def env(tmp_path):
    return client_env(tmp_path)


def roundtrip(berth, env, addr, repo="bb", run_image=True):
    """tag busybox → push → remove → pull → same image ID and digest."""
    name = "%s/%s:v1" % (addr, repo)
    berth.run("tag", "busybox:latest", name)
    p = berth.run("push", name, env=env)
    out = p.stdout.decode()
    assert "The push refers to repository [%s/%s]" % (addr, repo) in out
    line = [l for l in out.splitlines() if l.startswith("v1: digest: ")][0]
    digest = line.split()[2]
    size = int(line.split()[4])
    local_id = berth.out("image", "inspect", "--format", "{{.Id}}", name).strip()
    berth.run("rmi", name)
    berth.run("rmi", "busybox:latest")
    p = berth.run("pull", name, env=env)
    out = p.stdout.decode()
    assert "Digest: " + digest in out, out
    assert "Status: Downloaded newer image for " + name in out
    assert out.rstrip().endswith(name)
    assert berth.out("image", "inspect", "--format", "{{.Id}}", name).strip() == local_id
    digests = json.loads(berth.out("image", "inspect", "--format", "{{json .RepoDigests}}",
                                   name))
    assert "%s/%s@%s" % (addr, repo, digest) in digests
    if run_image:
        p = berth.run("run", "--rm", name, "echo", "hello-from-pulled", check=False)
        if b"not implemented" not in p.stderr:
            assert p.returncode == 0 and b"hello-from-pulled" in p.stdout, p.stderr
    return digest, size


def test_push_pull_berth_server_anonymous(busybox, env, tmp_path):
    with BerthRegistry(tmp_path / "reg") as reg:
        digest, size = roundtrip(busybox, env, reg.addr)
        # the registry holds exactly what berth says it pushed
        st, h, body = Client(reg.addr).req("GET", "/v2/bb/manifests/v1")
        assert st == 200 and sha256(body) == digest and len(body) == size
        # pulled and pushed back: byte-identical, layers mounted or present
        busybox.run("tag", "%s/bb:v1" % reg.addr, "%s/copy:v2" % reg.addr)
        out = busybox.out("push", "%s/copy:v2" % reg.addr, env=env)
        assert "Mounted from bb" in out, out
        assert "v2: digest: %s size: %d" % (digest, size) in out
        st, h, body2 = Client(reg.addr).req("GET", "/v2/copy/manifests/v2")
        assert body2 == body
        # pulling again changes nothing
        out = busybox.out("pull", "%s/bb:v1" % reg.addr, env=env)
        assert "Status: Image is up to date for %s/bb:v1" % reg.addr in out
        assert "Already exists" in out
        # by digest, quiet
        out = busybox.out("pull", "-q", "%s/bb@%s" % (reg.addr, digest), env=env)
        assert out == "%s/bb@%s\n" % (reg.addr, digest)
        # unknown tag: a clean error, exit 1
        p = busybox.run("pull", "%s/bb:nope" % reg.addr, env=env, check=False)
        assert p.returncode == 1 and b"not found" in p.stderr, p.stderr


def test_push_chunked_and_all_tags(busybox, env, tmp_path):
    with BerthRegistry(tmp_path / "reg") as reg:
        for t in ("a", "b"):
            busybox.run("tag", "busybox:latest", "%s/multi:%s" % (reg.addr, t))
        out = busybox.out("push", "-a", "--chunk-size", "100000", "%s/multi" % reg.addr,
                          env=env)
        assert "a: digest: " in out and "b: digest: " in out, out
        st, _, body = Client(reg.addr).req("GET", "/v2/multi/tags/list")
        assert json.loads(body)["tags"] == ["a", "b"]
        busybox.run("rmi", "%s/multi:a" % reg.addr, "%s/multi:b" % reg.addr)
        out = busybox.out("pull", "-a", "%s/multi" % reg.addr, env=env)
        assert "a: Pulling from multi" in out and "b: Pulling from multi" in out
        names = busybox.out("images", "--format", "{{.Repository}}:{{.Tag}}")
        assert "%s/multi:a" % reg.addr in names and "%s/multi:b" % reg.addr in names


def test_login_basic_auth_berth_server(busybox, env, tmp_path):
    ht = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(ht), "alice", "s3cret"], check=True,
                   capture_output=True)
    with BerthRegistry(tmp_path / "reg", "--htpasswd", ht) as reg:
        busybox.run("tag", "busybox:latest", "%s/bb:v1" % reg.addr)
        p = busybox.run("push", "%s/bb:v1" % reg.addr, env=env, check=False)
        assert p.returncode != 0 and b"unauthorized" in p.stderr.lower(), p.stderr
        p = busybox.run("login", "-u", "alice", "-p", "wrong", reg.addr, env=env, check=False)
        assert p.returncode == 1 and b"incorrect username or password" in p.stderr
        p = busybox.run("login", "-u", "alice", "--password-stdin", reg.addr, env=env,
                        input=b"s3cret\n")
        assert b"Login Succeeded" in p.stdout
        auth = os.path.join(env["HOME"], ".config", "berth", "auth.json")
        assert oct(os.stat(auth).st_mode & 0o777) == "0o600"
        assert reg.addr in json.load(open(auth))["auths"]
        roundtrip(busybox, env, reg.addr, run_image=False)
        out = busybox.out("logout", reg.addr, env=env)
        assert "Removing login credentials for %s" % reg.addr in out
        p = busybox.run("pull", "%s/bb:v1" % reg.addr, env=env, check=False)
        assert p.returncode != 0
        # Docker's config.json is read too
        dc = os.path.join(env["HOME"], ".docker")
        os.makedirs(dc)
        import base64
        with open(os.path.join(dc, "config.json"), "w") as f:
            json.dump({"auths": {"http://%s/v2/" % reg.addr: {
                "auth": base64.b64encode(b"alice:s3cret").decode()}}}, f)
        busybox.run("pull", "%s/bb:v1" % reg.addr, env=env)


def test_tls_with_test_ca(busybox, env, tmp_path):
    ca, crt, key = make_ca(tmp_path)
    ht = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(ht), "bob", "pw"], check=True,
                   capture_output=True)
    with BerthRegistry(tmp_path / "reg", "--tls-cert", crt, "--tls-key", key,
                       "--htpasswd", ht) as reg:
        d = os.path.join(env["BERTH_CERTS_DIR"], reg.addr)
        os.makedirs(d)
        # a CA that did not sign the server's certificate: refused
        (tmp_path / "other").mkdir()
        other_ca, _, _ = make_ca(tmp_path / "other")
        shutil.copy(other_ca, os.path.join(d, "ca.crt"))
        p = busybox.run("login", "-u", "bob", "-p", "pw", reg.addr, env=env, check=False)
        assert p.returncode != 0 and b"certificate" in p.stderr, p.stderr
        shutil.copy(ca, os.path.join(d, "ca.crt"))
        busybox.run("login", "-u", "bob", "-p", "pw", reg.addr, env=env)
        roundtrip(busybox, env, reg.addr, run_image=False)


def docker_registry_roundtrip(busybox, env, tmp_path, htpasswd=None, tls=False):
    cert = key = None
    if tls:
        ca, cert, key = make_ca(tmp_path)
    with DockerRegistry(tmp_path / "dreg", htpasswd=htpasswd, cert=cert, key=key) as reg:
        if tls:
            d = os.path.join(env["BERTH_CERTS_DIR"], reg.addr)
            os.makedirs(d)
            shutil.copy(ca, os.path.join(d, "ca.crt"))
        if htpasswd:
            busybox.run("login", "-u", "carol", "--password-stdin", reg.addr, env=env,
                        input=b"pw\n")
        digest, size = roundtrip(busybox, env, reg.addr)
        # skopeo agrees on the digest
        args = ["skopeo", "inspect", "--raw"]
        if htpasswd:
            args += ["--creds", "carol:pw"]
        if tls:
            args += ["--cert-dir", os.path.join(env["BERTH_CERTS_DIR"], reg.addr)]
        else:
            args += ["--tls-verify=false"]
        raw = subprocess.run(args + ["docker://%s/bb:v1" % reg.addr], capture_output=True,
                             check=True).stdout
        assert sha256(raw) == digest


def test_docker_registry_anonymous(busybox, env, tmp_path):
    docker_registry_roundtrip(busybox, env, tmp_path)


def test_docker_registry_htpasswd(busybox, env, tmp_path):
    ht = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(ht), "carol", "pw"], check=True,
                   capture_output=True)
    docker_registry_roundtrip(busybox, env, tmp_path, htpasswd=str(ht))


def test_docker_registry_tls(busybox, env, tmp_path):
    docker_registry_roundtrip(busybox, env, tmp_path, tls=True)


def test_registry_mirror_for_docker_hub(busybox, env, tmp_path):
    """registry-mirrors from berth's config serve docker.io pulls."""
    with BerthRegistry(tmp_path / "mirror") as reg:
        busybox.run("tag", "busybox:latest", "%s/library/busybox:latest" % reg.addr)
        busybox.run("push", "%s/library/busybox:latest" % reg.addr, env=env)
        busybox.run("rmi", "%s/library/busybox:latest" % reg.addr, "busybox:latest")
        cfg = tmp_path / "berth.json"
        cfg.write_text(json.dumps({"registry-mirrors": ["http://%s" % reg.addr]}))
        e = dict(env)
        e["BERTH_CONFIG"] = str(cfg)
        p = busybox.run("pull", "busybox", env=e)
        out = p.stdout.decode()
        assert "Using default tag: latest" in out
        assert "latest: Pulling from library/busybox" in out
        assert out.rstrip().endswith("docker.io/library/busybox:latest")
        names = busybox.out("images", "--format", "{{.Repository}}:{{.Tag}}")
        assert "busybox:latest" in names.split()


def test_bodyless_401_reads_unauthorized(busybox, env):
    """A 401 without an error body (every HEAD, terse servers) reads as the
    spec's 'unauthorized', not a bare status; which request of a parallel
    push fails first must not change the message."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _refuse

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        addr = "127.0.0.1:%d" % srv.server_port
        busybox.run("tag", "busybox:latest", "%s/bb:v1" % addr)
        for cmd in (["push", "%s/bb:v1" % addr], ["pull", "%s/other:v1" % addr]):
            p = busybox.run(*cmd, env=env, check=False)
            assert p.returncode == 1, p.stderr
            err = p.stderr.decode()
            assert "unauthorized: authentication required" in err and "HTTP 401" not in err, err
    finally:
        srv.shutdown()
        srv.server_close()
