"""Crash safety and concurrency of the store: kill -9 during load, parallel
load/tag/rmi on one root; afterwards the store must be consistent."""
import fcntl
import glob
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import tarfile
import time

import pytest

from conftest import FIXTURES, Berth
from storeutil import blob_names, split_bytes


def check_consistent(root):
    """No blob whose content does not match its name; no record pointing at
    a missing blob or layer."""
    blobs = os.path.join(root, "blobs", "sha256")
    for name in os.listdir(blobs):
        h = hashlib.sha256()
        with open(os.path.join(blobs, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == name, "blob %s has wrong content" % name
    splits = os.path.join(root, "blobs", "tarsplit")
    for name in os.listdir(splits) if os.path.isdir(splits) else []:
        data = split_bytes(root, name)
        assert hashlib.sha256(data).hexdigest() == name, "tar-split %s gives other bytes" % name
    stored = blob_names(root)
    db = sqlite3.connect(os.path.join(root, "berth.db"))
    try:
        for (iid,) in db.execute("SELECT id FROM images"):
            assert os.path.isfile(os.path.join(blobs, iid[7:])), "config blob of %s" % iid
        for chain, diff, ref in db.execute("SELECT chain_id, diff_id, refcount FROM layers"):
            assert os.path.isdir(os.path.join(root, "layers", chain[7:], "diff")), chain
            assert diff[7:] in stored, diff
            n = db.execute("SELECT COUNT(*) FROM image_layers WHERE chain_id=?", (chain,)).fetchone()[0]
            assert n == ref, "refcount of %s: %d != %d" % (chain, ref, n)
        for (chain,) in db.execute("SELECT chain_id FROM image_layers"):
            assert db.execute("SELECT 1 FROM layers WHERE chain_id=?", (chain,)).fetchone(), chain
        for (iid,) in db.execute("SELECT image_id FROM tags"):
            assert db.execute("SELECT 1 FROM images WHERE id=?", (iid,)).fetchone(), iid
    finally:
        db.close()


def make_big_image(path, size):
    """A docker-save archive with one layer holding `size` random bytes."""
    payload = os.urandom(size)
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("big.bin")
        ti.size = len(payload)
        t.addfile(ti, io.BytesIO(payload))
        ti = tarfile.TarInfo("etc/hello")
        ti.size = 3
        t.addfile(ti, io.BytesIO(b"hi\n"))
    layer = lbuf.getvalue()
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "config": {"Cmd": ["/bin/sh"]},
                      "created": "2026-11-28T00:00:00Z", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    with tarfile.open(path, "w") as t:
        for name, data in (("abc/layer.tar", layer), (cid + ".json", cfg),
                           ("manifest.json", json.dumps([{"Config": cid + ".json",
                                                          "RepoTags": ["big:1"],
                                                          "Layers": ["abc/layer.tar"]}]).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return "sha256:" + cid


def _staged_size(root, name):
    """Size of `name` in a load's staged layer (0 while there is none)."""
    for p in glob.glob(os.path.join(root, "tmp", "stage-*", "layer-*", "diff", name)):
        try:
            return os.path.getsize(p)
        except OSError:
            pass
    return 0


def _check_after_kill(berth):
    # the next command works and cleans the dead process's staging
    out = berth.out("images", "--format", "{{.Repository}}")
    assert "busybox" in out
    assert os.listdir(os.path.join(berth.root, "tmp")) == []
    check_consistent(berth.root)
    if "big" in out.split():
        berth.run("rmi", "big:1")
        check_consistent(berth.root)


def kill_under_store_lock(berth, args, what, reached, env=None):
    """Run berth ARGS while holding the store lock (it cannot commit
    without it) and SIGKILL it once reached(pid) is true, or once it waits
    for the lock: a kill mid-way, always."""
    lock = os.path.join(berth.runroot, "store.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    p = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = subprocess.Popen(berth.cmd(*args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while not reached(p.pid) and not _waiting_for_lock(p.pid):
            assert p.poll() is None, (what, p.communicate())
            assert time.monotonic() < deadline, "%s never got to: %s" % (args[0], what)
            time.sleep(0.002)
        p.send_signal(signal.SIGKILL)
        p.communicate()
    finally:
        os.close(fd)
        if p and p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL, what


def test_kill_during_load(berth, tmp_path):
    """kill -9 of a load at any point leaves a consistent store, and the
    next command removes what it staged. The kills while it unpacks and
    stages are made certain by holding the store lock (a load cannot
    commit without it): right after it made its staging directory, half-way
    through the big file, and waiting for the lock with everything staged.
    The kills in the commit and after it are at exact syscalls (strace)."""
    size = 20 * 1000 * 1000
    archive = tmp_path / "big.tar"
    iid = make_big_image(str(archive), size)
    berth.run("load", "-i", os.path.join(FIXTURES, "busybox-docker-save.tar"))
    stages = {
        "staging made": lambda pid: os.listdir(os.path.join(berth.root, "tmp")) != [],
        "half unpacked": lambda pid: _staged_size(berth.root, "big.bin") >= size // 2,
        "all staged": _waiting_for_lock,
    }
    for what, reached in stages.items():
        kill_under_store_lock(berth, ["load", "-i", archive], what, reached)
        _check_after_kill(berth)
    # Kills in and after the commit, at exact points: strace sends SIGKILL
    # on entry to the n-th call of a syscall: each rename (into staging and
    # into place), each flock (staging, store lock, unlock after the
    # commit), for n = 1, 2, ... until a load runs to its end; and the first
    # database write after the last rename (all in place, nothing recorded).
    # A small archive keeps each run short.
    small = tmp_path / "small.tar"
    make_big_image(str(small), 300 * 1000)
    trace = tmp_path / "trace"
    subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=renameat,pwrite64"] +
                   berth.cmd("load", "-i", small), check=True, capture_output=True, timeout=120)
    calls = [ln.split()[1].split("(")[0] for ln in trace.read_text().splitlines()]
    last_rename = len(calls) - 1 - calls[::-1].index("renameat")
    writes_before = calls[:last_rename].count("pwrite64")
    assert "pwrite64" in calls[last_rename:], calls
    berth.run("rmi", "big:1")
    points = [("renameat", n) for n in range(1, 40)] + [("pwrite64", writes_before + 1)]
    points += [("flock", n) for n in range(1, 40)]
    done = set()
    for syscall, n in points:
        if syscall in done:
            continue
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + syscall,
                            "-e", "inject=%s:signal=SIGKILL:when=%d" % (syscall, n)] +
                           berth.cmd("load", "-i", small), capture_output=True, timeout=120)
        _check_after_kill(berth)
        if p.returncode == 0 and syscall != "pwrite64":
            done.add(syscall)  # fewer calls than n: ran to its end
            continue
        assert p.returncode == -signal.SIGKILL, (syscall, n, p.stderr)
    assert done == {"renameat", "flock"}, "a load made 40 renames or flocks?"
    # and rmi, killed at each rename: the first moves the layer out after
    # the commit that dropped its record, before its blobs are removed
    for n in range(1, 40):
        if "big" not in berth.out("images", "--format", "{{.Repository}}").split():
            berth.run("load", "-i", small)
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=renameat",
                            "-e", "inject=renameat:signal=SIGKILL:when=%d" % n] +
                           berth.cmd("rmi", "big:1"), capture_output=True, timeout=120)
        _check_after_kill(berth)
        if p.returncode == 0:
            break
        assert p.returncode == -signal.SIGKILL, (n, p.stderr)
    else:
        pytest.fail("rmi made 40 renames?")
    assert berth.out("load", "-i", archive) == "Loaded image: big:1\n"
    assert berth.out("image", "inspect", "-f", "{{.Id}}", "big:1").strip() == iid
    check_consistent(berth.root)
    up = json.loads(berth.out("image", "inspect", "big:1"))[0]["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.getsize(os.path.join(up, "big.bin")) == size


def test_parallel_load_tag_rmi(berth):
    bb = os.path.join(FIXTURES, "busybox-docker-save.tar")
    lay = os.path.join(FIXTURES, "layers-docker-save.tar")
    two = os.path.join(FIXTURES, "two-images-docker-save.tar")
    berth.run("load", "-i", bb)
    cmds = [
        ("load", "-i", bb), ("load", "-i", lay), ("load", "-i", two),
        ("tag", "busybox", "t1:x"), ("tag", "busybox", "t2:x"),
        ("rmi", "fixture/layers:1"), ("rmi", "t1:x"), ("load", "-i", lay),
    ]
    for _ in range(3):
        procs = [subprocess.Popen(berth.cmd(*c), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for c in cmds]
        for c, p in zip(cmds, procs):
            out, err = p.communicate(timeout=120)
            err = err.decode()
            if p.returncode != 0:
                # only "the image is not there (yet/any more)" may happen
                assert c[0] in ("rmi", "tag") and "No such image" in err, (c, err)
        check_consistent(berth.root)
    berth.run("load", "-i", two)
    tags = set(berth.out("images", "--format", "{{.Repository}}:{{.Tag}}").split())
    assert {"busybox:latest", "fixture/layers:1", "t2:x"} <= tags
    for t in list(tags):
        if t != "<none>:<none>":
            berth.run("rmi", "-f", t)
    berth.run("image", "prune", "-a", "-f")
    check_consistent(berth.root)
    assert os.listdir(os.path.join(berth.root, "layers")) == []


def _waiting_for_lock(pid):
    """True when pid is blocked in flock (a "->" line of /proc/locks)."""
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            if "->" in parts:
                i = parts.index("->")
                if len(parts) > i + 4 and parts[i + 4] == str(pid):
                    return True
    return False


def _proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("fixture", ["layers-docker-save.tar", "layers-oci-archive.tar"])
def test_load_survives_rmi_of_its_existing_layers(berth, fixture):
    """The race of `load` with `rmi`, made deterministic: load of an image
    whose layers are stored reads the archive, then waits for the store
    lock (held here) to commit; we stop it there, rmi the image (its
    layers and blobs go), and let it go on: the load must still succeed,
    from what it staged, and leave a consistent store."""
    archive = os.path.join(FIXTURES, fixture)
    berth.run("load", "-i", archive)
    iid = berth.out("image", "inspect", "-f", "{{.Id}}", "fixture/layers:1").strip()
    lock = os.path.join(berth.runroot, "store.lock")
    # the same steps each round (3, not 8: all of them are deterministic)
    for _ in range(3):
        load = None
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            load = subprocess.Popen(berth.cmd("load", "-i", archive), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while not _waiting_for_lock(load.pid):
                assert load.poll() is None, load.communicate()
                assert time.monotonic() < deadline, "load never waited for the store lock"
                time.sleep(0.005)
            os.kill(load.pid, signal.SIGSTOP)
            # stopped, it is no waiter any more: the lock goes to rmi
            while _proc_state(load.pid) != "T":
                assert time.monotonic() < deadline, "load did not stop"
                time.sleep(0.005)
            fcntl.flock(fd, fcntl.LOCK_UN)
            out = berth.out("rmi", "fixture/layers:1")
            assert "Deleted: " + iid in out
            assert os.listdir(os.path.join(berth.root, "layers")) == []
            os.kill(load.pid, signal.SIGCONT)
            out, err = load.communicate(timeout=120)
            assert load.returncode == 0, err.decode()
            assert out.decode() == "Loaded image: fixture/layers:1\n"
        finally:
            os.close(fd)
            if load and load.poll() is None:
                load.kill()
                load.wait()
        assert berth.out("image", "inspect", "-f", "{{.Id}}", "fixture/layers:1").strip() == iid
        check_consistent(berth.root)
        assert os.listdir(os.path.join(berth.root, "tmp")) == []
    berth.run("rmi", "fixture/layers:1")
    check_consistent(berth.root)
    assert os.listdir(os.path.join(berth.root, "layers")) == []


def test_wal_stays_short_across_commands(busybox):
    """Every berth command is a new SQLite connection, the first one since
    the last command closed: SQLite then rebuilds the WAL index by reading
    the whole WAL, and its own autocheckpoint never lets that WAL start
    over. The writer that leaves 128 frames or more empties it on close, so
    a read-only command reads at most about that much."""
    wal = os.path.join(busybox.root, "berth.db-wal")
    sizes = []
    for i in range(120):
        busybox.run("tag", "busybox", "t%d:x" % i)
        sizes.append(os.path.getsize(wal) if os.path.exists(wal) else 0)
    frame = 24 + 4096  # page size 4096
    assert max(sizes) <= 32 + (128 + 32) * frame, sizes
    assert any(b < a for a, b in zip(sizes, sizes[1:])), "never emptied: %s" % sizes
    tags = busybox.out("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert len(tags) == 121 and "t119:x" in tags


def test_parallel_first_commands_on_a_new_root(tmp_path):
    """Commands started together on a new root all work: they all find the
    rollback journal and switch to WAL (two switching at once made one fail
    with "database is locked"), and create the tables (one whose first
    look missed a table another had just made said "reading schema
    version: not an error"). Seen in test_parallel_pull_load_rmi."""
    for i in range(10):
        b = Berth(str(tmp_path / ("r%d" % i)), str(tmp_path / ("u%d" % i)))
        procs = [subprocess.Popen(b.cmd(*c), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for c in [("images",), ("ps", "-a"), ("volume", "ls"), ("images", "-q")] * 2]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
        with sqlite3.connect(os.path.join(b.root, "berth.db")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
