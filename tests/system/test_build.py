"""berth build: system tests that build from the busybox base."""
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
import http.server
import hashlib

import pytest

from conftest import BERTH


def write(d, files):
    for name, content in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def build(b, ctx, *args, check=True, input=None):
    return b.run("build", "--progress=plain", *args, str(ctx), check=check, input=input)


def inspect(b, name):
    return json.loads(b.out("image", "inspect", name))[0]


def run_in(b, tmp_path, image, script):
    """Run a shell script in a container made from image (as a RUN step of
    a throwaway build) and return its output lines."""
    d = tmp_path / ("probe%d" % time.monotonic_ns())
    d.mkdir()
    (d / "Dockerfile").write_text("FROM %s\nRUN %s\n" % (image, script))
    p = build(b, d, "--no-cache")
    out = []
    for line in p.stderr.decode().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].startswith("#"):
            try:
                float(parts[1])
            except ValueError:
                continue
            out.append(parts[2])
    return out


def test_metadata_and_config(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": """# syntax=docker/dockerfile:1
FROM busybox
ENV A=1 B="two words"
ENV C=${A}x
LABEL org.test=yes "with space"=v
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data"]
USER nobody
WORKDIR /w
WORKDIR sub
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo triggered
MAINTAINER someone
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
"""})
    build(b, ctx, "-t", "meta:1")
    c = inspect(b, "meta:1")["Config"]
    assert c["Env"] == ["A=1", "B=two words", "C=1x"]
    assert c["Labels"] == {"org.test": "yes", "with space": "v"}
    assert set(c["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert c["Volumes"] == {"/data": {}}
    assert c["User"] == "nobody"
    assert c["WorkingDir"] == "/w/sub"
    assert c["StopSignal"] == "SIGINT"
    assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert c["Healthcheck"]["Interval"] == 5 * 10**9
    assert c["Healthcheck"]["Retries"] == 2
    assert c["Shell"] == ["/bin/sh", "-c"]
    assert c["OnBuild"] == ["RUN echo triggered"]
    assert c["Entrypoint"] == ["/bin/echo"]
    assert c["Cmd"] == ["hello"]
    assert inspect(b, "meta:1")["Author"] == "someone"
    # history: Docker's classic builder shape, metadata steps are empty layers
    hist = b.out("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "meta:1")
    lines = hist.splitlines()
    assert lines[0].startswith("/bin/sh -c #(nop)  CMD [\"hello\"]")
    assert any("#(nop)  ENV A=1 B=two words" in l for l in lines)
    # every step's image is named, down to busybox itself
    ids = b.out("history", "-q", "meta:1").split()
    assert "<missing>" not in ids and len(ids) == len(lines)
    assert ids[-1] == inspect(b, "busybox")["Id"][7:19]
    cfg = json.loads(b.out("image", "inspect", "--format", "{{json .RootFS}}", "meta:1"))
    # busybox's layer + WORKDIR /w/sub created a directory
    assert len(cfg["Layers"]) == 3  # busybox, WORKDIR /w, WORKDIR sub
    # the ONBUILD trigger runs in a child build
    child = tmp_path / "child"
    write(child, {"Dockerfile": "FROM meta:1\n"})
    p = build(b, child, "-t", "child:1")
    assert "triggered" in p.stderr.decode()
    assert inspect(b, "child:1")["Config"]["OnBuild"] is None


def test_user_workdir_entrypoint_in_container(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": "FROM busybox\nUSER nobody\nWORKDIR /home/x\n"
                              "ENTRYPOINT [\"/bin/sh\", \"-c\"]\n"})
    build(b, ctx, "-t", "uwe")
    c = inspect(b, "uwe")["Config"]
    assert (c["User"], c["WorkingDir"], c["Entrypoint"]) == ("nobody", "/home/x",
                                                            ["/bin/sh", "-c"])
    out = run_in(b, tmp_path, "uwe", "id -u; pwd")
    assert out == ["65534", "/home/x"]
    # and in a container run from the image
    p = b.run("run", "--rm", "--network", "none", "uwe", "id -u; pwd; echo $0")
    assert p.stdout.decode().split() == ["65534", "/home/x", "/bin/sh"]


def test_copy_add_dockerignore(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as t:
        data = b"inside the tar\n"
        ti = tarfile.TarInfo("pkg/readme.txt")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    write(ctx, {
        "Dockerfile": """FROM busybox
COPY . /ctx/
COPY --chmod=600 --chown=nobody:nobody a.txt /owned
COPY src/*.c /csrc/
ADD pkg.tar.gz /opt/
COPY <<EOF /etc/greeting
hello $NAME
EOF
RUN <<EOT
set -e
cd /ctx
find . -type f | sort > /listing
stat -c '%a %U' /owned >> /listing
cat /opt/pkg/readme.txt /etc/greeting >> /listing
ls /csrc >> /listing
EOT
""",
        ".dockerignore": "# comment\n*.log\nsecret/\n!keep.log\nsrc/*.o\n",
        "a.txt": "a\n", "debug.log": "x", "keep.log": "kept", "secret/key": "k",
        "src/main.c": "int main;", "src/util.c": "u", "src/main.o": "obj",
        "pkg.tar.gz": tbuf.getvalue(),
    })
    build(b, ctx, "-t", "cp", "--build-arg", "NAME=x")
    out = run_in(b, tmp_path, "cp", "cat /listing")
    files = [l for l in out if l.startswith("./")]
    assert "./a.txt" in files and "./keep.log" in files and "./src/main.c" in files
    assert "./debug.log" not in files and "./secret/key" not in files
    assert "./src/main.o" not in files
    assert "600 nobody" in out
    assert "inside the tar" in out
    assert "hello " in out  # NAME is no ARG: not expanded to a value
    assert "main.c" in out and "util.c" in out


def test_large_context_stat_cache(busybox, tmp_path):
    """A context of many files (stat'ed by two threads), a symlink and a
    nested directory; a file rewritten with the same size and mtime still
    misses (its ctime moved); one replaced by another inode is hashed again."""
    b = busybox
    ctx = tmp_path / "ctx"
    files = {"d/f%03d.txt" % i: "file %03d\n" % i for i in range(600)}
    files["d/sub/deep.txt"] = "deep\n"
    files["Dockerfile"] = """FROM busybox
COPY . /ctx/
RUN find /ctx -type f | wc -l > /count && readlink /ctx/link >> /count
"""
    write(ctx, files)
    os.symlink("d/f001.txt", ctx / "link")
    time.sleep(0.1)  # hashes of files changed within 50 ms are not kept
    build(b, ctx, "-t", "big")
    first = inspect(b, "big")["Id"]
    out = run_in(b, tmp_path, "big", "cat /count")
    assert "602" in out and "d/f001.txt" in out
    assert build(b, ctx, "-t", "big").stderr.decode().count("CACHED") == 2
    # same size, same mtime, other bytes
    p = ctx / "d/f300.txt"
    st = p.stat()
    p.write_text("FILE 300\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    err = build(b, ctx, "-t", "big").stderr.decode()
    assert 'file "d/f300.txt" changed' in err, err
    second = inspect(b, "big")["Id"]
    assert second != first
    # replaced by another inode with the first bytes and the same times:
    # hashed again, it is the first build's content (its cache entries)
    q = ctx / "d/new.tmp"
    q.write_text("file 300\n")
    os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(q, p)
    time.sleep(0.1)
    err = build(b, ctx, "-t", "big").stderr.decode()
    assert err.count("CACHED") == 2, err
    assert inspect(b, "big")["Id"] == first


def test_add_url_and_checksum(busybox, tmp_path):
    b = busybox
    www = tmp_path / "www"
    www.mkdir()
    (www / "file.txt").write_text("downloaded\n")
    digest = "sha256:" + hashlib.sha256(b"downloaded\n").hexdigest()

    class H(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        url = "http://127.0.0.1:%d/file.txt" % srv.server_address[1]
        ctx = tmp_path / "ctx"
        write(ctx, {"Dockerfile": "FROM busybox\nADD --checksum=%s %s /dl/\n"
                                  "RUN cat /dl/file.txt\n" % (digest, url)})
        p = build(b, ctx, "-t", "dl")
        assert "downloaded" in p.stderr.decode()
        bad = tmp_path / "bad"
        write(bad, {"Dockerfile": "FROM busybox\nADD --checksum=sha256:%s %s /dl/\n"
                                  % ("0" * 64, url)})
        p = build(b, bad, check=False)
        assert p.returncode != 0
        assert "Dockerfile:2" in p.stderr.decode() and "digest mismatch" in p.stderr.decode()
    finally:
        srv.shutdown()


def test_multistage_copy_from_args_target(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": """ARG BASE=busybox
ARG GLOBAL=g1
FROM ${BASE} AS builder
ARG GLOBAL
ENV STAGE=builder
RUN mkdir /out && echo "built $GLOBAL" > /out/result
FROM busybox AS unused
RUN exit 3
FROM ${BASE} AS final
ARG GLOBAL
ARG LOCAL=l1
COPY --from=builder /out/result /result
RUN echo "STAGE=${STAGE:-unset} GLOBAL=$GLOBAL LOCAL=$LOCAL" > /env
FROM final AS extra
RUN echo extra > /extra
"""})
    p = build(b, ctx, "-t", "ms", "--target", "final", "--build-arg", "LOCAL=l2")
    err = p.stderr.decode()
    assert "exit 3" not in err  # the unused stage was not built
    assert "/extra" not in err
    out = run_in(b, tmp_path, "ms", "cat /result /env; ls /extra 2>&1 || true")
    assert "built g1" in out
    assert "STAGE=unset GLOBAL=g1 LOCAL=l2" in out
    assert any("No such file" in l for l in out)
    # the whole file builds the last stage, with the unused one skipped
    build(b, ctx, "-t", "ms2")
    assert run_in(b, tmp_path, "ms2", "cat /extra") == ["extra"]
    # unknown target
    p = build(b, ctx, "--target", "nope", check=False)
    assert p.returncode != 0 and "nope" in p.stderr.decode()


def test_independent_stages_build_in_parallel(busybox, tmp_path):
    """Two stages wait for each other's marker in a shared cache mount: only
    a parallel build finishes."""
    b = busybox
    ctx = tmp_path / "ctx"
    wait = ("echo {me} > /s/{me}; i=0; while [ ! -f /s/{other} ]; do i=$((i+1)); "
            "[ $i -gt 100 ] && exit 7; sleep 0.1; done")
    write(ctx, {"Dockerfile": """FROM busybox AS a
RUN --mount=type=cache,target=/s,id=sync-{tag} {wa}
FROM busybox AS b
RUN --mount=type=cache,target=/s,id=sync-{tag} {wb}
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
""".format(tag=os.getpid(), wa=wait.format(me="a", other="b"),
           wb=wait.format(me="b", other="a"))})
    build(b, ctx, "-t", "par")


def test_cache_hits_and_misses(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": """FROM busybox
ENV X=1
COPY app /app
RUN cat /app/* > /all
CMD ["cat", "/all"]
""", "app/one": "1\n", "app/two": "2\n"})
    build(b, ctx, "-t", "c1")
    first = inspect(b, "c1")["Id"]
    p = build(b, ctx, "-t", "c1")
    err = p.stderr.decode()
    assert err.count("CACHED") == 4, err
    assert inspect(b, "c1")["Id"] == first
    # mtime-only change: still cached
    os.utime(ctx / "app/one", (1, 1))
    p = build(b, ctx, "-t", "c1")
    assert p.stderr.decode().count("CACHED") == 4
    # content change: COPY misses and says which file
    (ctx / "app/two").write_text("changed\n")
    p = build(b, ctx, "-t", "c1")
    err = p.stderr.decode()
    assert err.count("CACHED") == 1
    assert 'cache miss: file "app/two" changed' in err
    assert inspect(b, "c1")["Id"] != first
    # mode change misses too
    os.chmod(ctx / "app/one", 0o600)
    p = build(b, ctx, "-t", "c1")
    assert 'file "app/one" changed' in p.stderr.decode()
    # the cache survives: a new process, same results
    p = build(b, ctx, "-t", "c1")
    assert p.stderr.decode().count("CACHED") == 4
    # --no-cache
    p = build(b, ctx, "--no-cache", "-t", "c1")
    assert "CACHED" not in p.stderr.decode()
    # a build arg used by RUN is part of its key
    write(ctx, {"Dockerfile": "FROM busybox\nARG V=1\nRUN echo $V\n"})
    build(b, ctx)
    p = build(b, ctx, "--build-arg", "V=2")
    assert 'build arg "V" changed' in p.stderr.decode()


def test_miss_after_cached_steps_keeps_layers_and_history(busybox, tmp_path):
    """Cache hits are taken without reading each cached image; a miss after
    them must still start from the last cached image's layers, history and
    config, exactly as a build without the cache does."""
    b = busybox
    ctx = tmp_path / "ctx"
    base = """FROM busybox AS first
ENV A=1
RUN echo one > /one
MAINTAINER someone
USER nobody
WORKDIR /w
COPY f /w/f
FROM busybox
COPY --from=first /one /from-first
"""
    write(ctx, {"Dockerfile": base, "f": "content\n"})
    build(b, ctx, "-t", "h1")
    write(ctx, {"Dockerfile": base.replace(
        "COPY f /w/f\n", "COPY f /w/f\nENV B=$A-2\nRUN cat /one /w/f > /tmp/g\n")})
    p = build(b, ctx, "-t", "h2")
    err = p.stderr.decode()
    assert err.count("CACHED") == 6, err
    build(b, ctx, "--target", "first", "-t", "h2a")
    build(b, ctx, "--no-cache", "--target", "first", "-t", "h2n")
    cached, fresh = inspect(b, "h2a"), inspect(b, "h2n")
    for k in ("Env", "User", "WorkingDir", "Cmd"):
        assert cached["Config"][k] == fresh["Config"][k], k
    assert cached["Config"]["Env"][-2:] == ["A=1", "B=1-2"]
    assert cached["Author"] == fresh["Author"] == "someone"
    assert len(cached["RootFS"]["Layers"]) == len(fresh["RootFS"]["Layers"])

    def created_by(name):
        return [h["CreatedBy"] for h in json.loads(
            b.out("history", "--no-trunc", "--format", "{{json .}}", name).replace(
                "}\n{", "},{").join(["[", "]"]))]
    assert created_by("h2a") == created_by("h2n")
    out = run_in(b, tmp_path, "h2a", "cat /tmp/g")
    assert "one" in out and "content" in out
    out = run_in(b, tmp_path, "h2", "cat /from-first")
    assert "one" in out


def test_run_mount_cache_persists(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": "FROM busybox\nARG N\n"
                              "RUN --mount=type=cache,target=/cache "
                              "echo $N >> /cache/log && cat /cache/log && ls /\n"})
    build(b, ctx, "--build-arg", "N=first")
    p = build(b, ctx, "--build-arg", "N=second")
    out = p.stderr.decode()
    assert "first" in out and "second" in out
    # the mount point did not become part of the image
    img = build(b, ctx, "--build-arg", "N=third", "-t", "mc")
    assert run_in(b, tmp_path, "mc", "ls -d /cache 2>/dev/null || echo none") == ["none"]


def test_run_network_and_secret(busybox, tmp_path):
    b = busybox
    secret = tmp_path / "s.txt"
    secret.write_text("topsecret")
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --network=none ip -o link | wc -l\n"
                              "RUN --mount=type=secret,id=tok cat /run/secrets/tok\n"
                              "RUN --mount=type=tmpfs,target=/scratch touch /scratch/x\n"})
    p = build(b, ctx, "--secret", "id=tok,src=%s" % secret, "-t", "sec")
    out = p.stderr.decode()
    assert "topsecret" in out
    lines = [l.split(" ", 2)[2] for l in out.splitlines()
             if l.startswith("#") and len(l.split(" ", 2)) == 3 and l.split(" ")[2] == "1"]
    assert lines, out  # only lo in a network=none step
    assert run_in(b, tmp_path, "sec", "ls /run/secrets 2>&1; ls -d /scratch 2>&1 || true")


def test_output_local_and_tar(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": "FROM busybox AS x\nRUN echo out > /result\n"
                              "FROM scratch\nCOPY --from=x /result /r\n"})
    dest = tmp_path / "out"
    build(b, ctx, "--output", "type=local,dest=%s" % dest)
    assert (dest / "r").read_text() == "out\n"
    assert os.listdir(dest) == ["r"]
    tf = tmp_path / "out.tar"
    build(b, ctx, "-o", "type=tar,dest=%s" % tf)
    with tarfile.open(tf) as t:
        assert t.extractfile("r").read() == b"out\n"


def test_context_from_stdin_and_dockerfile_from_stdin(busybox, tmp_path):
    b = busybox
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY f /f\nRUN cat /f\n"),
                           ("f", b"from-tar\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    p = b.run("build", "--progress=plain", "-", input=buf.getvalue())
    assert "from-tar" in p.stderr.decode()
    ctx = tmp_path / "ctx"
    write(ctx, {"g": "from-dir\n"})
    p = b.run("build", "--progress=plain", "-f", "-", str(ctx),
              input=b"FROM busybox\nCOPY g /g\nRUN cat /g\n")
    assert "from-dir" in p.stderr.decode()
    # -f with another name, and its own ignore file
    write(ctx, {"other.Dockerfile": "FROM busybox\nCOPY . /c\nRUN ls /c\n",
                "other.Dockerfile.dockerignore": "g\n", "h": "h"})
    p = build(b, ctx, "-f", str(ctx / "other.Dockerfile"), "--iidfile", str(tmp_path / "iid"))
    err = p.stderr.decode()
    assert " h\n" in err and " g\n" not in err
    iid = (tmp_path / "iid").read_text()
    assert iid.startswith("sha256:") and inspect(b, iid)["Id"] == iid
    p = b.run("build", "-q", str(ctx), "-f", str(ctx / "other.Dockerfile"))
    assert p.stdout.decode().strip() == iid


@pytest.mark.parametrize("dockerfile,needle", [
    ("FROM busybox\nBOGUS x\n", "Dockerfile:2: unknown instruction: BOGUS"),
    ("FROM busybox\nRUN <<EOF\necho unterminated\n", "Dockerfile:2"),
    ("FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2"),
    ("FROM busybox\nCOPY --from=nostage /x /y\n", "Dockerfile:2"),
    ("FROM busybox\nENV A=\"unterminated\n", "Dockerfile:2"),
    ("FROM busybox\nRUN echo visible-output; exit 3\n", "exit code: 3"),
])
def test_bad_input(busybox, tmp_path, dockerfile, needle):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": dockerfile})
    p = build(b, ctx, "-t", "bad:1", check=False)
    err = p.stderr.decode()
    assert p.returncode != 0
    assert needle in err, err
    if "visible-output" in dockerfile:
        assert "visible-output" in err
    assert "bad:1" not in b.out("images")
    assert b.run("image", "inspect", "bad:1", check=False).returncode != 0


def test_kill_mid_step_then_rebuild(busybox, tmp_path):
    b = busybox
    ctx = tmp_path / "ctx"
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo started && sleep 30\n"})
    proc = subprocess.Popen(b.cmd("build", "--progress=plain", "-t", "killed", str(ctx)),
                            stderr=subprocess.PIPE)
    deadline = time.time() + 20
    seen = b""
    while time.time() < deadline and b"started" not in seen:
        seen += proc.stderr.read1(4096)
    assert b"started" in seen
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert b.run("image", "inspect", "killed", check=False).returncode != 0
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo second build\n"})
    p = build(b, ctx, "-t", "killed")
    assert "second build" in p.stderr.decode()
    assert inspect(b, "killed")["Id"].startswith("sha256:")
