"""berth import from a file, stdin and a URL (Docker's daemon downloads the
URL; here a local HTTP server on 127.0.0.1 serves it), with every --change
instruction Docker's import accepts and -m."""
import functools
import gzip
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading

import pytest


@pytest.fixture
def http_dir(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 (a free port) for the test's duration;
    /redirect/NAME answers 302 to /NAME. Yields (base URL, directory)."""
    www = tmp_path / "www"
    www.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", self.path[len("/redirect"):])
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Handler, directory=str(www)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % srv.server_address[1], www
    finally:
        srv.shutdown()
        srv.server_close()


def store_state(b):
    return (b.out("images", "-a", "--no-trunc", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"),
            sorted(os.listdir(os.path.join(b.root, "blobs", "sha256"))),
            sorted(os.listdir(os.path.join(b.root, "layers"))))


def diff_id(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


def test_import_from_url(berth, busybox_rootfs_tar, http_dir):
    base, www = http_dir
    data = open(busybox_rootfs_tar, "rb").read()
    (www / "rootfs.tar").write_bytes(data)
    (www / "rootfs.tar.gz").write_bytes(gzip.compress(data))
    url = base + "/rootfs.tar"
    out = berth.out("import", "-c", 'CMD ["/bin/sh"]', url, "fromurl:1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    img = json.loads(berth.out("image", "inspect", "fromurl:1"))[0]
    assert img["Id"] == out.strip()
    assert img["Comment"] == "Imported from " + url
    assert img["Config"]["Cmd"] == ["/bin/sh"]
    assert img["RootFS"]["Layers"] == [diff_id(busybox_rootfs_tar)]
    up = img["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isfile(os.path.join(up, "bin", "busybox"))
    hist = berth.out("history", "--format", "{{.Comment}}", "fromurl:1")
    assert hist == "Imported from %s\n" % url
    # a compressed archive, through a redirect, with -m
    out = berth.out("import", "-m", "zipped", base + "/redirect/rootfs.tar.gz", "fromurl:2")
    img2 = json.loads(berth.out("image", "inspect", "fromurl:2"))[0]
    assert img2["Comment"] == "zipped"
    assert img2["RootFS"]["Layers"] == img["RootFS"]["Layers"]
    # nothing left behind in staging
    assert os.listdir(os.path.join(berth.root, "tmp")) == []


def test_import_url_errors_leave_store_unchanged(berth, busybox_rootfs_tar, http_dir):
    base, www = http_dir
    berth.run("import", busybox_rootfs_tar, "keep:1")
    before = store_state(berth)
    (www / "junk.tar").write_bytes(b"not a tar archive at all\n" * 200)
    # a port with nothing listening: bind one, close it, use it
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d/x.tar" % s.getsockname()[1]
    s.close()
    for url, msg in ((base + "/missing.tar", "failed to GET %s/missing.tar with status 404"
                      % base),
                     (base + "/junk.tar", "importing " + base + "/junk.tar"),
                     (dead, 'Get "%s": ' % dead)):
        p = berth.run("import", url, "bad:1", check=False)
        err = p.stderr.decode()
        assert p.returncode == 125, (url, err)
        assert err.startswith("Error: ") and msg in err, (url, err)
        assert len(err.strip().splitlines()) == 1, err
        assert p.stdout == b""
        assert store_state(berth) == before, url
        assert os.listdir(os.path.join(berth.root, "tmp")) == []


def test_import_stdin_and_file_same_layer(berth, busybox_rootfs_tar):
    data = open(busybox_rootfs_tar, "rb").read()
    a = berth.out("import", "-", "stdin:1", input=data).strip()
    b = berth.out("import", busybox_rootfs_tar, "file:1").strip()
    ia = json.loads(berth.out("image", "inspect", "stdin:1"))[0]
    ib = json.loads(berth.out("image", "inspect", "file:1"))[0]
    assert ia["Id"] == a and ib["Id"] == b
    assert ia["Comment"] == ib["Comment"] == "Imported from -"
    assert ia["RootFS"] == ib["RootFS"] == {"Type": "layers",
                                            "Layers": [diff_id(busybox_rootfs_tar)]}
    # one layer on disk for both
    assert len(os.listdir(os.path.join(berth.root, "layers"))) == 1
    # gzip and zstd streams on stdin too
    for comp in (["gzip", "-c"], ["zstd", "-c", "-q"]):
        z = subprocess.run(comp, input=data, capture_output=True, check=True).stdout
        berth.out("import", "-", "zipped:" + comp[0], input=z)
        iz = json.loads(berth.out("image", "inspect", "zipped:" + comp[0]))[0]
        assert iz["RootFS"] == ia["RootFS"], comp
    # stdin that is not a tar is refused
    p = berth.run("import", "-", input=b"garbage" * 300, check=False)
    assert p.returncode == 125 and p.stderr.startswith(b"Error: ")


CHANGES = [
    ("CMD echo hi", "Cmd", ["/bin/sh", "-c", "echo hi"]),
    ('CMD ["/bin/echo", "a b"]', "Cmd", ["/bin/echo", "a b"]),
    ("ENTRYPOINT /bin/top -b", "Entrypoint", ["/bin/sh", "-c", "/bin/top -b"]),
    ('ENTRYPOINT ["/bin/sh"]', "Entrypoint", ["/bin/sh"]),
    ("ENV PATH=/bin FOO=bar", "Env", ["PATH=/bin", "FOO=bar"]),
    ("ENV SINGLE one two", "Env", ["SINGLE=one two"]),
    ('ENV Q="quoted value"', "Env", ["Q=quoted value"]),
    ("WORKDIR /app", "WorkingDir", "/app"),
    ("EXPOSE 80 443/tcp 53/udp", "ExposedPorts", {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}),
    ("USER 1000:1000", "User", "1000:1000"),
    ("USER nobody", "User", "nobody"),
    ('LABEL a=b "c d"="e f"', "Labels", {"a": "b", "c d": "e f"}),
    ("LABEL single value", "Labels", {"single": "value"}),
    ('VOLUME ["/data", "/logs"]', "Volumes", {"/data": {}, "/logs": {}}),
    ("VOLUME /v1 /v2", "Volumes", {"/v1": {}, "/v2": {}}),
    ("STOPSIGNAL SIGKILL", "StopSignal", "SIGKILL"),
    ("ONBUILD RUN echo x", "OnBuild", ["RUN echo x"]),
    ("HEALTHCHECK NONE", "Healthcheck", {"Test": ["NONE"]}),
    ("HEALTHCHECK CMD wget -q localhost", "Healthcheck",
     {"Test": ["CMD-SHELL", "wget -q localhost"]}),
    ('HEALTHCHECK --interval=5s --timeout=2s --start-period=1m --retries=3 CMD ["true"]',
     "Healthcheck", {"Test": ["CMD", "true"], "Interval": 5000000000, "Timeout": 2000000000,
                     "StartPeriod": 60000000000, "Retries": 3}),
]


@pytest.mark.parametrize("change,field,want", CHANGES, ids=[c[0] for c in CHANGES])
def test_import_change_each_instruction(berth, busybox_rootfs_tar, change, field, want):
    berth.run("import", "-c", change, busybox_rootfs_tar, "chg:1")
    cfg = json.loads(berth.out("image", "inspect", "chg:1"))[0]["Config"]
    assert cfg[field] == want, cfg
    # the change shows in the same place through a template, too
    got = json.loads(berth.out("image", "inspect", "-f", "{{json .Config.%s}}" % field,
                               "chg:1"))
    assert got == want


def test_import_changes_combine_and_refusals(berth, busybox_rootfs_tar):
    iid = berth.out("import", "--change", "ENV A=1", "--change", "ENV B=2",
                    "--change", "ENV A=3", "-c", "EXPOSE 80", "-c", "EXPOSE 81",
                    "--message=two words", busybox_rootfs_tar, "multi:1").strip()
    img = json.loads(berth.out("image", "inspect", "multi:1"))[0]
    assert img["Id"] == iid
    assert img["Config"]["Env"] == ["A=3", "B=2"]
    assert img["Config"]["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}}
    assert img["Comment"] == "two words"
    before = store_state(berth)
    # Docker's import accepts only these instructions
    for bad in ("RUN echo x", "COPY a b", "ADD a b", "FROM busybox", "FROB x",
                "SHELL [\"/bin/bash\"]", "ENV", "EXPOSE notaport", "HEALTHCHECK",
                "HEALTHCHECK NONE x", "HEALTHCHECK CMD", "HEALTHCHECK EXEC true",
                "HEALTHCHECK --interval=1us CMD true", "HEALTHCHECK --bogus=1 CMD true",
                "HEALTHCHECK --retries=x CMD true", "HEALTHCHECK --interval=5 CMD true"):
        p = berth.run("import", "-c", bad, busybox_rootfs_tar, "bad:1", check=False)
        err = p.stderr.decode()
        assert p.returncode == 125, (bad, err)
        assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, (bad, err)
        assert store_state(berth) == before, bad
