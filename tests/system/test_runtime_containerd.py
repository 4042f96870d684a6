"""containerd drives `berth runtime` as its runc: Debian's containerd, started
by the test on a private socket and state dir, runs a busybox container with
`ctr run --runc-binary WRAPPER` (a script that execs `berth runtime "$@"`)."""
import glob
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import uuid

import pytest

from conftest import BERTH, require_root


def docker_archive(rootfs_tar, out, tag):
    """A docker-save layout tar made by hand: config, one layer, manifest.json."""
    with open(rootfs_tar, "rb") as f:
        layer = f.read()
    lh = hashlib.sha256(layer).hexdigest()
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/bin/sh"],
                      "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lh]},
           "history": [{"created_by": "scripts/make-busybox-rootfs.sh"}]}
    cb = json.dumps(cfg).encode()
    ch = hashlib.sha256(cb).hexdigest()
    man = [{"Config": ch + ".json", "RepoTags": [tag], "Layers": [lh + "/layer.tar"]}]
    with tarfile.open(out, "w") as t:
        for name, data in ((ch + ".json", cb), (lh + "/layer.tar", layer),
                           ("manifest.json", json.dumps(man).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


@pytest.fixture
def containerd(tmp_path):
    require_root()
    for tool in ("containerd", "ctr", "containerd-shim-runc-v2"):
        if shutil.which(tool) is None:
            pytest.fail("%s is not installed (apt-get install containerd)" % tool)
    d = tmp_path / "ctd"
    d.mkdir()
    sock = str(d / "c.sock")
    cfg = d / "config.toml"
    cfg.write_text('version = 2\nroot = "%s"\nstate = "%s"\n'
                   'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                   '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                   '[debug]\n  address = "%s"\n[metrics]\n  address = ""\n'
                   % (d / "root", d / "state", sock, sock, d / "debug.sock"))
    log = open(d / "containerd.log", "wb")
    proc = subprocess.Popen(["containerd", "--config", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    ns = "berth" + uuid.uuid4().hex[:8]

    def ctr(*args, check=True, timeout=60):
        p = subprocess.run(["ctr", "-a", sock, "-n", ns] + list(args), capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError("ctr %s: %s%s\n%s" % (" ".join(args), p.stdout.decode(),
                                                       p.stderr.decode(),
                                                       (d / "containerd.log").read_text()[-3000:]))
        return p
    try:
        for _ in range(100):
            if os.path.exists(sock) and ctr("version", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("containerd did not start: " + (d / "containerd.log").read_text())
        yield ctr, d
    finally:
        for t in ctr("task", "ls", "-q", check=False).stdout.decode().split():
            ctr("task", "kill", "-s", "KILL", t, check=False)
            time.sleep(0.2)
            ctr("task", "delete", "-f", t, check=False)
        for c in ctr("containers", "ls", "-q", check=False).stdout.decode().split():
            ctr("containers", "rm", c, check=False)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
        # containerd puts a namespace's containers under cgroup /<ns>/<id>;
        # the runtime removes <id>, nobody removes /<ns>
        for top in glob.glob("/sys/fs/cgroup/*/" + ns):
            for sub in sorted(glob.glob(top + "/**/", recursive=True), key=len, reverse=True):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def test_containerd_runs_busybox_with_berth(containerd, tmp_path, busybox_rootfs_tar):
    ctr, d = containerd
    img = tmp_path / "busybox-image.tar"
    tag = "docker.io/berthtest/busybox:latest"
    docker_archive(busybox_rootfs_tar, str(img), tag)
    ctr("images", "import", str(img))
    wrapper = d / "berth-runc"
    log = d / "wrapper.log"
    wrapper.write_text('#!/bin/sh\necho "$*" >> %s\nexec %s runtime "$@"\n' % (log, BERTH))
    wrapper.chmod(0o755)
    p = ctr("run", "--rm", "--runc-binary", str(wrapper), tag, "c1",
            "sh", "-c", "echo hello-from-berth; grep NoNewPrivs /proc/self/status; sleep 0.5; exit 3",
            check=False)
    assert p.returncode == 3, p.stderr
    assert b"hello-from-berth" in p.stdout
    calls = log.read_text()
    assert " create " in calls and " start " in calls and " delete " in calls
    # a longer-lived task: exec, pause/resume, kill
    ctr("run", "-d", "--runc-binary", str(wrapper), tag, "c2", "sleep", "100")
    # (a pause after printing: containerd itself can lose the output of a
    # process that exits right after writing it, with runc too)
    p = ctr("task", "exec", "--exec-id", "e1", "c2", "sh", "-c",
            "echo exec-ok; sleep 0.5; exit 4", check=False)
    assert p.returncode == 4 and b"exec-ok" in p.stdout
    ctr("task", "pause", "c2")
    assert b"PAUSED" in ctr("task", "ls").stdout
    ctr("task", "resume", "c2")
    assert b"RUNNING" in ctr("task", "ls").stdout
    ctr("task", "kill", "-s", "KILL", "c2")
    for _ in range(100):
        if b"STOPPED" in ctr("task", "ls").stdout:
            break
        time.sleep(0.05)
    assert b"STOPPED" in ctr("task", "ls").stdout
    ctr("task", "delete", "c2")
    ctr("containers", "rm", "c2")
